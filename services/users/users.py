"""User accounts (`/api/user/`, `/api/user/me/`, `/api/auth/user/`): create, update,
activate, delete, and passwords (checked and hashed by passwords.py).

InvenTree 264's holes are closed (USERS.md §1-§2): a user may change their own account,
only staff other users', and only a superuser a superuser's; only superusers create users
or grant staff or superuser status; only staff change group membership.
"""
import re

from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from svckit.fields import Field, options_document, validate
from svckit.listing import bool_param, run_list

from . import events, groups, owners, sessions
from .models import store, users
from .passwords import hash_password, validate_password

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_CHANGE = "You do not have permission to change this user role."

USER_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "username": Field("string", "Username", "Username", required=True, max_length=150),
    "first_name": Field("string", "First Name", "First name of the user", required=True,
                        max_length=150, extra={"allow_blank": True}),
    "last_name": Field("string", "Last Name", "Last name of the user", required=True,
                       max_length=150, extra={"allow_blank": True}),
    "email": Field("email", "Email", "Email address of the user", required=True,
                   max_length=254, extra={"allow_blank": True}),
    "groups": Field("related field", "Groups", "The groups this user belongs to. A user will "
                    "get all permissions granted to each of their groups.", model="group",
                    api_url="/api/user/group/", extra={"many": True}),
    "is_staff": Field("boolean", "Staff", "Does this user have staff permissions"),
    "is_superuser": Field("boolean", "Superuser", "Is this user a superuser"),
    "is_active": Field("boolean", "Active", "Is this user account active", default=True),
    "password": Field("string", "Password", "Write only: sets the user's password",
                      max_length=128, extra={"write_only": True}),
}
USER_ORDERING = {n: users.c[n] for n in ("email", "username", "first_name", "last_name",
                                         "is_staff", "is_superuser", "is_active")}
USER_ORDERING["pk"] = users.c.id
USER_SEARCH = (users.c.first_name, users.c.last_name, users.c.username)
AUTH_USER_FIELDS = ("pk", "username", "email", "first_name", "last_name")

# ---------------------------------------------------------------- reading


def get_user(session, user_id: int) -> dict:
    row = session.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def find_user(session, username: str) -> dict | None:
    row = session.execute(select(users).where(users.c.username == username)).mappings().first()
    return dict(row) if row else None


def find_by_email(session, email: str) -> dict | None:
    """The one active user with this address; None if there is none, or several."""
    found = session.execute(select(users).where(users.c.email == email,
                                                users.c.is_active.is_(True))).mappings().all()
    return dict(found[0]) if len(found) == 1 else None


def staff_user_ids(session) -> list[int]:
    return list(session.execute(select(users.c.id).where(
        users.c.is_staff.is_(True), users.c.is_active.is_(True)).order_by(users.c.id)).scalars())


def briefs(session, caller: Caller, pks: list) -> dict:
    """`{pk, username, first_name, last_name, email}` by pk (InvenTree's UserSerializer;
    string keys, as an RPC answer has them), for services whose rows name a user. E-mail
    addresses only for staff callers (as in `/api/user/`; blank for others, their own
    included, so that one rendering serves every caller who is not staff)."""
    rows = session.execute(select(users.c.id, users.c.username, users.c.first_name,
                                  users.c.last_name, users.c.email)
                           .where(users.c.id.in_([int(p) for p in pks]))).mappings()
    return {str(row["id"]): {"pk": row["id"], "username": row["username"],
                             "first_name": row["first_name"], "last_name": row["last_name"],
                             "email": row["email"] if caller.is_admin else ""}
            for row in rows}


def user_repr(session, user: dict) -> dict:
    return {"pk": user["id"], "username": user["username"], "first_name": user["first_name"],
            "last_name": user["last_name"], "email": user["email"],
            "groups": groups.of_user(session, user["id"]),
            "is_staff": user["is_staff"], "is_superuser": user["is_superuser"],
            "is_active": user["is_active"]}


def shown_to(caller: Caller, doc: dict) -> dict:
    """A user's representation as `caller` may see it: other users' e-mail addresses only
    for staff (the field stays, empty, as InvenTree's schema requires it)."""
    if doc["pk"] != caller.user_id and not caller.is_admin:
        doc["email"] = ""
    return doc


def detail(session, caller: Caller, user_id: int) -> dict:
    return shown_to(caller, user_repr(session, get_user(session, user_id)))


def _ordering(caller: Caller) -> dict:
    """Ordering fields: by e-mail only for staff (an order would reveal hidden addresses)."""
    if caller.is_admin:
        return USER_ORDERING
    return {k: v for k, v in USER_ORDERING.items() if k != "email"}


def list_users(session, caller: Caller, params: dict) -> dict:
    stmt = select(users)
    for flag in ("is_staff", "is_active", "is_superuser"):
        value = bool_param(params, flag)
        if value is not None:
            stmt = stmt.where(users.c[flag].is_(value))
    return run_list(session, stmt, params, search=USER_SEARCH, ordering=_ordering(caller),
                    default_order=[users.c.id],
                    render=lambda row: shown_to(caller, user_repr(session, row)))


def options(caller: Caller, detail: bool) -> dict:
    """OPTIONS of the user list (POST for superusers) or a user (PUT)."""
    methods = ["PUT"] if detail else (["POST"] if caller.is_superuser else [])
    return options_document("User Detail" if detail else "User List", "", USER_FIELDS,
                            methods)

# ---------------------------------------------------------------- checks


def _clean_user(data, partial: bool) -> dict:
    if not isinstance(data, dict):
        raise ValidationFailed({"non_field_errors": [
            f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    fields = {k: f for k, f in USER_FIELDS.items() if k not in ("groups", "email")}
    errors = {}
    try:
        cleaned = validate(fields, {k: v for k, v in data.items() if k in fields},
                           partial=partial)
    except ValidationFailed as exc:
        cleaned, errors = {}, dict(exc.detail)
    if "email" in data:
        email = str(data["email"] or "").strip()
        if email and not _EMAIL.match(email):
            errors["email"] = ["Enter a valid email address."]
        cleaned["email"] = email
    elif not partial:
        errors["email"] = ["This field is required."]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _check_username(session, username: str, user_id: int | None = None):
    if not re.fullmatch(r"[\w.@+-]{1,150}", username):
        raise ValidationFailed({"username": [
            "Enter a valid username. This value may contain only letters, numbers, "
            "and @/./+/-/_ characters."]})
    clash = find_user(session, username)
    if clash and clash["id"] != user_id:
        raise ValidationFailed({"username": ["A user with that username already exists."]})


def _checked_hash(password: str, user: dict, rounds: int) -> str:
    """The hash of a new password that passes Django's checks against the user's names
    and address."""
    problems = validate_password(password, user["username"], user["first_name"],
                                 user["last_name"], user["email"])
    if problems:
        raise ValidationFailed({"password": problems})
    return hash_password(password, rounds)


def _check_role_change(caller: Caller, cleaned: dict, current: dict | None):
    """Only superusers grant or take away staff and superuser status; sending the current
    value back (as clients that save whole objects do) is no change."""
    if caller.is_superuser:
        return
    for flag in ("is_staff", "is_superuser"):
        if flag in cleaned and cleaned[flag] != (current[flag] if current else False):
            raise PermissionDenied(ROLE_CHANGE)


def _may_edit(caller: Caller, user: dict):
    """Self, or staff; a superuser only by a superuser (staff cannot take one over)."""
    if caller.user_id != user["id"] and not caller.is_admin:
        raise PermissionDenied()
    if user["is_superuser"] and not caller.is_superuser:
        raise PermissionDenied()

# ---------------------------------------------------------------- changing


def new_user(session, caller: Caller, *, rounds: int, username: str, password: str | None,
             email="", first_name="", last_name="", is_staff=False, is_superuser=False,
             is_active=True, group_ids=(), welcome=False) -> dict:
    """A user (and its owner), checked: the API's and the CLI's way in. `rounds`: of its
    password's hash (PASSWORD_ITERATIONS); `welcome`: the system service mails the new
    user."""
    username = (username or "").strip()
    if not username:
        raise ValidationFailed({"username": ["This field may not be blank."]})
    group_ids = groups.existing_ids(session, group_ids)
    _check_username(session, username)
    hashed = _checked_hash(password, {"username": username, "first_name": first_name,
                                      "last_name": last_name, "email": email},
                            rounds) if password else ""
    uid = store.next_stream_id(session, "user")
    store.record(session, "user", uid, events.USER_CREATED, {
        "username": username, "email": email, "first_name": first_name, "last_name": last_name,
        "password": hashed, "is_staff": bool(is_staff or is_superuser),
        "is_superuser": bool(is_superuser), "is_active": bool(is_active),
        **({"welcome": True} if welcome else {})}, caller)
    if group_ids:
        store.record(session, "user", uid, events.USER_GROUPS_CHANGED, {"groups": group_ids},
                     caller)
    owners.create(session, caller, "user", uid, username)
    return get_user(session, uid)


def create(session, caller: Caller, data, rounds: int) -> dict:
    """`POST /api/user/` (superusers only: the service checks that)."""
    cleaned = _clean_user(data, partial=False)
    user = new_user(
        session, caller, rounds=rounds, username=cleaned["username"], password=cleaned.get("password"),
        email=cleaned["email"], first_name=cleaned["first_name"],
        last_name=cleaned["last_name"], is_staff=cleaned.get("is_staff", False),
        is_superuser=cleaned.get("is_superuser", False),
        is_active=cleaned.get("is_active", True), group_ids=data.get("groups", []),
        welcome=True)
    return user_repr(session, user)


def _new_groups(session, caller: Caller, user_id: int, value) -> list[int] | None:
    """The user's groups as `value` (pks, or the {pk, name} objects a GET shows) sets them;
    None if that is no change. Only staff change them."""
    if isinstance(value, list):
        value = [g.get("pk") if isinstance(g, dict) else g for g in value]
    group_ids = groups.existing_ids(session, value)
    if sorted(group_ids) == sorted(g["pk"] for g in groups.of_user(session, user_id)):
        return None
    if not caller.is_admin:
        raise PermissionDenied("Only staff users may change group membership.")
    return group_ids


def update(session, caller: Caller, user_id: int, data, partial: bool, rounds: int,
           session_id: int | None = None) -> dict:
    """A new password (hashed with `rounds` rounds) ends the user's browser sessions, except
    `session_id` when that is the caller's own (the session that changed it stays signed
    in)."""
    current, version = store.load_for_update(session, "user", user_id, get_user)
    _may_edit(caller, current)
    cleaned = _clean_user(data, partial)
    _check_role_change(caller, cleaned, current)
    group_ids = _new_groups(session, caller, user_id, data["groups"]) if "groups" in data else None
    username = cleaned.get("username", current["username"])
    _check_username(session, username, user_id)
    password = cleaned.pop("password", None)
    hashed = (_checked_hash(password, {**current, **cleaned, "username": username}, rounds)
              if password else None)
    if cleaned.get("is_superuser"):
        cleaned["is_staff"] = True
    changes = {k: v for k, v in cleaned.items() if current.get(k) != v}
    if changes:
        store.record(session, "user", user_id, events.USER_UPDATED, changes, caller,
                     version + 1)
    if hashed:
        store.record(session, "user", user_id, events.USER_PASSWORD_CHANGED,
                     {"password": hashed}, caller)
        sessions.end_others(session, caller, user_id,
                            keep=session_id if caller.user_id == user_id else None)
    if group_ids is not None:
        store.record(session, "user", user_id, events.USER_GROUPS_CHANGED,
                     {"groups": group_ids}, caller)
    if "username" in changes:
        owners.rename(session, caller, "user", user_id, changes["username"])
    return user_repr(session, get_user(session, user_id))


def update_auth_user(session, caller: Caller, data, rounds: int) -> dict:
    """`/api/auth/user/`: the caller's username and names; pk and email are read-only
    there."""
    data = {k: v for k, v in (data if isinstance(data, dict) else {}).items()
            if k in ("username", "first_name", "last_name")}
    me = update(session, caller, caller.user_id, data, True, rounds)
    return {k: me[k] for k in AUTH_USER_FIELDS}


def delete(session, caller: Caller, user_id: int):
    current, version = store.load_for_update(session, "user", user_id, get_user)
    _may_edit(caller, current)
    owners.delete(session, caller, "user", user_id)
    store.record(session, "user", user_id, events.USER_DELETED, {}, caller, version + 1)


def set_password(session, caller: Caller, user_id: int, password: str, rounds: int,
                 check: bool = True):
    """A new password for the user (hashed with `rounds` rounds), checked against the user
    as it is now (read under the user's lock); `check=False` takes it as given (an
    operator's choice at the command line, as InvenTree does)."""
    user, version = store.load_for_update(session, "user", user_id, get_user)
    hashed = _checked_hash(password, user, rounds) if check else hash_password(password, rounds)
    store.record(session, "user", user_id, events.USER_PASSWORD_CHANGED,
                 {"password": hashed}, caller, version + 1)
