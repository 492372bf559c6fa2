"""The users service's tables (projections of its event log) and their projector."""
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    update,
)

from svckit.events import EventStore, Projector, column_values
from svckit.request_ledger import ledger_table

from . import events

metadata = MetaData()

users = Table(
    "auth_user", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("username", String(150), nullable=False, unique=True),
    Column("email", String(254), nullable=False, default=""),
    Column("first_name", String(150), nullable=False, default=""),
    Column("last_name", String(150), nullable=False, default=""),
    Column("password", String(200), nullable=False, default=""),
    Column("is_staff", Boolean, nullable=False, default=False),
    Column("is_superuser", Boolean, nullable=False, default=False),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("date_joined", DateTime, nullable=False),
)

groups = Table(
    "auth_group", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(150), nullable=False, unique=True),
    Column("roles", JSON, nullable=False),  # {"part": ["view", "change"], ...}
)

memberships = Table(
    "auth_user_groups", metadata,
    Column("user_id", Integer, ForeignKey("auth_user.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", Integer, ForeignKey("auth_group.id", ondelete="CASCADE"),
           primary_key=True),
)

tokens = Table(
    "api_token", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("user_id", Integer, ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("name", String(100), nullable=False, default=""),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("nonce", String(32), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("expiry", Date, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("last_seen", Date, nullable=True),
    Column("meta", JSON, nullable=False),
)

owners = Table(
    "owner", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner_type", String(10), nullable=False),  # "user" or "group"
    Column("owner_id", Integer, nullable=False),
    Column("name", String(150), nullable=False),
)
# one owner per user or group, found by them on every rename and delete (revision 0002)
Index("ix_owner_target", owners.c.owner_type, owners.c.owner_id, unique=True)

sessions = Table(
    "user_session", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("expires", DateTime, nullable=False),
    Column("ended", Boolean, nullable=False, default=False),
)

magic_links = Table(
    "magic_link", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("auth_user.id", ondelete="CASCADE"), nullable=False),
    Column("expires", DateTime, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)

# failed password checks by name and client address (the login throttle); a new table
# name because the address column is new (`login_failure` of older databases is unused)
login_failures = Table(
    "failed_login", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("username", String(150), nullable=False),
    Column("address", String(64), nullable=False, default=""),
    Column("at", DateTime, nullable=False),
)
Index("ix_failed_login_name", login_failures.c.username, login_failures.c.at)
Index("ix_failed_login_address", login_failures.c.address, login_failures.c.at)

# the gateway's ledger of requests sent with an Idempotency-Key (svckit.request_ledger;
# not projected: it is no domain state)
request_ledger = ledger_table(metadata)

# client addresses from which a name signed in (its last success there): the name-wide login
# limit does not hold them, so strangers cannot lock a user out of the places it works from
known_addresses = Table(
    "known_login_address", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("username", String(150), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime, nullable=False),
)
Index("ix_known_login_address", known_addresses.c.username, known_addresses.c.address)

projector = Projector([known_addresses, login_failures, magic_links, sessions, owners, memberships,
                       tokens, groups, users])
store = EventStore("users", metadata, projector, events.catalog)


def _id(event) -> int:
    return int(event["stream_id"])


@projector.on(events.USER_CREATED)
def _user_created(s, e):
    payload = {k: v for k, v in e["payload"].items() if k != "welcome"}
    s.execute(insert(users).values(id=_id(e), date_joined=e["created"], **payload))


@projector.on(events.USER_UPDATED, events.USER_PASSWORD_CHANGED)
def _user_updated(s, e):
    s.execute(update(users).where(users.c.id == _id(e)).values(**e["payload"]))


@projector.on(events.USER_DELETED)
def _user_deleted(s, e):
    uid = _id(e)
    s.execute(delete(tokens).where(tokens.c.user_id == uid))
    s.execute(delete(memberships).where(memberships.c.user_id == uid))
    s.execute(delete(users).where(users.c.id == uid))


@projector.on(events.USER_GROUPS_CHANGED)
def _user_groups(s, e):
    uid = _id(e)
    s.execute(delete(memberships).where(memberships.c.user_id == uid))
    for gid in e["payload"]["groups"]:
        s.execute(insert(memberships).values(user_id=uid, group_id=gid))


@projector.on(events.GROUP_CREATED)
def _group_created(s, e):
    s.execute(insert(groups).values(id=_id(e), **e["payload"]))


@projector.on(events.GROUP_UPDATED, events.GROUP_ROLES_CHANGED)
def _group_updated(s, e):
    s.execute(update(groups).where(groups.c.id == _id(e)).values(**e["payload"]))


@projector.on(events.GROUP_DELETED)
def _group_deleted(s, e):
    s.execute(delete(memberships).where(memberships.c.group_id == _id(e)))
    s.execute(delete(groups).where(groups.c.id == _id(e)))


@projector.on(events.TOKEN_ISSUED)
def _token_issued(s, e):
    s.execute(insert(tokens).values(id=_id(e), created=e["created"], revoked=False,
                                    **column_values(tokens, e["payload"])))


@projector.on(events.TOKEN_REVOKED)
def _token_revoked(s, e):
    s.execute(update(tokens).where(tokens.c.id == _id(e)).values(revoked=True))


@projector.on(events.TOKEN_SEEN)
def _token_seen(s, e):
    s.execute(update(tokens).where(tokens.c.id == _id(e))
              .values(**column_values(tokens, e["payload"])))


@projector.on(events.OWNER_CREATED)
def _owner_created(s, e):
    s.execute(insert(owners).values(id=_id(e), **e["payload"]))


@projector.on(events.OWNER_RENAMED)
def _owner_renamed(s, e):
    s.execute(update(owners).where(owners.c.id == _id(e)).values(name=e["payload"]["name"]))


@projector.on(events.OWNER_DELETED)
def _owner_deleted(s, e):
    s.execute(delete(owners).where(owners.c.id == _id(e)))


@projector.on(events.SESSION_STARTED)
def _session_started(s, e):
    s.execute(insert(sessions).values(id=_id(e), created=e["created"], ended=False,
                                      **column_values(sessions, e["payload"])))


@projector.on(events.SESSION_ENDED)
def _session_ended(s, e):
    s.execute(update(sessions).where(sessions.c.id == _id(e)).values(ended=True))


@projector.on(events.MAGIC_LINK_ISSUED)
def _magic_issued(s, e):
    s.execute(insert(magic_links).values(id=_id(e), used=False,
                                         **column_values(magic_links, e["payload"])))


@projector.on(events.MAGIC_LINK_USED)
def _magic_used(s, e):
    s.execute(update(magic_links).where(magic_links.c.id == _id(e)).values(used=True))


@projector.on(events.LOGIN_FAILED)
def _login_failed(s, e):
    s.execute(insert(login_failures).values(id=_id(e), username=e["payload"]["username"],
                                            address=e["payload"].get("address", ""),
                                            at=e["created"]))


@projector.on(events.LOGIN_SUCCEEDED)
def _login_succeeded(s, e):
    name, address = e["payload"]["username"], e["payload"]["address"]
    s.execute(delete(known_addresses).where(known_addresses.c.username == name,
                                            known_addresses.c.address == address))
    s.execute(insert(known_addresses).values(id=_id(e), username=name, address=address,
                                             at=e["created"]))
