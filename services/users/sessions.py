"""Browser sessions (cookie `sessionid` with a CSRF secret).

Keys are random and stored only as hashes; a session lasts `SESSION_DAYS` (14).
"""
import secrets
from datetime import timedelta

from sqlalchemy import select

from svckit.bulk import lock_rows
from svckit.context import Caller
from svckit.events import utcnow

from . import events
from .keys import key_hash
from .models import sessions, store


def start(session, caller: Caller, user_id: int, days: int) -> dict:
    """A session of `user_id` lasting `days` (SESSION_DAYS)."""
    key, csrf = secrets.token_urlsafe(32), secrets.token_hex(16)
    pk = store.next_stream_id(session, "session")
    expires = utcnow() + timedelta(days=days)
    store.record(session, "session", pk, events.SESSION_STARTED, {
        "key_hash": key_hash(key), "user_id": user_id, "csrf_token": csrf,
        "expires": expires.isoformat()}, caller)
    return {"session": key, "csrf": csrf, "session_id": pk,
            "max_age": int((expires - utcnow()).total_seconds())}


def find_live(session, key: str) -> dict | None:
    """The live session behind a cookie value, or None (an unknown cookie is no login)."""
    row = session.execute(select(sessions).where(sessions.c.key_hash == key_hash(key or ""))
                          ).mappings().first()
    if row is None or row["ended"] or row["expires"] < utcnow():
        return None
    return dict(row)


def _session_row(session, pk):
    return session.execute(select(sessions).where(sessions.c.id == pk)).mappings().first()


def end(session, caller: Caller, session_id: int):
    row, version = store.load_for_update(session, "session", session_id, _session_row)
    if row is not None and not row["ended"]:
        store.record(session, "session", session_id, events.SESSION_ENDED,
                     {"user_id": row["user_id"]}, caller, version + 1)


def end_others(session, caller: Caller, user_id: int, keep: int | None = None):
    """End every live session of a user but `keep` (after a password change, as Django's
    session hash check does)."""
    live = ((sessions.c.user_id == user_id) & sessions.c.ended.is_(False)
            & (sessions.c.expires >= utcnow()))
    if keep is not None:
        live &= sessions.c.id != keep

    for pk in lock_rows(session, store, "session", sessions, live):
        store.record(session, "session", pk, events.SESSION_ENDED, {"user_id": user_id},
                     caller)
