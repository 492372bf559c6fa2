"""The roles a user gets from their groups (`/api/user/roles/`), and the caller a user
stands for (what the gateway signs into every call it makes for them)."""
from svckit.context import PERMISSIONS, ROLE_NAMES, Caller

from . import groups, users


def user_roles(session, user: dict) -> dict[str, list[str]]:
    """The union of the roles of the user's groups; every permission for a superuser."""
    if user["is_superuser"]:
        return {role: list(PERMISSIONS) for role in ROLE_NAMES}
    merged: dict[str, set] = {}
    for roles in groups.roles_of_user(session, user["id"]):
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


def document(session, user_id: int) -> dict:
    """`GET /api/user/roles/`: all ten roles in order, null where the user has none, and
    the Django permissions they grant."""
    user = users.get_user(session, user_id)
    granted = user_roles(session, user)
    return {"user": user["id"], "username": user["username"],
            "roles": {role: granted.get(role) for role in ROLE_NAMES},
            "permissions": groups.permissions_map(granted, user["is_superuser"]),
            "is_staff": user["is_staff"], "is_superuser": user["is_superuser"]}
