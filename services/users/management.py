"""User and group management over the API (USERS.md §1-§2), with InvenTree 264's holes
closed: only staff edit or delete other users, only superusers grant staff or superuser,
and group roles are part of the API."""
import re

from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import bool_param

from . import accounts, sessions
from .models import groups, memberships, owners, store, users
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

GROUP_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "name": Field("string", "Name", required=True, max_length=150),
    "roles": Field("nested object", "Roles", "Role name to permissions, e.g. "
                   '{"part": ["view", "change"]}; add or delete imply change, any implies view'),
}


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
    clash = accounts.find_user(session, username)
    if clash and clash["id"] != user_id:
        raise ValidationFailed({"username": ["A user with that username already exists."]})


def _check_role_change(caller: Caller, cleaned: dict, current: dict | None):
    """Only superusers grant or take away staff and superuser status; sending the current
    value back (as clients that save whole objects do) is no change."""
    if caller.is_superuser:
        return
    for flag in ("is_staff", "is_superuser"):
        if flag in cleaned and cleaned[flag] != (current[flag] if current else False):
            raise PermissionDenied(ROLE_CHANGE)


def _check_password(cleaned: dict, user: dict) -> dict:
    password = cleaned.pop("password", None)
    if password:
        problems = validate_password(password, user["username"], user["first_name"],
                                     user["last_name"], user["email"])
        if problems:
            raise ValidationFailed({"password": problems})
        return {"password": hash_password(password)}
    return {}


def _may_edit(caller: Caller, user: dict):
    """Self, or staff; a superuser only by a superuser (staff cannot take one over)."""
    if caller.user_id != user["id"] and not (caller.is_staff or caller.is_superuser):
        raise PermissionDenied()
    if user["is_superuser"] and not caller.is_superuser:
        raise PermissionDenied()


def shown_to(caller: Caller, doc: dict) -> dict:
    """A user's representation as `caller` may see it: other users' e-mail addresses only
    for staff (the field stays, empty, as InvenTree's schema requires it)."""
    if doc["pk"] != caller.user_id and not (caller.is_staff or caller.is_superuser):
        doc["email"] = ""
    return doc


def user_ordering(caller: Caller) -> dict:
    """Ordering fields: by e-mail only for staff (an order would reveal hidden addresses)."""
    if caller.is_staff or caller.is_superuser:
        return USER_ORDERING
    return {k: v for k, v in USER_ORDERING.items() if k != "email"}


def list_users(params: dict):
    stmt = select(users)
    for flag in ("is_staff", "is_active", "is_superuser"):
        value = bool_param(params, flag)
        if value is not None:
            stmt = stmt.where(users.c[flag].is_(value))
    return stmt


def create_user(session, caller: Caller, data) -> dict:
    if not caller.is_superuser:
        raise PermissionDenied()
    cleaned = _clean_user(data, partial=False)
    group_ids = accounts.existing_group_ids(session, data.get("groups", []))
    _check_username(session, cleaned["username"])
    user = accounts.create_user(
        session, caller, username=cleaned["username"], password=cleaned.get("password"),
        email=cleaned["email"], first_name=cleaned["first_name"],
        last_name=cleaned["last_name"], is_staff=cleaned.get("is_staff", False),
        is_superuser=cleaned.get("is_superuser", False),
        is_active=cleaned.get("is_active", True), group_ids=group_ids, welcome=True)
    return accounts.user_repr(session, user)


def update_user(session, caller: Caller, user_id: int, data, partial: bool,
                session_id: int | None = None) -> dict:
    """A new password ends the user's browser sessions, except `session_id` when that is
    the caller's own (the session that changed it stays signed in)."""
    current, version = store.load_for_update(session, "user", user_id, accounts.get_user)
    _may_edit(caller, current)
    cleaned = _clean_user(data, partial)
    _check_role_change(caller, cleaned, current)
    group_ids = None
    if "groups" in data:  # pks, or the {pk, name} objects a GET shows
        value = data["groups"]
        if isinstance(value, list):
            value = [g.get("pk") if isinstance(g, dict) else g for g in value]
        group_ids = accounts.existing_group_ids(session, value)
        now = sorted(session.execute(select(memberships.c.group_id).where(
            memberships.c.user_id == user_id)).scalars())
        if sorted(group_ids) == now:
            group_ids = None
        elif not (caller.is_staff or caller.is_superuser):
            raise PermissionDenied("Only staff users may change group membership.")
    username = cleaned.get("username", current["username"])
    _check_username(session, username, user_id)
    changes = _check_password(cleaned, {**current, **cleaned, "username": username})
    if cleaned.get("is_superuser"):
        cleaned["is_staff"] = True
    changes.update({k: v for k, v in cleaned.items() if current.get(k) != v})
    password = changes.pop("password", None)
    if changes:
        store.record(session, "user", user_id, "user.updated", changes, caller, version + 1)
    if password:
        store.record(session, "user", user_id, "user.password_changed", {"password": password},
                     caller)
        sessions.end_others(session, caller, user_id,
                            keep=session_id if caller.user_id == user_id else None)
    if group_ids is not None:
        store.record(session, "user", user_id, "user.groups_changed", {"groups": group_ids},
                     caller)
    if "username" in changes:
        _rename_owner(session, caller, "user", user_id, changes["username"])
    return accounts.user_repr(session, accounts.get_user(session, user_id))


def delete_user(session, caller: Caller, user_id: int):
    current, version = store.load_for_update(session, "user", user_id, accounts.get_user)
    _may_edit(caller, current)
    _delete_owner(session, caller, "user", user_id)
    store.record(session, "user", user_id, "user.deleted", {}, caller, version + 1)


def _owner_of(session, owner_type: str, owner_id: int):
    return session.execute(select(owners.c.id).where(owners.c.owner_type == owner_type,
                                                     owners.c.owner_id == owner_id)).scalar()


def _rename_owner(session, caller, owner_type, owner_id, name):
    pk = _owner_of(session, owner_type, owner_id)
    if pk is not None:
        store.record(session, "owner", pk, "owner.renamed", {"name": name}, caller)


def _delete_owner(session, caller, owner_type, owner_id):
    pk = _owner_of(session, owner_type, owner_id)
    if pk is not None:
        store.record(session, "owner", pk, "owner.deleted", {}, caller)


# ---------------------------------------------------------------- groups

def group_repr(row, permission_detail: bool = False) -> dict:
    doc = {"pk": row["id"], "name": row["name"],
           "roles": {r: row["roles"].get(r) for r in accounts.ROLE_NAMES}}
    if permission_detail:
        doc["permissions"] = accounts.permissions_map(row["roles"])
    return doc


def get_group(session, pk) -> dict:
    row = session.execute(select(groups).where(groups.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def _require_staff(caller: Caller):
    if not (caller.is_staff or caller.is_superuser):
        raise PermissionDenied()


def create_group(session, caller: Caller, data) -> dict:
    _require_staff(caller)
    cleaned = validate({"name": GROUP_FIELDS["name"]}, data)
    return group_repr(get_group(session, accounts.create_group(
        session, caller, cleaned["name"], data.get("roles"))["pk"]))


def update_group(session, caller: Caller, pk: int, data, partial: bool) -> dict:
    _require_staff(caller)
    current, _ = store.load_for_update(session, "group", pk, get_group)
    cleaned = validate({"name": GROUP_FIELDS["name"]}, data, partial=partial)
    if "name" in cleaned and cleaned["name"] != current["name"]:
        clash = session.execute(select(groups.c.id).where(groups.c.name == cleaned["name"])).first()
        if clash:
            raise ValidationFailed({"name": ["group with this name already exists."]})
        store.record(session, "group", pk, "group.updated", {"name": cleaned["name"]}, caller)
        _rename_owner(session, caller, "group", pk, cleaned["name"])
    if "roles" in data:
        roles = accounts.normalise_roles(data["roles"])
        if roles != current["roles"]:
            store.record(session, "group", pk, "group.roles_changed", {"roles": roles}, caller)
    return group_repr(get_group(session, pk))


def delete_group(session, caller: Caller, pk: int):
    _require_staff(caller)
    _, version = store.load_for_update(session, "group", pk, get_group)
    _delete_owner(session, caller, "group", pk)
    store.record(session, "group", pk, "group.deleted", {}, caller, version + 1)
