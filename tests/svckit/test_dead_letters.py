"""Dead letters against a real RabbitMQ, with classic and with quorum queues: a poison event
is parked after AMQP_DELIVERY_LIMIT attempts while the next good event is processed; an
undecodable event and a malformed RPC request are parked at once and the service goes on;
`python -m svckit.deadletters` lists, shows, requeues and purges them."""
import io
import json
import time

import eventlet
import pytest
from kombu import Connection, Exchange, Producer, Queue
from nameko.events import SERVICE_POOL
from prometheus_client import REGISTRY
from sqlalchemy import MetaData

from svckit import deadletters, parking
from svckit.batch_consumer import BatchEventConsumer
from svckit.broker import durable_queue_arguments
from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.events import EventStore, Projector
from svckit.relay import event_exchange
from svckit.rpc_client import RpcClient
from svckit.service import ServiceBase, Store, event_handler, rpc
from tests.helpers import service_settings

LIMIT = 3
EVENT_QUEUE = "evt-dlqsrc-thing.done--dlqsvc.on_thing"
BATCH_QUEUE = "evt-dlqsrc-#--dlqsvc.on_dlqsrc_event"
RPC_QUEUE = "rpc-dlqsvc"

store = EventStore("dlqsvc", MetaData(), Projector([]))
handled: list[int] = []
batched: list[int] = []
attempts: dict[int, int] = {}
cured: set[int] = set()


def record_batch(db, events):
    if any(e.get("poison") and e["seq"] not in cured for e in events):
        raise ValueError("cannot record a poison event")
    batched.extend(e["seq"] for e in events)


class DeadLetterService(ServiceBase):
    name = "dlqsvc"
    db = Store(store, relay=False)
    events = BatchEventConsumer(lambda settings: ["dlqsrc"], record_batch, batch=50,
                                linger=0.05)

    @event_handler("dlqsrc", "thing.done", handler_type=SERVICE_POOL)
    def on_thing(self, event):
        attempts[event["seq"]] = attempts.get(event["seq"], 0) + 1
        if event.get("poison") and event["seq"] not in cured:
            raise ValueError(f"event {event['seq']} cannot be processed")
        handled.append(event["seq"])

    @rpc
    def echo(self, value):
        return value


def dlq_settings(uri: str, tmp_path, queue_type: str):
    """The test service's settings: its queue type, AMQP_DELIVERY_LIMIT of LIMIT."""
    return service_settings(uri, tmp_path, AMQP_QUEUE_TYPE=queue_type,
                            AMQP_DELIVERY_LIMIT=LIMIT,
                            DLQSVC_DATABASE_URL=f"sqlite:///{tmp_path / 'dlq.sqlite3'}")


@pytest.fixture(params=["classic", "quorum"])
def running(request, tmp_path, rabbit_config, container_factory):
    """(the broker's URI, the service's settings) of the running test service."""
    uri = rabbit_config["AMQP_URI"]
    settings = dlq_settings(uri, tmp_path, request.param)
    for seen in (handled, batched, attempts, cured):
        seen.clear()
    container = container_factory(DeadLetterService, container_config(settings))
    container.start()
    wait_until(lambda: all(queue_exists(uri, q) for q in (EVENT_QUEUE, BATCH_QUEUE)))
    yield uri, settings
    parking.parking_for(uri, request.param).close()


def queue_exists(uri, name) -> bool:
    with Connection(uri) as conn:
        try:
            conn.channel().queue_declare(name, passive=True)
            return True
        except Exception:
            return False


def wait_until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def publish_event(uri, seq, poison=False, raw=None, content_type="application/json"):
    with Connection(uri) as conn:
        producer = Producer(conn.default_channel)
        if raw is not None:
            producer.publish(raw, exchange=event_exchange("dlqsrc"), routing_key="thing.done",
                             content_type=content_type, content_encoding="utf-8",
                             declare=[event_exchange("dlqsrc")])
            return
        producer.publish({"id": f"dlqsrc:{seq}", "seq": seq, "poison": poison},
                         serializer="json", exchange=event_exchange("dlqsrc"),
                         routing_key="thing.done", declare=[event_exchange("dlqsrc")])


@pytest.fixture
def cli(monkeypatch, rabbit_config):
    """`python -m svckit.deadletters argv...` with the test broker as its AMQP_URI: what it
    printed."""
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])

    def run(*argv) -> str:
        out = io.StringIO()
        assert deadletters.main(list(argv), out=out) == 0
        return out.getvalue()
    return run


def parked(uri, queue) -> int:
    with Connection(uri) as conn:
        return deadletters.parked_count(conn, queue) or 0


def test_the_cli_finds_the_queues_a_service_declares(running, monkeypatch):
    uri, settings = running
    assert sorted(deadletters.queues_of(DeadLetterService, "dlqsvc", settings)) == sorted(
        [RPC_QUEUE, EVENT_QUEUE, BATCH_QUEUE])
    assert all(queue_exists(uri, q) and queue_exists(uri, parking.dead_queue_name(q))
               for q in (RPC_QUEUE, EVENT_QUEUE, BATCH_QUEUE))
    assert "rpc-system" in deadletters.known_queues()
    # the audit service's batch queues follow its settings (AUDIT_SOURCES)
    monkeypatch.setenv("AUDIT_SOURCES", "users,dlqsrc")
    assert sorted(q for q in deadletters.service_queues("audit") if q.startswith("evt-")) == [
        "evt-dlqsrc-#--audit.on_dlqsrc_event", "evt-users-#--audit.on_users_event"]


def test_a_poison_event_is_parked_after_the_limit_and_the_next_one_goes_on(running, cli):
    running, _ = running  # the broker's URI
    publish_event(running, 1, poison=True)
    publish_event(running, 2)
    wait_until(lambda: 2 in handled and 2 in batched)
    wait_until(lambda: parked(running, EVENT_QUEUE) == 1 and parked(running, BATCH_QUEUE) == 1)
    assert attempts[1] == LIMIT  # tried exactly as often as allowed, then parked
    assert 1 not in handled and 1 not in batched
    # counted once the parking's publish returned: the broker may show the message first
    wait_until(lambda: parking.parked_counts().get(EVENT_QUEUE, 0) >= 1)
    # and exported, what the InventreeDeadLetters alert (deploy/k8s) reads
    assert REGISTRY.get_sample_value("inventree_dead_letters_total",
                                     {"queue": EVENT_QUEUE}) >= 1

    listing = cli("list", EVENT_QUEUE, BATCH_QUEUE, RPC_QUEUE)
    assert any(line.split() == [EVENT_QUEUE, "1"] for line in listing.splitlines())
    assert any(line.split() == [RPC_QUEUE, "0"] for line in listing.splitlines())
    shown = cli("show", EVENT_QUEUE)
    assert f"failed {LIMIT} times; the last time: ValueError: event 1 cannot be processed" in shown
    assert '\\"seq\\": 1' in shown or '"seq": 1' in shown
    assert parked(running, EVENT_QUEUE) == 1  # showing takes nothing away

    cured.add(1)  # the cause is fixed: requeued, it is processed
    assert f"{EVENT_QUEUE}: 1 message(s) requeued" in cli("requeue", EVENT_QUEUE, BATCH_QUEUE)
    wait_until(lambda: 1 in handled and 1 in batched)
    assert parked(running, EVENT_QUEUE) == 0 and parked(running, BATCH_QUEUE) == 0
    assert handled.count(1) == 1  # the requeued copy went to its own queue only


def test_an_undecodable_event_is_parked_at_once(running, cli):
    running, _ = running
    publish_event(running, 0, raw=b"{not json")
    publish_event(running, 3)
    wait_until(lambda: 3 in handled and 3 in batched)
    wait_until(lambda: parked(running, EVENT_QUEUE) == 1 and parked(running, BATCH_QUEUE) == 1)
    assert "undecodable body" in cli("show", BATCH_QUEUE)
    assert f"{BATCH_QUEUE}: 1 message(s) purged" in cli("purge", BATCH_QUEUE)
    assert parked(running, BATCH_QUEUE) == 0


def test_an_event_that_is_not_json_by_its_content_type_is_parked_at_once(running, cli):
    """The batch consumer decodes bodies itself (svckit.batch_consumer.decoded): a JSON body
    sent as another content type is refused as kombu's `accept=["json"]` refuses it."""
    running, _ = running
    publish_event(running, 0, raw=b'{"id": "dlqsrc:0", "seq": 0}', content_type="text/plain")
    publish_event(running, 4)
    wait_until(lambda: 4 in batched and parked(running, BATCH_QUEUE) == 1)
    assert 0 not in batched
    assert "content type 'text/plain' is not application/json" in cli("show", BATCH_QUEUE)


def test_malformed_rpc_requests_are_parked_and_calls_go_on(running, cli):
    running, settings = running
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    with Connection(running) as conn:
        producer = Producer(conn.default_channel)
        # not JSON although it says so, with somewhere to answer
        producer.publish(b"\x00garbage", exchange=exchange, routing_key="dlqsvc.echo",
                         content_type="application/json", content_encoding="utf-8",
                         reply_to="nowhere", correlation_id="c1")
        # well-formed, but nobody to answer
        producer.publish(json.dumps({"args": [], "kwargs": {"value": 1}}),
                         exchange=exchange, routing_key="dlqsvc.echo",
                         content_type="application/json", content_encoding="utf-8")
    wait_until(lambda: parked(running, RPC_QUEUE) == 2)
    client = RpcClient(running, timeout=30, signer=settings.caller_signer())
    try:
        assert client.call("dlqsvc", "echo", Caller(), value=7) == 7
    finally:
        client.close()
    shown = cli("show", RPC_QUEUE)
    assert "undecodable body" in shown and "an RPC request without reply_to" in shown


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_a_message_that_kills_every_consumer_is_parked_after_the_limit(queue_type,
                                                                        rabbit_config, cli):
    """Consumers that take a message, check it as svckit's do, and die before acknowledging
    it (their connection closes): the message is parked after AMQP_DELIVERY_LIMIT of them,
    whether the queue counts deliveries (quorum) or not (classic)."""
    uri = rabbit_config["AMQP_URI"]
    queue = Queue("crashq", durable=True, auto_delete=False,
                  queue_arguments=durable_queue_arguments(queue_type))
    guard = parking.Guard(parking.parking_for(uri, queue_type), "crashq", "crashsvc",
                          lambda message: message.ack(), LIMIT)
    with Connection(uri) as conn:
        Producer(conn.default_channel).publish({"kills": "everyone"}, serializer="json",
                                               routing_key="crashq", declare=[queue])
        guard.declare(conn.default_channel)
    handled_by_a_consumer = 0
    try:
        for _ in range(4 * LIMIT):
            if parked(uri, "crashq"):
                break
            with Connection(uri) as conn:
                message = queue(conn.channel()).get(no_ack=False, accept=["json"])
                assert message is not None
                if guard.admit(message):
                    handled_by_a_consumer += 1  # ... and the consumer dies: no ack
    finally:
        parking.parking_for(uri, queue_type).close()
    assert parked(uri, "crashq") == 1
    assert handled_by_a_consumer == LIMIT
    with Connection(uri) as conn:
        assert queue(conn.channel()).get(no_ack=True) is None  # nothing left behind
    assert f"delivered {LIMIT} times without being processed" in cli("show", "crashq")


@pytest.mark.parametrize("queue_type", ["classic", "quorum"])
def test_an_rpc_request_whose_consumer_died_is_answered_by_the_next(
        queue_type, tmp_path, rabbit_config, container_factory):
    """A request taken by a replica that died before answering comes back to the next one,
    which answers it (on a classic queue after putting it back, counted, through the
    service's retry exchange: the method is still the one called)."""
    uri = rabbit_config["AMQP_URI"]
    settings = dlq_settings(uri, tmp_path, queue_type)
    container = container_factory(DeadLetterService,
                                  container_config(settings))  # not started yet
    queue = Queue(RPC_QUEUE, exchange=Exchange("nameko-rpc", type="topic", durable=True),
                  routing_key="dlqsvc.*", durable=True,
                  queue_arguments=durable_queue_arguments(queue_type))
    with Connection(uri) as conn:
        queue(conn.default_channel).declare()
    client = RpcClient(uri, timeout=60, signer=settings.caller_signer())
    try:
        answer = eventlet.spawn(client.call, "dlqsvc", "echo", Caller(), value=5)
        deadline = time.monotonic() + 60
        while True:  # a replica takes the request and dies (its connection closes)
            with Connection(uri) as conn:
                if queue(conn.channel()).get(no_ack=False) is not None:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        container.start()
        assert answer.wait() == 5
    finally:
        client.close()
        parking.parking_for(uri, queue_type).close()
    assert parked(uri, RPC_QUEUE) == 0
