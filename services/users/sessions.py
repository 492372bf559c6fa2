"""Browser sessions (cookie `sessionid` with a CSRF secret) and one-time magic login links.

Keys are random and stored only as hashes; a session lasts `SESSION_DAYS` (14), a magic
link `MAGIC_LINK_SECONDS` (300) and works once.
"""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select

from svckit import config
from svckit.bulk import lock_rows
from svckit.context import Caller
from svckit.events import utcnow

from .accounts import caller_for, get_user
from .models import magic_links, sessions, store, users


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start(session, caller: Caller, user: dict) -> dict:
    key, csrf = secrets.token_urlsafe(32), secrets.token_hex(16)
    pk = store.next_stream_id(session, "session")
    expires = utcnow() + timedelta(days=config.setting("SESSION_DAYS", 14, int))
    store.record(session, "session", pk, "session.started", {
        "key_hash": _hash(key), "user_id": user["id"], "csrf_token": csrf,
        "expires": expires.isoformat()}, caller)
    return {"session": key, "csrf": csrf, "session_id": pk,
            "max_age": int((expires - utcnow()).total_seconds())}


def authenticate(session, key: str, request_id: str = "") -> dict | None:
    """The live session behind a cookie value, or None (an unknown cookie is no login)."""
    row = session.execute(select(sessions).where(sessions.c.key_hash == _hash(key or ""))
                          ).mappings().first()
    if row is None or row["ended"] or row["expires"] < utcnow():
        return None
    user = get_user(session, row["user_id"])
    if not user["is_active"]:
        return None
    return {"caller": caller_for(session, user, request_id).model_dump(mode="json"),
            "session_id": row["id"], "csrf": row["csrf_token"]}


def _session_row(session, pk):
    return session.execute(select(sessions).where(sessions.c.id == pk)).mappings().first()


def end(session, caller: Caller, session_id: int):
    row, version = store.load_for_update(session, "session", session_id, _session_row)
    if row is not None and not row["ended"]:
        store.record(session, "session", session_id, "session.ended",
                     {"user_id": row["user_id"]}, caller, version + 1)


def end_others(session, caller: Caller, user_id: int, keep: int | None = None):
    """End every live session of a user but `keep` (after a password change, as Django's
    session hash check does)."""
    live = ((sessions.c.user_id == user_id) & sessions.c.ended.is_(False)
            & (sessions.c.expires >= utcnow()))
    if keep is not None:
        live &= sessions.c.id != keep

    for pk in lock_rows(session, store, "session", sessions, live):
        store.record(session, "session", pk, "session.ended", {"user_id": user_id}, caller)


def issue_magic_link(session, caller: Caller, email: str) -> dict | None:
    """A login key for the one active user with this address; None otherwise (the caller
    must not reveal which)."""
    email = (email or "").strip()
    if not email:
        return None
    found = session.execute(select(users).where(users.c.email == email,
                                                users.c.is_active.is_(True))).mappings().all()
    if len(found) != 1:
        return None
    key = secrets.token_urlsafe(32)
    pk = store.next_stream_id(session, "magic_link")
    expires = utcnow() + timedelta(seconds=config.setting("MAGIC_LINK_SECONDS", 300, int))
    store.record(session, "magic_link", pk, "magic_link.issued", {
        "key_hash": _hash(key), "user_id": found[0]["id"], "expires": expires.isoformat()},
        caller)
    return {"key": key, "username": found[0]["username"], "email": email}


def use_magic_link(session, caller: Caller, key: str) -> dict | None:
    """Sign in with a magic link, once: two requests with one link get one session."""
    found = session.execute(select(magic_links.c.id).where(
        magic_links.c.key_hash == _hash(key or ""))).scalar()
    if found is None:
        return None
    row, version = store.load_for_update(session, "magic_link", found, lambda s, pk: s.execute(
        select(magic_links).where(magic_links.c.id == pk)).mappings().first())
    if row is None or row["used"] or row["expires"] < utcnow():
        return None
    store.record(session, "magic_link", row["id"], "magic_link.used", {}, caller, version + 1)
    user = get_user(session, row["user_id"])
    if not user["is_active"]:
        return None
    return start(session, caller, user)
