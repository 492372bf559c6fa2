"""One-time login links mailed to a user (`/api/email/generate/`, `/api/email/login/`).

Keys are random and stored only as hashes; a link lasts `MAGIC_LINK_SECONDS` (300) and
works once.
"""
import secrets
from datetime import timedelta

from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import PermissionDenied
from svckit.events import utcnow

from . import events, sessions, users
from .keys import key_hash
from .models import magic_links, store

REFUSED = "Invalid or expired login link."


def issue(session, caller: Caller, email: str, seconds: int) -> dict | None:
    """A login key, valid for `seconds` (MAGIC_LINK_SECONDS), for the one active user with
    this address; None otherwise (the caller must not reveal which)."""
    email = (email or "").strip()
    user = users.find_by_email(session, email) if email else None
    if user is None:
        return None
    key = secrets.token_urlsafe(32)
    pk = store.next_stream_id(session, "magic_link")
    expires = utcnow() + timedelta(seconds=seconds)
    store.record(session, "magic_link", pk, events.MAGIC_LINK_ISSUED, {
        "key_hash": key_hash(key), "user_id": user["id"], "expires": expires.isoformat()},
        caller)
    return {"key": key, "username": user["username"], "email": email}


def _link_row(session, pk):
    return session.execute(select(magic_links).where(magic_links.c.id == pk)).mappings().first()


def use(session, caller: Caller, key: str, session_days: int) -> dict | None:
    """Sign in with a magic link, once: two requests with one link get one session. None
    if the link is unknown, used or expired, or its user is no longer active (the link is
    spent all the same)."""
    found = session.execute(select(magic_links.c.id).where(
        magic_links.c.key_hash == key_hash(key or ""))).scalar()
    if found is None:
        return None
    row, version = store.load_for_update(session, "magic_link", found, _link_row)
    if row is None or row["used"] or row["expires"] < utcnow():
        return None
    store.record(session, "magic_link", row["id"], events.MAGIC_LINK_USED, {}, caller,
                 version + 1)
    if not users.get_user(session, row["user_id"])["is_active"]:
        return None
    return sessions.start(session, caller, row["user_id"], session_days)


def render(started: dict | None) -> dict:
    """The session a link started, or 403; raised once the unit of work has committed, so
    that a link refused to a user no longer active stays spent."""
    if started is None:
        raise PermissionDenied(REFUSED)
    return started
