"""Every event type the users service records, with its payload fields (models.py projects
them; the gateway's caches and the audit log hear them by these names), modelled at the end
(svckit.eventcatalog). Secrets (password and key hashes, nonces, CSRF tokens) stay in this
service's log: published events carry only their digest (svckit.hashchain)."""
from datetime import date, datetime
from typing import Any

from svckit.eventcatalog import Empty, EventCatalog, EventPayload

USER_CREATED = "user.created"
"""username, email, first_name, last_name, password (hash or ""), is_staff, is_superuser,
is_active, and welcome (true: mail the new user) when created over the API."""
USER_UPDATED = "user.updated"
"""The changed fields among username, email, first_name, last_name, is_staff,
is_superuser, is_active."""
USER_PASSWORD_CHANGED = "user.password_changed"
"""password (hash)."""
USER_GROUPS_CHANGED = "user.groups_changed"
"""groups: the pks of every group the user now belongs to."""
USER_DELETED = "user.deleted"
"""No fields."""

GROUP_CREATED = "group.created"
"""name, roles ({role: [permission, ...]})."""
GROUP_UPDATED = "group.updated"
"""name."""
GROUP_ROLES_CHANGED = "group.roles_changed"
"""roles."""
GROUP_DELETED = "group.deleted"
"""No fields."""

OWNER_CREATED = "owner.created"
"""owner_type ("user" or "group"), owner_id, name."""
OWNER_RENAMED = "owner.renamed"
"""name."""
OWNER_DELETED = "owner.deleted"
"""No fields."""

TOKEN_ISSUED = "token.issued"
"""user_id, name, key_hash, nonce, expiry, last_seen (null), meta."""
TOKEN_REVOKED = "token.revoked"
"""user_id."""
TOKEN_SEEN = "token.seen"
"""last_seen (a date)."""

SESSION_STARTED = "session.started"
"""key_hash, user_id, csrf_token, expires."""
SESSION_ENDED = "session.ended"
"""user_id."""

MAGIC_LINK_ISSUED = "magic_link.issued"
"""key_hash, user_id, expires."""
MAGIC_LINK_USED = "magic_link.used"
"""No fields."""

LOGIN_FAILED = "login.failed"
"""username (as given), address (the client's)."""
LOGIN_SUCCEEDED = "login.succeeded"
"""username (as given), address (the client's); recorded at most once a day per name and
address, for the login throttle's known addresses."""


# ------------------------------------------------------------------ payload models

class UserCreated(EventPayload):
    """A user account."""

    username: str
    email: str
    first_name: str
    last_name: str
    password: str  # the hash, "" for none
    is_staff: bool
    is_superuser: bool
    is_active: bool
    welcome: bool | None = None  # true: mail the new user


class UserUpdated(EventPayload):
    """The fields of a user that changed."""

    username: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_staff: bool | None = None
    is_superuser: bool | None = None
    is_active: bool | None = None


class PasswordChanged(EventPayload):
    """A user's new password hash."""

    password: str


class GroupsChanged(EventPayload):
    """Every group the user now belongs to."""

    groups: list[int]


class GroupCreated(EventPayload):
    """A group with its role permissions."""

    name: str
    roles: dict[str, list[str]]


class GroupUpdated(EventPayload):
    """A group renamed."""

    name: str


class GroupRolesChanged(EventPayload):
    """A group's role permissions."""

    roles: dict[str, list[str]]


class OwnerCreated(EventPayload):
    """The owner entry of a user or group."""

    owner_type: str
    owner_id: int
    name: str


class OwnerRenamed(EventPayload):
    """An owner's new name."""

    name: str


class TokenIssued(EventPayload):
    """An API token (its key is kept as a hash)."""

    user_id: int
    name: str
    key_hash: str
    nonce: str
    expiry: date
    last_seen: date | None
    meta: dict[str, Any]


class TokenRevoked(EventPayload):
    """An API token revoked."""

    user_id: int


class TokenSeen(EventPayload):
    """The day an API token was last used."""

    last_seen: date


class SessionStarted(EventPayload):
    """A login session (its key is kept as a hash)."""

    key_hash: str
    user_id: int
    csrf_token: str
    expires: datetime


class SessionEnded(EventPayload):
    """A login session ended."""

    user_id: int


class MagicLinkIssued(EventPayload):
    """A one-time login link (its key is kept as a hash)."""

    key_hash: str
    user_id: int
    expires: datetime


class LoginAttempt(EventPayload):
    """A login by a name from an address (the name as given)."""

    username: str
    address: str


catalog = EventCatalog("users", {
    USER_CREATED: UserCreated,
    USER_UPDATED: UserUpdated,
    USER_PASSWORD_CHANGED: PasswordChanged,
    USER_GROUPS_CHANGED: GroupsChanged,
    USER_DELETED: Empty,
    GROUP_CREATED: GroupCreated,
    GROUP_UPDATED: GroupUpdated,
    GROUP_ROLES_CHANGED: GroupRolesChanged,
    GROUP_DELETED: Empty,
    OWNER_CREATED: OwnerCreated,
    OWNER_RENAMED: OwnerRenamed,
    OWNER_DELETED: Empty,
    TOKEN_ISSUED: TokenIssued,
    TOKEN_REVOKED: TokenRevoked,
    TOKEN_SEEN: TokenSeen,
    SESSION_STARTED: SessionStarted,
    SESSION_ENDED: SessionEnded,
    MAGIC_LINK_ISSUED: MagicLinkIssued,
    MAGIC_LINK_USED: Empty,
    LOGIN_FAILED: LoginAttempt,
    LOGIN_SUCCEEDED: LoginAttempt,
})
