"""Sessions belong to their user: which sessions, and so which column mappings, rows and
data files, a caller sees (staff see all; InvenTree 264 had no ownership check at all)."""
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound
from svckit.listing import get_by_id

from .models import sessions


def get_session(s, pk: int) -> dict:
    return get_by_id(s, sessions, pk)


def mine(caller: Caller, stmt, session_column):
    """`stmt` narrowed to rows of sessions the caller may see (`session_column`: the
    session id column of the statement's table)."""
    if caller.is_admin:
        return stmt
    if session_column is sessions.c.id:
        return stmt.where(sessions.c.user_id == caller.user_id)
    return stmt.where(session_column.in_(
        select(sessions.c.id).where(sessions.c.user_id == caller.user_id)))


def visible_session(s, caller: Caller, pk: int) -> dict:
    """The session, or 404 (as if it did not exist) when it is not the caller's."""
    session = get_session(s, pk)
    if not caller.is_admin and session["user_id"] != caller.user_id:
        raise NotFound()
    return session
