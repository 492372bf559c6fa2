"""A service's hash chain (svckit.hashchain) in its database: extended by the service's event
relay with the events committed since its last pass, just before it publishes them (off the
path of the writes themselves, which pay nothing for it), filled in for events written before
the chain existed (the migrations that added it), and walked to verify the log (`verify`).

Whoever links is alone: the relay holds its lease, and on PostgreSQL a transaction-scoped
advisory lock serialises linkers anyway (a relay whose lease ran out, a verification); on
SQLite write transactions are serial already. An event is chained in the order its commit
was seen, not by its id: a transaction that committed later with a lower id is linked after
the events seen before it. The head of the chain (position and hash of its last
event) is kept in `event_chain`, so a log cut short at its end is noticed too.
"""
from datetime import datetime, timezone
from typing import Any, NamedTuple, Sequence

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection

from svckit.errors import ValidationFailed
from svckit.hashchain import GENESIS, ChainWalk, chain, event_name

CHAIN_LOCK = {"space": 264, "key": 2}  # (svckit.migration_lock holds key 1)
HEAD = "log"
BATCH = 1000  # events read at a time


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def time_param(params: dict, name: str) -> datetime | None:
    """A time parameter (ISO 8601; naive is UTC) as naive UTC, None if absent; a 400 naming
    the parameter if it is not a time."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if value.tzinfo is not None:  # year 1 an hour east of UTC is before year 1 in UTC
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValidationFailed({name: ["Enter a valid date/time."]}) from None
    return value


class Linked(NamedTuple):
    """What one linking pass did (`link_pending`)."""
    head_before: int  # the chain's position before the pass (0: an empty chain)
    linked: int  # how many events it linked
    rows: list[dict]  # those events (if kept), in chain order, with their chain fields


_LOCK = text("SELECT pg_advisory_xact_lock(:space, :key)")
_HEAD_AND_UNCHAINED: dict[Table, Any] = {}


def _head_and_unchained(store):
    """One statement, built once per log: the chain's head (`_head_seq`, `_head_hash`;
    NULL for an empty chain) beside each of the first `:n` unlinked events; a single row
    with the event's columns NULL when none waits."""
    stmt = _HEAD_AND_UNCHAINED.get(store.events)
    if stmt is None:
        events, head_table = store.events, store.chain
        at_head = head_table.c.name == HEAD
        head = select(select(head_table.c.seq).where(at_head).scalar_subquery()
                      .label("_head_seq"),
                      select(head_table.c.hash).where(at_head).scalar_subquery()
                      .label("_head_hash")).subquery("head")
        waiting = (select(events).where(events.c.chain_seq.is_(None)).order_by(events.c.id)
                   .limit(bindparam("n")).subquery("waiting"))
        stmt = _HEAD_AND_UNCHAINED[store.events] = (
            select(head, waiting).select_from(head.outerjoin(waiting, true()))
            .order_by(waiting.c.id))
    return stmt


def link_pending(store, session: Connection, limit: int | None = None,
                 keep: bool = True) -> Linked:
    """Link the events not yet in the chain (the oldest first, at most `limit`) after the
    chain's head. The event relay calls it before it publishes (svckit.relay), keeping the
    linked rows (`keep`) to publish them; verification and the migration that made the
    chain call `chain_pending`. The head and the first batch are read in one statement,
    after the lock on PostgreSQL."""
    events, head_table = store.events, store.chain
    if session.dialect.name == "postgresql":
        session.execute(_LOCK, CHAIN_LOCK)
    batch = BATCH if limit is None else min(BATCH, limit)
    found = session.execute(_head_and_unchained(store), {"n": batch}).mappings().all()
    head_seq, head_hash = found[0]["_head_seq"], found[0]["_head_hash"]
    rows: Sequence = [r for r in found if r["id"] is not None]
    seq, prev = (head_seq, head_hash) if head_seq is not None else (0, GENESIS)
    head_before, count = seq, 0
    kept: list[dict] = []
    while rows:
        links = list(chain(store.service, rows, seq, prev))
        session.execute(_link_statement(events), links)
        if keep:
            kept.extend(_linked_row(row, link) for row, link in zip(rows, links))
        seq, prev = links[-1]["_seq"], links[-1]["_hash"]
        count += len(links)
        if len(rows) < batch or (limit is not None and count >= limit):
            break  # that was all, or all we were asked for
        batch = BATCH if limit is None else min(BATCH, limit - count)
        rows = session.execute(select(events).where(events.c.chain_seq.is_(None))
                               .order_by(events.c.id).limit(batch)).mappings().all()
    if count:
        values = {"seq": seq, "hash": prev, "updated": _now()}
        if head_seq is None:
            session.execute(insert(head_table).values(name=HEAD, **values))
        else:
            session.execute(update(head_table).where(head_table.c.name == HEAD).values(**values))
    return Linked(head_before, count, kept)


def _linked_row(row, link: dict) -> dict:
    """An event as read (without the head's columns), with the chain fields just linked."""
    linked = {k: v for k, v in row.items() if k not in ("_head_seq", "_head_hash")}
    linked.update(chain_seq=link["_seq"], hash=link["_hash"], prev_hash=link["_prev"])
    return linked


_LINKS: dict[Table, Any] = {}


def _link_statement(events: Table):
    stmt = _LINKS.get(events)
    if stmt is None:
        stmt = _LINKS[events] = update(events).where(events.c.id == bindparam("_id")).values(
            chain_seq=bindparam("_seq"), hash=bindparam("_hash"), prev_hash=bindparam("_prev"))
    return stmt


def chain_pending(store, session: Connection, limit: int | None = None) -> int:
    """Link the events not yet in the chain (at most `limit`, `link_pending`); how many
    were linked."""
    return link_pending(store, session, limit, keep=False).linked


class _Tables:
    """The event log's columns that the chain reads and writes, as the revision that added
    the chain left them (a migration must not depend on later changes to the models)."""

    def __init__(self, service: str):
        metadata = MetaData()
        self.service = service
        self.events = Table(
            "event_log", metadata,
            Column("id", BigInteger, primary_key=True),
            *(Column(name, String) for name in ("stream_type", "stream_id", "type", "actor",
                                                "request_id", "hash", "prev_hash")),
            Column("version", Integer), Column("schema_version", Integer),
            Column("payload", JSON), Column("created", DateTime),
            Column("chain_seq", BigInteger))
        self.chain = Table(
            "event_chain", metadata,
            Column("name", String(20), primary_key=True), Column("seq", BigInteger),
            Column("hash", String(64)), Column("updated", DateTime))


def add_chain(op, service: str) -> int:
    """The upgrade of the revision that makes `service`'s log a hash chain: the columns
    (schema version, chain position, hash, previous hash), their indexes, the head table,
    and every event already in the log chained in the order of its ids; how many. What a
    database made from the models already has is left as it is."""
    import sqlalchemy as sa
    inspector = sa.inspect(op.get_bind())
    if "chain_seq" not in {c["name"] for c in inspector.get_columns("event_log")}:
        with op.batch_alter_table("event_log") as batch:
            batch.add_column(sa.Column("schema_version", sa.Integer(), server_default="1",
                                       nullable=False))
            batch.add_column(sa.Column("chain_seq", sa.BigInteger(), nullable=True))
            batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("event_log")}
    if "ix_event_chain_seq" not in indexes:
        op.create_index("ix_event_chain_seq", "event_log", ["chain_seq"], unique=True)
    if "ix_event_unchained" not in indexes:
        op.create_index("ix_event_unchained", "event_log", ["id"], unique=False,
                        sqlite_where=sa.text("chain_seq IS NULL"),
                        postgresql_where=sa.text("chain_seq IS NULL"))
    if not inspector.has_table("event_chain"):
        op.create_table("event_chain",
                        sa.Column("name", sa.String(length=20), nullable=False),
                        sa.Column("seq", sa.BigInteger(), nullable=False),
                        sa.Column("hash", sa.String(length=64), nullable=False),
                        sa.Column("updated", sa.DateTime(), nullable=False),
                        sa.PrimaryKeyConstraint("name"))
    return chain_pending(_Tables(service), op.get_bind())


def verify(store, session: Connection, after: datetime | None = None,
           before: datetime | None = None, digest: dict | None = None) -> dict:
    """Walk the log (or the events recorded in [after, before)) in chain order: "intact"
    with the count of events checked and the last one, or "broken" with the first event
    whose content, order or presence does not match. `digest` (the audit service's last
    digest of this log: last_seq, last_hash) is checked against the log too."""
    events = store.events
    answer: dict = {"service": store.service, "status": "intact", "count": 0, "last": None,
                    "failure": None}
    whole = after is None and before is None
    first, last_seq = 1, None
    # the head is read first and the walk stops there: events committed meanwhile (their
    # head moves with them) are not half seen
    head = session.execute(select(store.chain).where(store.chain.c.name == HEAD)
                           ).mappings().first()
    if whole:
        last_seq = head["seq"] if head else 0
    else:
        conditions = []
        if after is not None:
            conditions.append(events.c.created >= after)
        if before is not None:
            conditions.append(events.c.created < before)
        first, last_seq = session.execute(select(
            func.min(events.c.chain_seq), func.max(events.c.chain_seq)).where(*conditions)).one()
        if first is None:
            return answer
    prev = GENESIS if first == 1 else session.execute(
        select(events.c.hash).where(events.c.chain_seq == first - 1)).scalar()
    walk = ChainWalk(store.service, first, prev)
    if first > 1 and prev is None:  # the range's predecessor is gone
        row = session.execute(select(events).where(events.c.chain_seq == first)).mappings().one()
        walk.fail(row, "presence", f"the event at chain position {first - 1} before it is "
                                   "missing")
        return _result(answer, walk)
    cursor = first
    while True:
        stmt = select(events).where(events.c.chain_seq >= cursor)
        if last_seq is not None:
            stmt = stmt.where(events.c.chain_seq <= last_seq)
        rows = session.execute(stmt.order_by(events.c.chain_seq).limit(BATCH)).mappings().all()
        for row in rows:
            if not walk.step(row):
                return _result(answer, walk)
        if len(rows) < BATCH:
            break
        cursor = rows[-1]["chain_seq"] + 1
    if whole:
        _check_ends(store, session, walk, head, digest)
    return _result(answer, walk)


def _check_ends(store, session: Connection, walk: ChainWalk, head, digest: dict | None):
    """What a walk of the whole log cannot see by itself: a log cut short at its end (the
    head and the audit's digest remember its last event). Events not linked yet (committed
    since the last link) are not part of the chain yet, so not checked; an event taken out
    of the chain leaves a gap at its position, which the walk names."""
    events = store.events
    last = walk.last
    if head is None:
        chained = session.execute(select(events).where(events.c.chain_seq.is_not(None))
                                  .order_by(events.c.chain_seq).limit(1)).mappings().first()
        if chained is not None:
            walk.failure = {**event_name(store.service, chained), "problem": "presence",
                            "detail": "the record of the chain's head is missing"}
            return
    if head is not None and (last is None or head["seq"] != last["chain_seq"]
                             or head["hash"] != last["hash"]):
        where = last["chain_seq"] if last else 0
        detail = (f"the log ends at chain position {where} but its head is at {head['seq']}: "
                  "the events after it are missing" if head["seq"] != where else
                  "the last event is not the one the chain's head names")
        walk.failure = _named(store.service, last, "presence", detail)
        return
    if digest and digest.get("last_seq") is not None:
        row = session.execute(select(events).where(events.c.id == digest["last_seq"])
                              ).mappings().first()
        if row is None:
            walk.failure = _named(store.service, last, "presence",
                                  f"event {store.service}:{digest['last_seq']}, the last one "
                                  "the audit service's digest holds, is missing")
        elif row["hash"] != digest["last_hash"]:
            walk.failure = {**event_name(store.service, row), "problem": "content",
                            "detail": "its hash is not the one the audit service's digest "
                                      "holds"}


def _named(service: str, row, problem: str, detail: str) -> dict:
    if row is None:
        return {"id": None, "seq": None, "chain_seq": None, "stream": None, "version": None,
                "type": None, "created": None, "problem": problem, "detail": detail}
    return {**event_name(service, row), "problem": problem, "detail": detail}


def _result(answer: dict, walk: ChainWalk) -> dict:
    answer["count"] = walk.count
    answer["last"] = event_name(answer["service"], walk.last) if walk.last else None
    answer["last_hash"] = walk.last["hash"] if walk.last else None
    if walk.failure is not None:
        answer["status"] = "broken"
        answer["failure"] = walk.failure
    return answer
