"""The audit service's tables: every domain event of every service, as received; the head of
each service's hash chain as received, and the signed hourly digests of each chain."""
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from svckit.events import EventStore, Projector

metadata = MetaData()

audit_events = Table(
    "audit_event", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(120), nullable=False, unique=True),  # "<service>:<seq>"
    Column("service", String(50), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("stream_type", String(64), nullable=False),
    Column("stream_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("actor", String(150), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("created", DateTime, nullable=False, index=True),
    Column("received", DateTime, nullable=False),
    # the event's place in its service's hash chain, as published (svckit.hashchain), and
    # what the check on receipt found wrong ("content", "order"; None: nothing)
    Column("chain_seq", BigInteger, nullable=True),
    Column("hash", String(64), nullable=True),
    Column("chain_fault", String(20), nullable=True),
    # each filter of `GET /api/events/` beside the id, so that a filtered page in id order
    # (lists, the export's and live feed's keyset `id > last`) reads its rows in order from
    # the index; `type` also answers prefix wildcards (`attachment.*`: LIKE 'attachment.%',
    # which PostgreSQL's pattern operator class serves whatever the collation)
    Index("ix_audit_event_service_id", "service", "id"),
    Index("ix_audit_event_type_id", "type", "id",
          postgresql_ops={"type": "varchar_pattern_ops"}),
    Index("ix_audit_event_stream_id", "stream_type", "stream_id", "id"),
    Index("ix_audit_event_actor_id", "actor", "id"),
    Index("ix_audit_event_request_id", "request_id", "id"),
)

# per service: the last event of its chain received in order
audit_chains = Table(
    "audit_chain", metadata,
    Column("service", String(50), primary_key=True),
    Column("seq", BigInteger, nullable=False),  # chain position
    Column("hash", String(64), nullable=False),
    Column("updated", DateTime, nullable=False),
)

# per service and hour (of the events' time): how many events were received, the last one
# in chain order, signed with HMAC-SHA256 (AUDIT_DIGEST_KEY)
audit_digests = Table(
    "audit_digest", metadata,
    Column("service", String(50), nullable=False),
    Column("hour", DateTime, nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_seq", BigInteger, nullable=False),  # event ids
    Column("last_seq", BigInteger, nullable=False),
    Column("last_chain_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("signature", String(64), nullable=False),
    Column("updated", DateTime, nullable=False),
    PrimaryKeyConstraint("service", "hour", name="pk_audit_digest"),
)

# the audit trail is itself derived from other services' logs; its own log stays empty
store = EventStore("audit", metadata, Projector([]))
