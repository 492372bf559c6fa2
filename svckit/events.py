"""The event log: every state change is an event, appended in the same transaction.

A service's tables are projections of its log. Writes call `EventStore.record()`, which
checks the payload against its type's model (the service's catalog, svckit.eventcatalog),
appends the event (stream type, stream id, per-stream version, type, schema version, JSON
payload, actor, request id, the trace context of the span recording it (svckit.tracing),
time) and applies the service's projector to the tables in the same transaction;
`EventStore.replay()` empties the projected tables and re-applies the log.

Committed events are appended to the log's hash chain (svckit.hashchain, svckit.chainlog)
by the service's event relay just before it publishes them (svckit.relay), off the write's
path: one chainer at a time, so the chain is linear with any number of replicas writing.
"""
import zlib
from datetime import date, datetime, timezone
from typing import Any, Callable, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Connection

from svckit import idempotency, tracing
from svckit.context import Caller
from svckit.eventcatalog import EventCatalog
from svckit.hashchain import SECRET_KEYS, secrets_digest


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


UNPUBLISHED_INDEX = "ix_event_unpublished_chain"


def event_log_tables(metadata: MetaData):
    """Tables every service keeps beside its own: the log, subscriber receipts, relay lease."""
    events = Table(
        "event_log", metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
               autoincrement=True),
        Column("stream_type", String(64), nullable=False),
        Column("stream_id", String(64), nullable=False),
        Column("version", Integer, nullable=False),
        Column("type", String(100), nullable=False),
        Column("payload", JSON, nullable=False),
        Column("actor", String(150), nullable=False, default=""),
        Column("request_id", String(64), nullable=False, default=""),
        # the W3C traceparent of the span that recorded it (svckit.tracing; empty: none)
        Column("trace_context", String(128), nullable=True),
        Column("created", DateTime, nullable=False),
        Column("published", DateTime, nullable=True),
        # the payload's schema version (svckit.eventcatalog) and the hash chain
        # (svckit.hashchain): position, own hash, the previous event's hash
        Column("schema_version", Integer, nullable=False, default=1, server_default="1"),
        Column("chain_seq", BigInteger, nullable=True),
        Column("hash", String(64), nullable=True),
        Column("prev_hash", String(64), nullable=True),
        UniqueConstraint("stream_type", "stream_id", "version", name="uq_event_stream_version"),
    )
    # what the relay has yet to publish, in the order it publishes it (svckit.relay): its
    # query reads the first entries of this index; ordered by id instead, SQLite walked the
    # chain's index through every event ever published (index_unpublished_by_chain)
    Index(UNPUBLISHED_INDEX, events.c.chain_seq, sqlite_where=events.c.published.is_(None),
          postgresql_where=events.c.published.is_(None))
    Index("ix_event_chain_seq", events.c.chain_seq, unique=True)
    Index("ix_event_unchained", events.c.id, sqlite_where=events.c.chain_seq.is_(None),
          postgresql_where=events.c.chain_seq.is_(None))
    processed = Table(
        "processed_event", metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(120), primary_key=True),
        Column("processed", DateTime, nullable=False),
    )
    lease = Table(
        "relay_lease", metadata,
        Column("name", String(50), primary_key=True),
        Column("owner", String(100), nullable=False),
        Column("until", DateTime, nullable=False),
    )
    sequence = Table(
        "id_sequence", metadata,
        Column("name", String(64), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
    chain = Table(
        "event_chain", metadata,  # the chain's head: one row, "log" (svckit.chainlog)
        Column("name", String(20), primary_key=True),
        Column("seq", BigInteger, nullable=False),
        Column("hash", String(64), nullable=False),
        Column("updated", DateTime, nullable=False),
    )
    return events, processed, lease, sequence, chain


def index_unpublished_by_chain(op) -> None:
    """The upgrade that orders the index of unpublished events by chain position, the
    relay's order: `ix_event_unpublished` (by id) is replaced by `ix_event_unpublished_chain`
    (by `chain_seq`). The relay asks for the first unpublished events in chain order; with
    only the index by id, SQLite's planner took the chain's unique index for the ORDER BY
    and walked it through every event ever published, at every pass (30 ms at 100,000
    events). An index already there (a database made from the models) is left as it is."""
    import sqlalchemy as sa
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("event_log")}
    if "ix_event_unpublished" in indexes:
        op.drop_index("ix_event_unpublished", table_name="event_log")
    if UNPUBLISHED_INDEX not in indexes:
        op.create_index(UNPUBLISHED_INDEX, "event_log", ["chain_seq"], unique=False,
                        sqlite_where=sa.text("published IS NULL"),
                        postgresql_where=sa.text("published IS NULL"))


def column_values(table: Table, payload: dict) -> dict:
    """An event payload as column values: ISO strings become dates and datetimes where the
    column wants them (payloads are JSON; DateTime columns are naive UTC)."""
    values = dict(payload)
    for column in table.columns:
        value = values.get(column.name)
        if isinstance(value, str):
            if isinstance(column.type, DateTime):
                values[column.name] = datetime.fromisoformat(value)
            elif isinstance(column.type, Date):
                values[column.name] = date.fromisoformat(value)
    return values


class Projector:
    """Maps event types to functions that apply them to a service's tables; a type may also
    have a function that applies many events of it at once (`on_many`: one executemany for
    a batch of created rows instead of a statement per row)."""

    def __init__(self, tables):
        self.tables = tables
        self.handlers: dict[str, Callable] = {}
        self.batch_handlers: dict[str, Callable] = {}

    def on(self, *types):
        def register(fn):
            for t in types:
                self.handlers[t] = fn
            return fn
        return register

    def on_many(self, *types):
        """Register `fn(session, events)` for events of `types` recorded together (each
        type should have its `on` handler too: replay and single records use that)."""
        def register(fn):
            for t in types:
                self.batch_handlers[t] = fn
            return fn
        return register

    def apply(self, session: Connection, event: dict):
        handler = self.handlers.get(event["type"])
        if handler is not None:
            handler(session, event)

    def apply_many(self, session: Connection, events: list[dict]):
        """Apply `events` in order: runs of one type that has an `on_many` handler at once,
        the others one by one."""
        i = 0
        while i < len(events):
            type_ = events[i]["type"]
            j = i + 1
            while j < len(events) and events[j]["type"] == type_:
                j += 1
            many = self.batch_handlers.get(type_)
            if many is not None:
                many(session, events[i:j])
            else:
                for event in events[i:j]:
                    self.apply(session, event)
            i = j


class Loaded(NamedTuple):
    """An object read under its stream's lock (`EventStore.load_for_update`)."""
    row: Any
    version: int  # the stream's version when read: record the next event as version + 1


class EventStore:
    def __init__(self, service: str, metadata: MetaData, projector: Projector,
                 catalog: EventCatalog | None = None):
        self.service = service
        (self.events, self.processed, self.lease, self.sequence,
         self.chain) = event_log_tables(metadata)
        self.idempotency = idempotency.record_table(metadata)  # keys of applied RPCs
        self.projector = projector
        self.catalog = catalog or EventCatalog(service, {})
        # built once: building statements costs more than running them on hot paths
        seq = self.sequence
        self._insert_event = insert(self.events)
        # an event whose version is its stream's next, counted in the INSERT itself (its
        # snapshot is taken after the stream's lock); parameters: the columns but
        # `version`, and `_stream_type`, `_stream_id`
        ev = self.events
        self._insert_next_event = insert(ev).values(version=select(
            func.coalesce(func.max(ev.c.version), 0) + 1).where(
                ev.c.stream_type == bindparam("_stream_type"),
                ev.c.stream_id == bindparam("_stream_id")).scalar_subquery()
        ).returning(ev.c.id, ev.c.version)
        # a stream's current version (0 if it has no events); parameters `type` and `id`
        self.stream_version = select(func.coalesce(func.max(self.events.c.version), 0)).where(
            self.events.c.stream_type == bindparam("type"),
            self.events.c.stream_id == bindparam("id"))
        self._read_sequence = select(seq.c.value).where(
            seq.c.name == bindparam("seq")).with_for_update()
        self._move_sequence = seq.update().where(seq.c.name == bindparam("seq")).values(
            value=bindparam("to"))
        self._advance_sequence = seq.update().where(seq.c.name == bindparam("seq")).values(
            value=seq.c.value + bindparam("by")).returning(seq.c.value)

    def record(self, session: Connection, stream_type: str, stream_id, type_: str, payload: dict,
               caller: Caller | None = None, version: int | None = None,
               stream_locked: bool = False) -> dict:
        """Append one event and apply it to the tables, inside the caller's transaction.
        `version`, when the caller knows it, saves locking the stream: 1 for a stream
        whose id this transaction just allocated (`next_stream_id`), or `stream_version`
        + 1 read after `lock_stream`. Without it the stream is locked (unless the caller
        holds its lock already, `stream_locked`: a row lock of its own taken before it
        read the state it decided on) and the event gets the stream's next version,
        counted by the INSERT."""
        schema_version = self.catalog.check(type_, payload)  # raises before anything is written
        stream_id = str(stream_id)
        row = {"stream_type": stream_type, "stream_id": stream_id, "version": version,
               "type": type_, "schema_version": schema_version, "payload": payload,
               "actor": caller.actor if caller else "system",
               "request_id": caller.request_id if caller else "",
               "trace_context": tracing.traceparent() or None,
               "created": utcnow()}
        if version is None:
            if not stream_locked:
                self.lock_stream(session, stream_type, stream_id)
            del row["version"]
            row["id"], row["version"] = session.execute(self._insert_next_event, {
                **row, "_stream_type": stream_type, "_stream_id": stream_id}).one()
        else:
            row["id"] = session.execute(self._insert_event, row).inserted_primary_key[0]  # type: ignore[index]
        self.projector.apply(session, row)
        return row

    def record_new_streams(self, session: Connection, stream_type: str, stream_ids, type_: str,
                           payloads: list[dict], caller: Caller | None = None):
        """`record(..., version=1)` for many fresh streams at once (one executemany)."""
        schema_version = self.catalog.version(type_)
        for payload in payloads:
            self.catalog.check(type_, payload)
        created = utcnow()
        actor = caller.actor if caller else "system"
        request_id = caller.request_id if caller else ""
        trace_context = tracing.traceparent() or None
        rows = [{"stream_type": stream_type, "stream_id": str(pk), "version": 1, "type": type_,
                 "schema_version": schema_version, "payload": payload, "actor": actor,
                 "request_id": request_id, "trace_context": trace_context, "created": created}
                for pk, payload in zip(stream_ids, payloads)]
        if rows:
            session.execute(self._insert_event, rows)
            self.projector.apply_many(session, rows)

    def lock_stream(self, session: Connection, stream_type: str, stream_id):
        """Serialise writers of one stream until the transaction ends. Take it before
        reading state a command depends on (PostgreSQL advisory lock, re-entrant; SQLite
        write transactions are already serialised by BEGIN IMMEDIATE)."""
        if session.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                            {"k": self._lock_key(stream_type, stream_id)})

    @staticmethod
    def _lock_key(stream_type: str, stream_id) -> int:
        return zlib.crc32(f"{stream_type}:{stream_id}".encode())

    def load_for_update(self, session: Connection, stream_type: str, stream_id,
                        loader: Callable[[Connection, Any], Any]) -> Loaded:
        """Load, lock, decide, record: lock the object's stream, then read the object with
        `loader(session, stream_id)` (which raises NotFound for a missing one). Every update
        and delete starts here, so two concurrent commands on one object are serialised
        and each decides on the state the previous one left."""
        self.lock_stream(session, stream_type, stream_id)
        version = session.execute(self.stream_version, {
            "type": stream_type, "id": str(stream_id)}).scalar_one()
        return Loaded(loader(session, stream_id), version)

    def load_all_for_update(self, session: Connection, stream_type: str, stream_ids,
                            loader: Callable[[Connection, list], list]) -> list:
        """`load_for_update` for many objects (bulk deletes): the streams are locked in one
        fixed order (so two bulk commands cannot deadlock), then `loader(session, ids)`
        reads the rows, leaving out those deleted meanwhile."""
        ids = list(dict.fromkeys(stream_ids))
        for stream_id in sorted(ids, key=lambda i: self._lock_key(stream_type, i)):
            self.lock_stream(session, stream_type, stream_id)
        return loader(session, ids) if ids else []

    def record_changes(self, session: Connection, stream_type: str, stream_id, type_: str,
                       current: dict, cleaned: dict, caller: Caller | None = None,
                       version: int | None = None) -> dict:
        """Record `type_` with the fields of `cleaned` that differ from `current`, if any;
        returns them (an update that changes nothing appends no event). `current` should
        come from `load_for_update` (whose version + 1 is `version`)."""
        changed = {k: v for k, v in cleaned.items() if current.get(k) != v}
        if changed:
            self.record(session, stream_type, stream_id, type_, changed, caller, version)
        return changed

    def next_stream_id(self, session: Connection, stream_type: str) -> int:
        """A fresh integer id for a new aggregate of `stream_type`, never reused after a
        delete (the log keeps old streams). The counter is not projected: replay keeps it."""
        return self.next_stream_ids(session, stream_type, 1)[0]

    def next_stream_ids(self, session: Connection, stream_type: str, count: int) -> range:
        """`count` consecutive fresh ids (as `next_stream_id`, in one step): the counter
        moved and read in one statement (its row stays locked until the transaction ends);
        the counter's first use locks its name while it inserts the row (it may race)."""
        last = session.execute(self._advance_sequence,
                               {"seq": stream_type, "by": count}).scalar()
        if last is None:
            self.lock_stream(session, "id_sequence", stream_type)
            current = session.execute(self._read_sequence, {"seq": stream_type}).scalar()
            if current is None:
                current = 0
                session.execute(insert(self.sequence).values(name=stream_type, value=count))
            else:  # another transaction inserted it meanwhile
                session.execute(self._move_sequence, {"seq": stream_type,
                                                      "to": current + count})
            last = current + count
        return range(last - count + 1, last + 1)

    def replay(self, session: Connection) -> int:
        """Rebuild every projected table from the log; returns the number of events applied."""
        for table in reversed(self.projector.tables):
            session.execute(delete(table))
        count = 0
        result = session.execute(select(self.events).order_by(self.events.c.id))
        for row in result.mappings():
            self.projector.apply(session, dict(row))
            count += 1
        return count

    def mark_processed(self, session: Connection, consumer: str, event_id: str) -> bool:
        """Record that `consumer` applied `event_id`; False if it already had (a redelivery)."""
        seen = session.execute(select(self.processed.c.event_id).where(
            self.processed.c.consumer == consumer,
            self.processed.c.event_id == event_id)).first()
        if seen:
            return False
        session.execute(insert(self.processed).values(consumer=consumer, event_id=event_id,
                                                      processed=utcnow()))
        return True


def wire_event(service: str, row: dict) -> dict:
    """The JSON message published for a committed event (secrets such as password hashes
    stay in the service's own log and are not published: the digest of them, `secrets`, is,
    so that a subscriber can check the event's `hash`, svckit.hashchain)."""
    created = row["created"]
    return {
        "id": f"{service}:{row['id']}",
        "service": service,
        "seq": row["id"],
        "stream_type": row["stream_type"],
        "stream_id": row["stream_id"],
        "version": row["version"],
        "type": row["type"],
        "payload": {k: v for k, v in row["payload"].items() if k not in SECRET_KEYS},
        "actor": row["actor"],
        "request_id": row["request_id"],
        "trace_context": row.get("trace_context") or "",
        "created": created.isoformat() + "Z" if isinstance(created, datetime) else created,
        "schema_version": row.get("schema_version", 1),
        "chain_seq": row.get("chain_seq"),
        "hash": row.get("hash"),
        "prev_hash": row.get("prev_hash"),
        "secrets": secrets_digest(row["payload"]),
    }
