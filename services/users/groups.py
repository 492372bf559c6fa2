"""Groups and the rule sets they carry (`/api/user/group/`): each group grants roles
(`{"part": ["view", "change"], ...}`) to its members; staff manage them."""
from sqlalchemy import select

from svckit.context import PERMISSIONS, ROLE_NAMES, Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.fields import INT32_MAX, Field, validate
from svckit.listing import bool_param, run_list

from . import events, owners, ruleset_data
from .models import groups, memberships, store

GROUP_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "name": Field("string", "Name", required=True, max_length=150),
    "roles": Field("nested object", "Roles", "Role name to permissions, e.g. "
                   '{"part": ["view", "change"]}; add or delete imply change, any implies view'),
}
DJANGO_PERMS = ("add", "change", "delete", "view")  # the order Django creates them in


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


def group_repr(row, permission_detail: bool = False) -> dict:
    doc = {"pk": row["id"], "name": row["name"],
           "roles": {r: row["roles"].get(r) for r in ROLE_NAMES}}
    if permission_detail:
        doc["permissions"] = permissions_map(row["roles"])
    return doc


def get_group(session, pk) -> dict:
    row = session.execute(select(groups).where(groups.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def detail(session, pk: int, params: dict | None) -> dict:
    """One group; `permission_detail` adds the Django permissions it grants."""
    return group_repr(get_group(session, pk),
                      bool_param(params or {}, "permission_detail") or False)


def list_groups(session, params: dict) -> dict:
    permission_detail = bool_param(params, "permission_detail") or False
    return run_list(session, select(groups), params, search=(groups.c.name,),
                    ordering={"name": groups.c.name, "pk": groups.c.id},
                    default_order=[groups.c.id],
                    render=lambda row: group_repr(row, permission_detail))


def of_user(session, user_id: int) -> list[dict]:
    """`{pk, name}` of the groups a user belongs to, in pk order."""
    rows = session.execute(select(groups.c.id, groups.c.name).join(
        memberships, memberships.c.group_id == groups.c.id)
        .where(memberships.c.user_id == user_id).order_by(groups.c.id)).all()
    return [{"pk": pk, "name": name} for pk, name in rows]


def roles_of_user(session, user_id: int) -> list[dict]:
    """The roles of each group a user belongs to."""
    return list(session.execute(select(groups.c.roles).join(
        memberships, memberships.c.group_id == groups.c.id)
        .where(memberships.c.user_id == user_id)).scalars())


def existing_ids(session, value) -> list[int]:
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


def _check_name_free(session, name: str):
    if session.execute(select(groups.c.id).where(groups.c.name == name)).first():
        raise ValidationFailed({"name": ["group with this name already exists."]})


def new_group(session, caller: Caller, name: str, roles=None) -> dict:
    """A group (and its owner) from a name and roles: the API's and the CLI's way in."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": ["This field may not be blank."]})
    _check_name_free(session, name)
    gid = store.next_stream_id(session, "group")
    store.record(session, "group", gid, events.GROUP_CREATED,
                 {"name": name, "roles": normalise_roles(roles)}, caller)
    owners.create(session, caller, "group", gid, name)
    return group_repr(get_group(session, gid))


def create(session, caller: Caller, data) -> dict:
    cleaned = validate({"name": GROUP_FIELDS["name"]}, data)
    return new_group(session, caller, cleaned["name"], data.get("roles"))


def update(session, caller: Caller, pk: int, data, partial: bool) -> dict:
    current, _ = store.load_for_update(session, "group", pk, get_group)
    cleaned = validate({"name": GROUP_FIELDS["name"]}, data, partial=partial)
    if "name" in cleaned and cleaned["name"] != current["name"]:
        _check_name_free(session, cleaned["name"])
        store.record(session, "group", pk, events.GROUP_UPDATED, {"name": cleaned["name"]},
                     caller)
        owners.rename(session, caller, "group", pk, cleaned["name"])
    if "roles" in data:
        roles = normalise_roles(data["roles"])
        if roles != current["roles"]:
            store.record(session, "group", pk, events.GROUP_ROLES_CHANGED, {"roles": roles},
                         caller)
    return group_repr(get_group(session, pk))


def delete(session, caller: Caller, pk: int):
    _, version = store.load_for_update(session, "group", pk, get_group)
    owners.delete(session, caller, "group", pk)
    store.record(session, "group", pk, events.GROUP_DELETED, {}, caller, version + 1)
