"""Users, groups with roles, and API tokens: the users service's commands and queries.

Functions take an open session and the caller; every change is recorded through the event
store, which also updates the tables. The service entrypoints and the CLI share them.
"""
import hashlib
import hmac
import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from svckit import config
from svckit.bulk import lock_rows
from svckit.context import PERMISSIONS, ROLE_NAMES, Caller
from svckit.errors import ApiError, AuthenticationFailed, NotFound, ValidationFailed
from svckit.events import utcnow
from svckit.fields import INT32_MAX

from . import ruleset_data
from .models import groups, login_failures, memberships, owners, store, tokens, users
from .passwords import check_password, hash_password, validate_password

TOKEN_DAYS = 365
_HTML_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# ---------------------------------------------------------------- roles

def normalise_roles(roles) -> dict[str, list[str]]:
    """Validate a `{"role": ["perm", ...]}` object and apply InvenTree's implications:
    add or delete imply change, any permission implies view."""
    if roles is None:
        return {}
    if not isinstance(roles, dict):
        raise ValidationFailed({"roles": ["Roles must be an object of role names to permissions"]})
    result = {}
    for role, perms in roles.items():
        if role not in ROLE_NAMES:
            raise ValidationFailed({"roles": [f"Unknown role '{role}'"]})
        if isinstance(perms, str):
            perms = [perms]
        if not isinstance(perms, list) or any(p not in PERMISSIONS for p in perms):
            raise ValidationFailed({"roles": [f"Invalid permissions for role '{role}': "
                                              f"choose from {', '.join(PERMISSIONS)}"]})
        granted = set(perms)
        if granted & {"add", "delete"}:
            granted.add("change")
        if granted:
            granted.add("view")
        if granted:
            result[role] = [p for p in PERMISSIONS if p in granted]
    return result


def user_roles(session, user: dict) -> dict[str, list[str]]:
    if user["is_superuser"]:
        return {role: list(PERMISSIONS) for role in ROLE_NAMES}
    rows = session.execute(select(groups.c.roles).join(
        memberships, memberships.c.group_id == groups.c.id)
        .where(memberships.c.user_id == user["id"])).scalars().all()
    merged: dict[str, set] = {}
    for roles in rows:
        for role, perms in roles.items():
            merged.setdefault(role, set()).update(perms)
    return {r: [p for p in PERMISSIONS if p in merged[r]] for r in ROLE_NAMES if merged.get(r)}


def caller_for(session, user: dict, request_id: str = "") -> Caller:
    data = {"user_id": user["id"], "username": user["username"],
            "first_name": user["first_name"], "last_name": user["last_name"],
            "email": user["email"], "is_staff": user["is_staff"],
            "is_superuser": user["is_superuser"], "roles": user_roles(session, user)}
    if request_id:
        data["request_id"] = request_id
    return Caller(**data)


DJANGO_PERMS = ("add", "change", "delete", "view")  # the order Django creates them in


def _all_tables() -> list[str]:
    seen = {}
    for tables in ruleset_data.RULESET_MODELS.values():
        seen.update(dict.fromkeys(tables))
    seen.update(dict.fromkeys(ruleset_data.RULESET_IGNORE))
    return list(seen)


def permissions_map(roles: dict[str, list[str]], superuser: bool = False) -> dict:
    """Django permissions granted by roles, as InvenTree reports them: `{model: [perm...]}`
    (each role grants its permissions on every table InvenTree lists under it; a superuser
    holds every permission on every model)."""
    if superuser:
        return {ruleset_data.split_table(t)[1]: list(DJANGO_PERMS) for t in _all_tables()}
    granted: dict[str, set] = {}
    for role, perms in roles.items():
        for table in ruleset_data.RULESET_MODELS.get(role, ()):
            granted.setdefault(ruleset_data.split_table(table)[1], set()).update(perms)
    return {model: [p for p in DJANGO_PERMS if p in perms] for model, perms in granted.items()}


def roles_document(session, user: dict) -> dict:
    """`GET /api/user/roles/`: all ten roles in order, null where the user has none."""
    granted = user_roles(session, user)
    permissions = permissions_map(granted, user["is_superuser"])
    return {"user": user["id"], "username": user["username"],
            "roles": {role: granted.get(role) for role in ROLE_NAMES},
            "permissions": permissions,
            "is_staff": user["is_staff"], "is_superuser": user["is_superuser"]}


# ---------------------------------------------------------------- users

def get_user(session, user_id: int) -> dict:
    row = session.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def staff_user_ids(session) -> list[int]:
    return list(session.execute(select(users.c.id).where(
        users.c.is_staff.is_(True), users.c.is_active.is_(True)).order_by(users.c.id)).scalars())


def find_user(session, username: str) -> dict | None:
    row = session.execute(select(users).where(users.c.username == username)).mappings().first()
    return dict(row) if row else None


def user_briefs(session, pks: list[int]) -> dict:
    """`{pk, username, first_name, last_name, email}` by pk (InvenTree's UserSerializer),
    for services whose rows name a user."""
    rows = session.execute(select(users.c.id, users.c.username, users.c.first_name,
                                  users.c.last_name, users.c.email)
                           .where(users.c.id.in_(pks))).mappings()
    return {row["id"]: {"pk": row["id"], "username": row["username"],
                        "first_name": row["first_name"], "last_name": row["last_name"],
                        "email": row["email"]} for row in rows}


def user_repr(session, user: dict) -> dict:
    member_of = session.execute(select(groups.c.id, groups.c.name).join(
        memberships, memberships.c.group_id == groups.c.id)
        .where(memberships.c.user_id == user["id"]).order_by(groups.c.id)).all()
    return {"pk": user["id"], "username": user["username"], "first_name": user["first_name"],
            "last_name": user["last_name"], "email": user["email"],
            "groups": [{"pk": g, "name": n} for g, n in member_of],
            "is_staff": user["is_staff"], "is_superuser": user["is_superuser"],
            "is_active": user["is_active"]}


def create_user(session, caller: Caller, *, username: str, password: str | None, email="",
                first_name="", last_name="", is_staff=False, is_superuser=False,
                is_active=True, group_ids=(), welcome=False) -> dict:
    username = (username or "").strip()
    if not username:
        raise ValidationFailed({"username": ["This field may not be blank."]})
    if not re.fullmatch(r"[\w.@+-]{1,150}", username):
        raise ValidationFailed({"username": [
            "Enter a valid username. This value may contain only letters, numbers, "
            "and @/./+/-/_ characters."]})
    if find_user(session, username):
        raise ValidationFailed({"username": ["A user with that username already exists."]})
    if password:
        problems = validate_password(password, username, first_name, last_name, email)
        if problems:
            raise ValidationFailed({"password": problems})
    group_ids = existing_group_ids(session, group_ids)
    uid = store.next_stream_id(session, "user")
    store.record(session, "user", uid, "user.created", {
        "username": username, "email": email, "first_name": first_name, "last_name": last_name,
        "password": hash_password(password) if password else "",
        "is_staff": bool(is_staff or is_superuser), "is_superuser": bool(is_superuser),
        "is_active": bool(is_active), **({"welcome": True} if welcome else {})}, caller)
    if group_ids:
        store.record(session, "user", uid, "user.groups_changed", {"groups": group_ids}, caller)
    _create_owner(session, caller, "user", uid, username)
    return get_user(session, uid)


def existing_group_ids(session, value) -> list[int]:
    """A list of group pks, each of an existing group (DRF's messages otherwise)."""
    if not isinstance(value, (list, tuple)):
        raise ValidationFailed({"groups": ['Expected a list of items but got type '
                                           f'"{type(value).__name__}".']})
    ids = []
    for item in value:
        text = str(item).strip()
        if isinstance(item, (bool, float)) or not text.isascii() or not text.isdigit():
            raise ValidationFailed({"groups": [
                f"Incorrect type. Expected pk value, received {type(item).__name__}."]})
        if len(text) > 10 or int(text) > INT32_MAX:  # beyond the id column: no such group
            raise ValidationFailed({"groups": [f'Invalid pk "{text[:40]}" - object does not exist.']})
        gid = int(text)
        if session.execute(select(groups.c.id).where(groups.c.id == gid)).first() is None:
            raise ValidationFailed({"groups": [f'Invalid pk "{gid}" - object does not exist.']})
        if gid not in ids:
            ids.append(gid)
    return ids


def set_password(session, caller: Caller, user_id: int, password: str):
    """A new password for the user, checked against the user as it is now (read under the
    user's lock)."""
    user, version = store.load_for_update(session, "user", user_id, get_user)
    problems = validate_password(password, user["username"], user["first_name"],
                                 user["last_name"], user["email"])
    if problems:
        raise ValidationFailed({"password": problems})
    store.record(session, "user", user_id, "user.password_changed",
                 {"password": hash_password(password)}, caller, version + 1)


THROTTLED = "Too many failed login attempts. Try again in {} seconds."


def throttle_limits(username: str, address: str) -> list[tuple[int, object]]:
    """(limit, condition) of the login throttle: failures of this name from this address,
    of this name from anywhere (much higher: it only slows a distributed guesser), and of
    this address for any name."""
    name = login_failures.c.username == username[:150]
    origin = login_failures.c.address == address[:64]
    return [(config.setting("LOGIN_THROTTLE_ATTEMPTS", 5, int), name & origin),
            (config.setting("LOGIN_THROTTLE_NAME_ATTEMPTS", 100, int), name),
            (config.setting("LOGIN_THROTTLE_ADDRESS_ATTEMPTS", 50, int), origin)]


def throttled(session, username: str, address: str = "") -> int:
    """Seconds until `username` may be tried again from `address` (0: may now). A limit is
    reached when that many failures happened within LOGIN_THROTTLE_SECONDS; it frees up as
    they age. Counted per name given, so it reveals nothing about which accounts exist; and
    per address, so a stranger's failures do not lock the name for everyone else."""
    window = config.setting("LOGIN_THROTTLE_SECONDS", 900, int)
    since = utcnow() - timedelta(seconds=window)
    wait = 0
    for limit, condition in throttle_limits(username, address):
        if limit < 1:
            continue
        oldest = session.execute(select(login_failures.c.at).where(
            condition, login_failures.c.at >= since).order_by(login_failures.c.at.desc())
            .offset(limit - 1).limit(1)).scalar()
        if oldest is not None:
            wait = max(wait, 1, int((oldest - since).total_seconds()))
    return wait


def record_login_failure(session, username: str, address: str = "", request_id: str = ""):
    pk = store.next_stream_id(session, "login_failure")
    store.record(session, "login_failure", pk, "login.failed",
                 {"username": username[:150], "address": address[:64]},
                 Caller(username=username[:150], request_id=request_id))


def authenticate_password(session, username: str, password: str, address: str = "") -> dict:
    """The active user with this name and password; throttled by name and client address."""
    wait = throttled(session, username, address)
    if wait:
        raise ApiError({"detail": THROTTLED.format(wait)}, 429)
    user = find_user(session, username)
    if user is None:
        hash_password(password)  # same work either way: timing does not reveal accounts
        raise AuthenticationFailed("Invalid username/password.")
    if not check_password(password, user["password"]) or not user["is_active"]:
        raise AuthenticationFailed("Invalid username/password.")
    return user


# ---------------------------------------------------------------- groups

def create_group(session, caller: Caller, name: str, roles=None) -> dict:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": ["This field may not be blank."]})
    if session.execute(select(groups.c.id).where(groups.c.name == name)).first():
        raise ValidationFailed({"name": ["group with this name already exists."]})
    gid = store.next_stream_id(session, "group")
    store.record(session, "group", gid, "group.created",
                 {"name": name, "roles": normalise_roles(roles)}, caller)
    _create_owner(session, caller, "group", gid, name)
    return {"pk": gid, "name": name, "roles": normalise_roles(roles)}


# ---------------------------------------------------------------- owners

def _create_owner(session, caller, owner_type: str, owner_id: int, name: str):
    """Every user and group is an owner (what `responsible` fields point at)."""
    pk = store.next_stream_id(session, "owner")
    store.record(session, "owner", pk, "owner.created",
                 {"owner_type": owner_type, "owner_id": owner_id, "name": name}, caller)


def owner_repr(row) -> dict:
    return {"pk": row["id"], "owner_id": row["owner_id"], "name": row["name"],
            "label": row["owner_type"]}


def list_owners(session, params: dict) -> list[dict]:
    """Owners in pk order; `search`: every term a substring of the lower-cased name;
    `is_active`: drops user owners whose user differs (group owners always kept)."""
    from svckit.listing import bool_param, search_terms
    rows = session.execute(select(owners, users.c.is_active).outerjoin(
        users, (owners.c.owner_type == "user") & (users.c.id == owners.c.owner_id))
        .order_by(owners.c.id)).mappings().all()
    terms = [t.lower() for t in search_terms(params.get("search", ""))]
    active = bool_param(params, "is_active")
    out = []
    for row in rows:
        if not all(t in row["name"].lower() for t in terms):
            continue
        if active is not None and row["owner_type"] == "user" and row["is_active"] != active:
            continue
        out.append(owner_repr(row))
    return out


def get_owners(session, pks: list[int]) -> dict:
    rows = session.execute(select(owners).where(owners.c.id.in_(pks))).mappings().all()
    return {row["id"]: owner_repr(row) for row in rows}


# ---------------------------------------------------------------- tokens

def _token_secret() -> bytes:
    value = config.setting("USERS_TOKEN_SECRET")
    if value:
        return value.encode()
    path = Path(config.data_dir()) / "users-token-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def token_key(nonce: str, created: datetime) -> str:
    """InvenTree's format `inv-<40 hex>-<YYYYMMDD>`, derived from a server secret and the
    token's nonce: the database holds only a hash of the key, yet the same key can be
    handed out again (as `GET /api/user/token/` does for a live token of the same name)."""
    digest = hmac.new(_token_secret(), nonce.encode(), hashlib.sha256).hexdigest()[:40]
    return f"inv-{digest}-{created:%Y%m%d}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def sanitise_token_name(name) -> str:
    name = str(name or "").strip()
    if _HTML_TAG.search(name):
        raise ValidationFailed({"non_field_errors": ["Remove HTML tags from this value"]})
    name = "".join(ch for ch in _CONTROL.sub("", name) if ch.isprintable() or ch == " ")
    return name.replace(" ", "-")[:100]


def token_for(session, caller: Caller, user: dict, name: str, meta: dict) -> dict:
    """Reuse the user's live token of this name, or issue a new one."""
    name = sanitise_token_name(name)
    today = date.today()
    row = session.execute(select(tokens).where(
        tokens.c.user_id == user["id"], tokens.c.name == name, tokens.c.revoked.is_(False),
        tokens.c.expiry >= today).order_by(tokens.c.id)).mappings().first()
    if row is None:
        nonce = secrets.token_hex(16)
        created = datetime.utcnow()
        key = token_key(nonce, created)
        tid = store.next_stream_id(session, "token")
        store.record(session, "token", tid, "token.issued", {
            "user_id": user["id"], "name": name, "key_hash": key_hash(key), "nonce": nonce,
            "expiry": (today + timedelta(days=TOKEN_DAYS)).isoformat(), "last_seen": None,
            "meta": meta}, caller)
        row = session.execute(select(tokens).where(tokens.c.id == tid)).mappings().one()
    key = token_key(row["nonce"], row["created"])
    return {"token": key, "name": row["name"], "expiry": row["expiry"].isoformat()}


def authenticate_token(session, key: str, request_id: str = "") -> tuple[Caller, int]:
    row = session.execute(select(tokens).where(tokens.c.key_hash == key_hash(key))
                          ).mappings().first()
    if row is None:
        raise AuthenticationFailed("Invalid token.")
    if row["revoked"]:
        raise AuthenticationFailed("Token has been revoked")
    if row["expiry"] < date.today():
        raise AuthenticationFailed("Token has expired")
    user = get_user(session, row["user_id"])
    if not user["is_active"]:
        raise AuthenticationFailed("User inactive or deleted.")
    return caller_for(session, user, request_id), row


def redact(key: str) -> str:
    return key[:8] + "*" * (len(key) - 20) + key[-12:]


def list_tokens(session, caller: Caller, current_token_id: int | None) -> list[dict]:
    """The caller's own tokens, revoked and expired ones included; keys redacted."""
    today = date.today()
    rows = session.execute(select(tokens).where(tokens.c.user_id == caller.user_id)
                           .order_by(tokens.c.id)).mappings().all()
    return [{"created": f"{r['created']:%Y-%m-%d %H:%M}", "expiry": r["expiry"].isoformat(),
             "id": r["id"], "last_seen": r["last_seen"].isoformat() if r["last_seen"] else None,
             "name": r["name"], "token": redact(token_key(r["nonce"], r["created"])),
             "active": not r["revoked"] and r["expiry"] >= today, "revoked": r["revoked"],
             "user": r["user_id"], "in_use": r["id"] == current_token_id} for r in rows]


def revoke_tokens(session, caller: Caller, user_id: int, keep: int | None = None):
    """Revoke every live token of a user but `keep`."""
    live = (tokens.c.user_id == user_id) & tokens.c.revoked.is_(False)
    if keep is not None:
        live &= tokens.c.id != keep

    for pk in lock_rows(session, store, "token", tokens, live):
        store.record(session, "token", pk, "token.revoked", {"user_id": user_id}, caller)


def _own_token(caller: Caller):
    def load(session, token_id) -> dict:
        row = session.execute(select(tokens).where(tokens.c.id == token_id,
                                                   tokens.c.user_id == caller.user_id)
                              ).mappings().first()
        if row is None:
            raise NotFound()
        return dict(row)
    return load


def revoke_token(session, caller: Caller, token_id: int) -> dict:
    row, version = store.load_for_update(session, "token", token_id, _own_token(caller))
    if not row["revoked"]:
        store.record(session, "token", token_id, "token.revoked",
                     {"user_id": row["user_id"]}, caller, version + 1)
    return row


def mark_token_seen(session, caller: Caller, token_id: int):
    """Record today as the token's last use, once a day (a token gone meanwhile is left
    alone)."""
    def load(s, pk):
        return s.execute(select(tokens.c.last_seen).where(tokens.c.id == pk)).first()

    row, version = store.load_for_update(session, "token", token_id, load)
    today = date.today()
    if row is not None and row.last_seen != today:
        store.record(session, "token", token_id, "token.seen",
                     {"last_seen": today.isoformat()}, caller, version + 1)
