"""The audit service's table: every domain event of every service, as received."""
from sqlalchemy import JSON, BigInteger, Column, DateTime, Integer, MetaData, String, Table

from svckit.events import EventStore, Projector

metadata = MetaData()

audit_events = Table(
    "audit_event", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(120), nullable=False, unique=True),  # "<service>:<seq>"
    Column("service", String(50), nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
    Column("stream_type", String(64), nullable=False),
    Column("stream_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(100), nullable=False, index=True),
    Column("payload", JSON, nullable=False),
    Column("actor", String(150), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("created", DateTime, nullable=False, index=True),
    Column("received", DateTime, nullable=False),
)

# the audit trail is itself derived from other services' logs; its own log stays empty
store = EventStore("audit", metadata, Projector([]))
