"""Every event type the users service records, with its payload fields (models.py projects
them; the gateway's caches and the audit log hear them by these names)."""

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
