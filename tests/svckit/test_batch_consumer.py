"""Batch consumption of events against a real RabbitMQ: batches no larger than asked for,
every event delivered, a batch whose handler fails delivered again, and the service's RPC
answered while a backlog is handled."""
import time

import pytest
from kombu import Connection, Producer
from sqlalchemy import MetaData

from svckit.batch_consumer import BatchEventConsumer
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.events import EventStore, Projector
from svckit.relay import event_exchange
from svckit.rpc_client import RpcClient
from svckit.service import ServiceBase, Store, rpc
from svckit.settings import ServiceSettings

metadata = MetaData()
store = EventStore("batchsvc", metadata, Projector([]))
seen: list[list[int]] = []
failures = {"left": 0}
busy = {"seconds": 0.0}  # CPU time each batch takes without yielding (a handler's work)


def handle(db, events):
    assert db is not None  # the Store's database, made in its own setup
    if failures["left"]:
        failures["left"] -= 1
        raise RuntimeError("database unavailable")
    until = time.monotonic() + busy["seconds"]
    while time.monotonic() < until:
        pass
    seen.append([e["seq"] for e in events])


class BatchService(ServiceBase):
    name = "batchsvc"
    db = Store(store, relay=False)
    events = BatchEventConsumer(lambda settings: ["batchsrc"], handle, batch=50, linger=0.05)

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def handled(self) -> int:
        return sum(len(batch) for batch in seen)


class BatchSettings(ServiceSettings):
    BATCHSVC_DATABASE_URL: str | None = None


@pytest.fixture
def running(tmp_path, rabbit_config, container_factory):
    settings = BatchSettings(BATCHSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'b.sqlite3'}",
                             AMQP_URI=rabbit_config["AMQP_URI"],
                             INVENTREE_DATA_DIR=str(tmp_path))
    seen.clear()
    busy["seconds"] = 0.0
    container = container_factory(BatchService, container_config(settings))
    container.start()
    yield rabbit_config["AMQP_URI"], settings


def wait_for_queue(uri, name="evt-batchsrc-#--batchsvc.on_batchsrc_event", seconds=10):
    """Until the consumer has declared its queue (events published before are lost)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with Connection(uri) as conn:
                conn.default_channel.queue_declare(name, passive=True)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def publish(uri, seqs):
    with Connection(uri) as conn:
        producer = Producer(conn.default_channel)
        for seq in seqs:
            producer.publish({"id": f"batchsrc:{seq}", "seq": seq}, serializer="json",
                             exchange=event_exchange("batchsrc"), routing_key="thing.done",
                             declare=[event_exchange("batchsrc")])


def wait_for(count, seconds=10):
    deadline = time.monotonic() + seconds
    while sum(len(b) for b in seen) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_events_arrive_in_bounded_batches(running):
    running, _ = running
    wait_for_queue(running)
    publish(running, range(1, 131))
    wait_for(130)
    assert sorted(s for batch in seen for s in batch) == list(range(1, 131))
    assert max(len(b) for b in seen) <= 50 and len(seen) >= 3


def test_a_failed_batch_is_delivered_again(running):
    running, _ = running
    wait_for_queue(running)
    failures["left"] = 1
    publish(running, range(1, 11))
    wait_for(10, seconds=15)
    assert sorted(s for batch in seen for s in batch) == list(range(1, 11))


def test_the_service_answers_while_a_backlog_is_handled(running):
    """Under a backlog the consumer's socket always has data, so reading it never waits;
    the consumer yields after each batch so that the service's RPC is not held until the
    backlog is gone."""
    uri, settings = running
    wait_for_queue(uri)
    busy["seconds"] = 0.02
    total = 2000
    publish(uri, range(1, total + 1))
    wait_for(1)
    client = RpcClient(uri, timeout=60, signer=settings.caller_signer())
    try:
        answered_at = client.call("batchsvc", "handled", Caller())
    finally:
        client.close()
    assert answered_at < total
    wait_for(total, seconds=120)
    assert sorted(s for batch in seen for s in batch) == list(range(1, total + 1))
