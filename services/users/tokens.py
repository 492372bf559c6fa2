"""API tokens (`/api/user/token/`, `/api/user/tokens/`): keys in InvenTree's format,
derived from a server secret and stored only as hashes; a token lasts a year."""
import hmac
import re
import secrets
from datetime import date, datetime, timedelta
from hashlib import sha256

from sqlalchemy import select

from svckit.bulk import lock_rows
from svckit.context import Caller
from svckit.errors import AuthenticationFailed, NotFound, ValidationFailed

from . import events, users
from .keys import key_hash
from .models import store, tokens

TOKEN_DAYS = 365
_HTML_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def token_key(secret: bytes, nonce: str, created: datetime) -> str:
    """InvenTree's format `inv-<40 hex>-<YYYYMMDD>`, derived from the server `secret`
    (UsersSettings.token_secret) and the token's nonce: the database holds only a hash of
    the key, yet the same key can be handed out again (as `GET /api/user/token/` does for a
    live token of the same name)."""
    digest = hmac.new(secret, nonce.encode(), sha256).hexdigest()[:40]
    return f"inv-{digest}-{created:%Y%m%d}"


def sanitise_token_name(name) -> str:
    name = str(name or "").strip()
    if _HTML_TAG.search(name):
        raise ValidationFailed({"non_field_errors": ["Remove HTML tags from this value"]})
    name = "".join(ch for ch in _CONTROL.sub("", name) if ch.isprintable() or ch == " ")
    return name.replace(" ", "-")[:100]


def _issue(session, caller: Caller, user_id: int, name: str, expiry: date, meta: dict,
           secret: bytes):
    """A new token row (its event recorded) for a sanitised `name`."""
    nonce = secrets.token_hex(16)
    key = token_key(secret, nonce, datetime.utcnow())
    tid = store.next_stream_id(session, "token")
    store.record(session, "token", tid, events.TOKEN_ISSUED, {
        "user_id": user_id, "name": name, "key_hash": key_hash(key), "nonce": nonce,
        "expiry": expiry.isoformat(), "last_seen": None, "meta": meta}, caller)
    return session.execute(select(tokens).where(tokens.c.id == tid)).mappings().one()


def _shown(row, secret: bytes) -> dict:
    return {"token": token_key(secret, row["nonce"], row["created"]), "name": row["name"],
            "expiry": row["expiry"].isoformat()}


def token_for(session, caller: Caller, user_id: int, name: str, meta: dict,
              secret: bytes) -> dict:
    """Reuse the user's live token of this name, or issue a new one."""
    name = sanitise_token_name(name)
    today = date.today()
    row = session.execute(select(tokens).where(
        tokens.c.user_id == user_id, tokens.c.name == name, tokens.c.revoked.is_(False),
        tokens.c.expiry >= today).order_by(tokens.c.id)).mappings().first()
    if row is None:
        row = _issue(session, caller, user_id, name, today + timedelta(days=TOKEN_DAYS), meta,
                     secret)
    return _shown(row, secret)


def chosen_expiry(value) -> date:
    """A token's expiry as asked for: a date after today, at most TOKEN_DAYS ahead; none
    (null or empty) is the default, TOKEN_DAYS ahead."""
    today = date.today()
    if value is None or value == "":
        return today + timedelta(days=TOKEN_DAYS)
    try:
        expiry = date.fromisoformat(str(value)) if isinstance(value, str) else None
    except ValueError:
        expiry = None
    if expiry is None:
        raise ValidationFailed({"expiry": [
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]})
    if expiry <= today:
        raise ValidationFailed({"expiry": ["The expiry date must be in the future."]})
    if expiry > today + timedelta(days=TOKEN_DAYS):
        raise ValidationFailed({"expiry": [
            f"The expiry date may be at most {TOKEN_DAYS} days ahead."]})
    return expiry


def new_token(session, caller: Caller, data: dict, meta: dict, secret: bytes) -> dict:
    """`POST /api/user/tokens/` `{"name", "expiry"}`: always a new token of the caller's,
    whose key is answered this once (`GET /api/user/token/` hands out a live token of the
    same name again, as InvenTree does)."""
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    user_id = users.get_user(session, caller.user_id)["id"]
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ValidationFailed({"name": ["Not a valid string."]})
    try:
        name = sanitise_token_name(name)
    except ValidationFailed as exc:
        raise ValidationFailed({"name": exc.detail["non_field_errors"]})
    row = _issue(session, caller, user_id, name, chosen_expiry(data.get("expiry")), meta,
                 secret)
    return {"id": row["id"], **_shown(row, secret)}


def own_token(session, caller: Caller, name: str, meta: dict, secret: bytes) -> dict:
    """`GET /api/user/token/`: the caller's token of this name (NotFound for a user gone)."""
    return token_for(session, caller, users.get_user(session, caller.user_id)["id"], name,
                     meta, secret)


def valid_token(session, key: str) -> dict:
    """The token row of a key, or AuthenticationFailed saying why it is no good."""
    row = session.execute(select(tokens).where(tokens.c.key_hash == key_hash(key))
                          ).mappings().first()
    if row is None:
        raise AuthenticationFailed("Invalid token.")
    if row["revoked"]:
        raise AuthenticationFailed("Token has been revoked")
    if row["expiry"] < date.today():
        raise AuthenticationFailed("Token has expired")
    return dict(row)


def redact(key: str) -> str:
    return key[:8] + "*" * (len(key) - 20) + key[-12:]


def list_tokens(session, caller: Caller, current_token_id: int | None,
                secret: bytes) -> list[dict]:
    """The caller's own tokens, revoked and expired ones included; keys redacted."""
    today = date.today()
    rows = session.execute(select(tokens).where(tokens.c.user_id == caller.user_id)
                           .order_by(tokens.c.id)).mappings().all()
    return [{"created": f"{r['created']:%Y-%m-%d %H:%M}", "expiry": r["expiry"].isoformat(),
             "id": r["id"], "last_seen": r["last_seen"].isoformat() if r["last_seen"] else None,
             "name": r["name"], "token": redact(token_key(secret, r["nonce"], r["created"])),
             "active": not r["revoked"] and r["expiry"] >= today, "revoked": r["revoked"],
             "user": r["user_id"], "in_use": r["id"] == current_token_id} for r in rows]


def revoke_all(session, caller: Caller, user_id: int, keep: int | None = None):
    """Revoke every live token of a user but `keep`."""
    live = (tokens.c.user_id == user_id) & tokens.c.revoked.is_(False)
    if keep is not None:
        live &= tokens.c.id != keep

    for pk in lock_rows(session, store, "token", tokens, live):
        store.record(session, "token", pk, events.TOKEN_REVOKED, {"user_id": user_id}, caller)


def _own_token(caller: Caller):
    def load(session, token_id) -> dict:
        row = session.execute(select(tokens).where(tokens.c.id == token_id,
                                                   tokens.c.user_id == caller.user_id)
                              ).mappings().first()
        if row is None:
            raise NotFound()
        return dict(row)
    return load


def revoke(session, caller: Caller, token_id: int):
    """Revoke one of the caller's own tokens (NotFound for anyone else's)."""
    row, version = store.load_for_update(session, "token", token_id, _own_token(caller))
    if not row["revoked"]:
        store.record(session, "token", token_id, events.TOKEN_REVOKED,
                     {"user_id": row["user_id"]}, caller, version + 1)


def mark_seen(session, caller: Caller, token_id: int):
    """Record today as the token's last use, once a day (a token gone meanwhile is left
    alone)."""
    def load(s, pk):
        return s.execute(select(tokens.c.last_seen).where(tokens.c.id == pk)).first()

    row, version = store.load_for_update(session, "token", token_id, load)
    today = date.today()
    if row is not None and row.last_seen != today:
        store.record(session, "token", token_id, events.TOKEN_SEEN,
                     {"last_seen": today.isoformat()}, caller, version + 1)
