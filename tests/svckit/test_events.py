"""The event log, the relay to a real RabbitMQ, and idempotent subscribers."""
import json
import time

import pytest
from amqp.exceptions import ConnectionForced
from kombu import Connection, Queue
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from svckit.context import Caller
from svckit.errors import ApiError
from svckit.eventcatalog import Empty, EventCatalog, EventPayload
from svckit.events import EventStore, Projector
from svckit.relay import NotConfirmed, Relay, event_exchange

metadata = MetaData()
things = Table("thing", metadata, Column("id", Integer, primary_key=True),
               Column("name", String(50)))
projector = Projector([things])
class ThingCreated(EventPayload):
    name: str
    password: str


catalog = EventCatalog("testsvc", {"thing.created": ThingCreated, "thing.touched": Empty,
                                   "other.touched": Empty})
store = EventStore("testsvc", metadata, projector, catalog)


@projector.on("thing.created")
def _created(s, e):
    s.execute(insert(things).values(id=int(e["stream_id"]), name=e["payload"]["name"]))


@pytest.fixture
def db(make_db):
    return make_db(metadata)


def create(db, name, fail=False):
    with db.write() as s:
        pk = store.next_stream_id(s, "thing")
        store.record(s, "thing", pk, "thing.created", {"name": name, "password": "secret"},
                     Caller(user_id=1, username="ann", request_id="r1"))
        if fail:
            raise ApiError("refused")
    return pk


def test_event_and_table_change_share_one_transaction(db):
    create(db, "a")
    with pytest.raises(ApiError):
        create(db, "b", fail=True)
    with db.read() as s:
        assert s.execute(select(things.c.name)).scalars().all() == ["a"]
        events = s.execute(select(store.events)).mappings().all()
    assert [(e["stream_id"], e["version"], e["type"], e["actor"], e["request_id"])
            for e in events] == [("1", 1, "thing.created", "ann", "r1")]


def test_versions_are_per_stream(db):
    with db.write() as s:
        for _ in range(3):
            store.record(s, "thing", "7", "thing.touched", {})
        store.record(s, "other", "7", "other.touched", {})
    with db.read() as s:
        rows = s.execute(select(store.events.c.stream_type, store.events.c.version)
                         .order_by(store.events.c.id)).all()
    assert rows == [("thing", 1), ("thing", 2), ("thing", 3), ("other", 1)]


def test_stream_ids_are_consecutive_per_type_and_never_reused(db):
    with db.write() as s:
        assert list(store.next_stream_ids(s, "thing", 3)) == [1, 2, 3]  # the counter's first use
        assert store.next_stream_id(s, "thing") == 4
        assert store.next_stream_id(s, "other") == 1
    with pytest.raises(ApiError):
        with db.write() as s:
            assert list(store.next_stream_ids(s, "thing", 2)) == [5, 6]
            raise ApiError("refused")  # rolled back: the ids are free again
    with db.write() as s:
        assert list(store.next_stream_ids(s, "thing", 2)) == [5, 6]
    with db.read() as s:
        assert dict(s.execute(select(store.sequence.c.name, store.sequence.c.value)).all()) \
            == {"thing": 6, "other": 1}


def test_new_streams_are_projected_at_once_where_a_batch_handler_exists(db):
    batches = []
    many = Projector([things])
    many.on("thing.created")(_created)

    @many.on_many("thing.created")
    def _created_many(s, events):
        batches.append([e["stream_id"] for e in events])
        s.execute(insert(things), [{"id": int(e["stream_id"]), "name": e["payload"]["name"]}
                                   for e in events])

    batch_store = EventStore("testsvc", MetaData(), many, catalog)
    with db.write() as s:
        ids = list(store.next_stream_ids(s, "thing", 3))
        batch_store.record_new_streams(s, "thing", ids, "thing.created", [
            {"name": n, "password": "p"} for n in ("x", "y", "z")])
        store.record_new_streams(s, "thing", [9], "thing.created",
                                 [{"name": "one by one", "password": "p"}])
    assert batches == [["1", "2", "3"]]
    with db.read() as s:
        assert s.execute(select(things.c.id, things.c.name).order_by(things.c.id)).all() == [
            (1, "x"), (2, "y"), (3, "z"), (9, "one by one")]
        assert s.execute(select(store.events.c.stream_id, store.events.c.version)
                         .order_by(store.events.c.id)).all() == [
            ("1", 1), ("2", 1), ("3", 1), ("9", 1)]


def test_apply_many_keeps_the_order_of_runs_of_types(db):
    seen = []
    mixed = Projector([])
    mixed.on("a", "b")(lambda s, e: seen.append(("one", e["type"], e["id"])))
    mixed.on_many("a")(lambda s, es: seen.append(("many", "a", [e["id"] for e in es])))
    with db.write() as s:
        mixed.apply_many(s, [{"type": "a", "id": 1}, {"type": "a", "id": 2},
                             {"type": "b", "id": 3}, {"type": "a", "id": 4}])
    assert seen == [("many", "a", [1, 2]), ("one", "b", 3), ("many", "a", [4])]


def test_subscriber_receipts_are_idempotent(db):
    with db.write() as s:
        assert store.mark_processed(s, "audit", "testsvc:1") is True
    with db.write() as s:
        assert store.mark_processed(s, "audit", "testsvc:1") is False


def drained(queue) -> list[dict]:
    """The events waiting in `queue`, decoded."""
    received = []
    while (message := queue.get(no_ack=True)) is not None:
        received.append(json.loads(message.body))
    return received


def test_relay_publishes_in_order_once_confirmed(db, rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        queue = Queue("test-relay", exchange=event_exchange("testsvc"), routing_key="#",
                      durable=False, auto_delete=False)(conn.default_channel)
        queue.declare()
        for name in ("a", "b", "c"):
            create(db, name)
        relay = Relay("testsvc", db, store, uri)
        try:
            assert relay.pump() == 3
            assert relay.pump() == 0  # marked published: not sent again
        finally:
            relay.close()
        received = drained(queue)
    assert [e["payload"]["name"] for e in received] == ["a", "b", "c"]
    assert [e["id"] for e in received] == ["testsvc:1", "testsvc:2", "testsvc:3"]
    assert all("password" not in e["payload"] for e in received)  # secrets stay home
    assert received[0]["type"] == "thing.created" and received[0]["version"] == 1


def published_ids(db) -> list[int]:
    with db.read() as s:
        return list(s.execute(select(store.events.c.id).where(
            store.events.c.published.is_not(None)).order_by(store.events.c.id)).scalars())


def test_a_batch_is_marked_published_by_the_next_pass(db, rabbit_config):
    """A confirmed batch is marked published in the transaction of the relay's next pass
    (or by `flush`), and never sent again."""
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        queue = Queue("test-relay-marks", exchange=event_exchange("testsvc"), routing_key="#",
                      durable=False, auto_delete=True)(conn.default_channel)
        queue.declare()
        create(db, "a")
        relay = Relay("testsvc", db, store, uri)
        try:
            assert relay.pump() == 1
            assert published_ids(db) == []  # confirmed: marked by the next pass
            create(db, "b")
            assert relay.pump() == 1  # "b" only; "a" marked on the way
            assert published_ids(db) == [1]
            relay.flush()
            assert published_ids(db) == [1, 2]
            assert relay.pump() == 0
        finally:
            relay.close()
        names = [e["payload"]["name"] for e in drained(queue)]
    assert names == ["a", "b"]


def test_events_linked_by_someone_else_are_published_too(db, rabbit_config):
    """A verification links what the relay has not linked yet (svckit.chainlog): the relay
    sees the chain's head moved and publishes those events as well, in chain order."""
    from svckit import chainlog
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        queue = Queue("test-relay-linked", exchange=event_exchange("testsvc"),
                      routing_key="#", durable=False, auto_delete=True)(conn.default_channel)
        queue.declare()
        create(db, "a")
        relay = Relay("testsvc", db, store, uri)
        try:
            assert relay.pump() == 1
            create(db, "b")
            with db.write() as s:  # as verify_event_log does before it walks
                assert chainlog.chain_pending(store, s) == 1
            create(db, "c")
            assert relay.pump() == 2
            assert relay.pump() == 0
        finally:
            relay.close()
        received = drained(queue)
    assert [e["payload"]["name"] for e in received] == ["a", "b", "c"]
    assert [e["chain_seq"] for e in received] == [1, 2, 3]


def test_a_batch_the_broker_refuses_is_not_marked_published(db, rabbit_config):
    """A queue that rejects publishes past its length makes the broker nack: the relay's
    pass fails, nothing is marked published, and the next pass sends the batch again."""
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        queue = Queue("test-relay-full", exchange=event_exchange("testsvc"), routing_key="#",
                      durable=False, auto_delete=False,
                      queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
                      )(conn.default_channel)
        queue.declare()
        for name in ("a", "b", "c"):
            create(db, name)
        relay = Relay("testsvc", db, store, uri)
        try:
            with pytest.raises(NotConfirmed):
                relay.pump()
            with db.read() as s:
                assert s.execute(select(store.events.c.id).where(
                    store.events.c.published.is_not(None))).all() == []
            queue.purge()
            queue.delete()
            assert relay.pump() == 3  # the queue is gone: every event confirmed now
        finally:
            relay.close()


def test_a_relay_whose_broker_went_silent_fails_over_without_waiting_for_confirms(
        db, rabbit_config):
    """The relay's connection goes silent while it waits for a batch's confirms (its node's
    host gone: no FIN, no RST): missed heartbeats tell it broken, and the pass fails with
    that, not with NotConfirmed after CONFIRM_TIMEOUT; the next pass connects to the next
    node and publishes the batch."""
    from tests.tcpproxy import proxied

    uri = rabbit_config["AMQP_URI"]
    proxy, through = proxied(uri)
    relay = Relay("testsvc", db, store, f"{through};{uri}")  # the proxied node first
    try:
        create(db, "a")
        assert relay.pump() == 1
        create(db, "b")
        proxy.freeze()
        with pytest.raises(ConnectionForced, match="heartbeats missed"):
            relay.pump()
        proxy.cut()  # the silent node is gone for good: the next one answers
        assert relay.pump() == 1
        relay.flush()  # confirmed: marked published (by the next pass, or here)
        with db.read() as s:
            assert s.execute(select(store.events.c.id).where(
                store.events.c.published.is_(None))).all() == []
    finally:
        relay.close()
        proxy.cut()


def test_only_one_relay_holds_the_lease(db, rabbit_config):
    create(db, "a")
    first = Relay("testsvc", db, store, rabbit_config["AMQP_URI"])
    second = Relay("testsvc", db, store, rabbit_config["AMQP_URI"])
    try:
        assert first.pump() == 1
        create(db, "b")
        assert second.pump() == 0  # the lease is held by the first
        assert first.pump() == 1
    finally:
        first.close()
        second.close()


def test_a_relay_takes_over_when_the_other_relays_lease_runs_out(db, rabbit_config):
    """A relay that found the lease held does not read it again until it runs out; then
    it takes the lease over and publishes what waited."""
    from datetime import timedelta

    from sqlalchemy import update

    from svckit.events import utcnow
    create(db, "a")
    first = Relay("testsvc", db, store, rabbit_config["AMQP_URI"])
    second = Relay("testsvc", db, store, rabbit_config["AMQP_URI"])
    try:
        assert first.pump() == 1
        first.flush()  # its relay loop marks "a" published within a second
        with db.write() as s:  # the first replica's lease runs out in a second
            s.execute(update(store.lease).values(until=utcnow() + timedelta(seconds=1)))
        create(db, "b")
        assert second.pump() == 0  # held by the first
        with db.write() as s:
            s.execute(update(store.lease).values(until=utcnow() - timedelta(seconds=1)))
        assert second.pump() == 0  # not read again before the time it read
        time.sleep(1.2)
        assert second.pump() == 1  # ran out: taken over
    finally:
        first.close()
        second.close()


def test_a_relay_that_loses_the_race_for_the_lease_waits_without_an_error(db, rabbit_config):
    """Two replicas starting together both find no lease row and insert one: the second
    insert fails on the primary key. That relay does not hold the lease (returns, to try
    again later), rather than raising an IntegrityError logged as a relay failure."""
    from datetime import timedelta

    import eventlet

    from svckit.events import utcnow
    if db.is_sqlite:
        pytest.skip("SQLite's single writer serialises the two inserts: no race")
    create(db, "a")
    other = db.engine.connect()
    relay = Relay("testsvc", db, store, rabbit_config["AMQP_URI"])
    try:
        racing = other.begin()
        other.execute(insert(store.lease).values(
            name="relay", owner="the-other-replica", until=utcnow() + timedelta(seconds=60)))
        pumping = eventlet.spawn(relay.pump)  # finds no row; its insert waits on ours
        eventlet.sleep(1.0)
        racing.commit()
        assert pumping.wait() == 0  # no lease, nothing published, nothing raised
    finally:
        other.close()
        relay.close()
