"""The audit service's tables: every domain event of every service, as received; the head of
each service's hash chain as received, and the signed hourly digests of each chain; outbound
webhook subscriptions (projected from the service's own events), their secrets and their
deliveries."""
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    update,
)

from svckit.events import EventStore, Projector

from .events import (
    WEBHOOK_SUBSCRIPTION_CREATED,
    WEBHOOK_SUBSCRIPTION_DELETED,
    WEBHOOK_SUBSCRIPTION_UPDATED,
    catalog,
)

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
    # the event rendered once when recorded (services.audit.eventlines): what the export
    # joins; None for rows recorded before revision 0007
    Column("line", Text, nullable=True),
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
    # an actor's events of some types, in a time range (read from the index alone)
    Index("ix_audit_event_actor_type_id", "actor", "type", "created", "id"),
)

# every event type the trail holds, so that a type wildcard (`attachment.*`) is read as the
# list of types it matches (services.audit.eventquery); added to as events are recorded
audit_event_types = Table(
    "audit_event_type", metadata,
    Column("type", String(100), primary_key=True),
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

# outbound webhook subscriptions (services.audit.webhooks), projected from their events
webhook_subscriptions = Table(
    "webhook_subscription", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("target_url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),  # patterns (svckit.eventtypes)
    Column("active", Boolean, nullable=False),
    Column("description", String(250), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
)

# each subscription's signing secret: written with the subscription's events but never part
# of one, so no event projects it (replay leaves it as it is)
webhook_secrets = Table(
    "webhook_secret", metadata,
    Column("subscription_id", Integer, primary_key=True, autoincrement=False),
    Column("secret", String(200), nullable=False),
)

# one delivery per subscription and received event (services.audit.deliveries): made in the
# transaction that records the event, sent by the dispatcher off the write path
webhook_deliveries = Table(
    "webhook_delivery", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("subscription_id", Integer, nullable=False),
    Column("event_id", String(120), nullable=False),  # audit_event.event_id
    Column("status", String(12), nullable=False),  # pending, delivered, parked
    Column("attempts", Integer, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("window_start", DateTime, nullable=False),  # retries end WEBHOOK_RETRY_FOR_SECONDS after
    Column("next_attempt", DateTime, nullable=True),  # when pending
    Column("lease_until", DateTime, nullable=True),  # claimed by a dispatcher until then
    Column("claim", String(32), nullable=True),
    Column("last_attempt", DateTime, nullable=True),
    Column("response_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=True),
    Column("last_error", String(500), nullable=False),
    Column("delivered", DateTime, nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
    Index("ix_webhook_delivery_due", "status", "next_attempt"),
    Index("ix_webhook_delivery_subscription", "subscription_id", "status", "next_attempt"),
)

projector = Projector([webhook_subscriptions])
# the audit trail is derived from other services' logs; the service's own log holds the
# changes of webhook subscriptions
store = EventStore("audit", metadata, projector, catalog)


@projector.on(WEBHOOK_SUBSCRIPTION_CREATED)
def _subscription_created(s, e):
    s.execute(insert(webhook_subscriptions).values(
        id=int(e["stream_id"]), created=e["created"], updated=e["created"], **e["payload"]))


@projector.on(WEBHOOK_SUBSCRIPTION_UPDATED)
def _subscription_updated(s, e):
    values = {k: v for k, v in e["payload"].items() if k != "secret_replaced"}
    s.execute(update(webhook_subscriptions).where(
        webhook_subscriptions.c.id == int(e["stream_id"])).values(updated=e["created"], **values))


@projector.on(WEBHOOK_SUBSCRIPTION_DELETED)
def _subscription_deleted(s, e):
    s.execute(delete(webhook_subscriptions).where(
        webhook_subscriptions.c.id == int(e["stream_id"])))
