"""The nameko glue against a real RabbitMQ: caller context, errors crossing the RPC hop,
events published after a write, unexpected errors logged as `error.logged`."""
import json
import time

import eventlet
import pytest
from kombu import Connection, Queue
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.errors import ServiceUnavailable, ValidationFailed
from svckit.eventcatalog import EventCatalog, EventPayload
from svckit.events import EventStore, Projector
from svckit.relay import event_exchange
from svckit.rpc_client import RemoteFailure, RpcClient
from svckit.service import CallerProvider, ServiceBase, Store, rpc
from tests.helpers import service_settings

metadata = MetaData()
notes = Table("note", metadata, Column("id", Integer, primary_key=True), Column("text", String(50)))
projector = Projector([notes])
class NoteCreated(EventPayload):
    text: str


store = EventStore("gluesvc", metadata, projector,
                   EventCatalog("gluesvc", {"note.created": NoteCreated}))


@projector.on("note.created")
def _created(s, e):
    s.execute(insert(notes).values(id=int(e["stream_id"]), text=e["payload"]["text"]))


class GlueService(ServiceBase):
    name = "gluesvc"
    db = Store(store, publish_before_reply=True)
    caller = CallerProvider()

    @rpc
    def whoami(self):
        return self.caller.model_dump(mode="json")

    @rpc
    def refuse(self):
        raise ValidationFailed({"text": ["Not like that"]})

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return seconds

    @rpc
    def crash(self):
        raise RuntimeError("kaboom")

    @rpc
    def add(self, text):
        with self.db.write() as s:
            pk = store.next_stream_id(s, "note")
            store.record(s, "note", pk, "note.created", {"text": text}, self.caller)
        return pk


@pytest.fixture
def running(tmp_path, rabbit_config, container_factory):
    url = f"sqlite:///{tmp_path / 'glue.sqlite3'}"
    settings = service_settings(rabbit_config["AMQP_URI"], tmp_path, GLUESVC_DATABASE_URL=url)
    db = Database(url, metadata)
    db.create_all()
    container = container_factory(GlueService, container_config(settings))
    container.start()
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=5, signer=settings.caller_signer())
    yield client, db, rabbit_config["AMQP_URI"]
    client.close()
    db.dispose()


def test_caller_context_travels_in_the_headers(running):
    client, _, _ = running
    caller = Caller(user_id=7, username="kim", is_staff=True, roles={"part": ["view"]},
                    request_id="req-1")
    assert client.call("gluesvc", "whoami", caller) == caller.model_dump(mode="json")


def test_api_errors_arrive_as_themselves(running):
    client, _, _ = running
    with pytest.raises(ValidationFailed) as info:
        client.call("gluesvc", "refuse")
    assert info.value.detail == {"text": ["Not like that"]} and info.value.status == 400


def test_unexpected_errors_are_logged_as_events(running):
    client, db, _ = running
    with pytest.raises(RemoteFailure) as info:
        client.call("gluesvc", "crash", Caller(username="kim", request_id="req-9"), path="/api/x/")
    assert info.value.exc_type == "RuntimeError"
    deadline = time.monotonic() + 5  # recorded after the reply went out
    event = None
    while event is None and time.monotonic() < deadline:
        with db.read() as s:
            event = s.execute(select(store.events).where(
                store.events.c.type == "error.logged")).mappings().first()
        time.sleep(0.05)
    assert event["payload"]["kind"] == "RuntimeError" and event["payload"]["path"] == "/api/x/"
    assert "kaboom" in event["payload"]["data"] and event["request_id"] == "req-9"


def test_write_publishes_its_event_before_replying(running):
    client, db, uri = running
    with Connection(uri) as conn:
        queue = Queue("glue-watch", exchange=event_exchange("gluesvc"), routing_key="note.#",
                      durable=False)(conn.default_channel)
        queue.declare()
        pk = client.call("gluesvc", "add", Caller(username="kim"), text="hello")
        message = queue.get(no_ack=True)  # already there: published before the reply
        assert message is not None
        event = json.loads(message.body)
    assert event["type"] == "note.created" and event["stream_id"] == str(pk)
    assert event["actor"] == "kim" and event["payload"] == {"text": "hello"}
    # marked published by the relay's next pass, in its own transaction (its loop wakes
    # at least once a second)
    deadline = time.monotonic() + 10
    while True:
        with db.read() as s:
            published = s.execute(select(store.events.c.published)).scalar()
        if published is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert published is not None


def test_unknown_service_answers_503_at_once(rabbit_config, tmp_path):
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=30,
                       signer=service_settings("", tmp_path).caller_signer())
    with pytest.raises(ServiceUnavailable) as info:
        client.call("nobody_home", "ping")
    # the broker returned the request (waiting out the timeout would say "did not answer")
    assert info.value.detail == {"detail": "The nobody_home service is not running"}
    client.close()


def test_timeout_answers_503_and_the_next_call_gets_its_own_answer(running):
    client, _, _ = running
    with pytest.raises(ServiceUnavailable) as info:
        client.call("gluesvc", "slow", timeout=0.2, seconds=1)
    assert info.value.detail == {"detail": "The gluesvc service did not answer within 0.2 s: "
                                           "the outcome of the request is unknown; repeating "
                                           "it with the same Idempotency-Key is safe"}
    assert client.call("gluesvc", "slow", seconds=0) == 0  # not the late answer (1)
    time.sleep(1)
    assert client.call("gluesvc", "slow", seconds=0) == 0


def test_a_connection_the_broker_closed_is_replaced(running, rabbit_manager):
    client, _, _ = running
    assert client.call("gluesvc", "ping") == "pong"
    port = client._conn.connection.sock.getsockname()[1]
    ours, deadline = [], time.monotonic() + 15  # the management API lists it after a while
    while not ours and time.monotonic() < deadline:
        ours = [c["name"] for c in rabbit_manager.get_connections() if c.get("peer_port") == port]
        time.sleep(0.2)
    assert len(ours) == 1
    rabbit_manager.delete_connection(ours[0])
    time.sleep(0.5)  # the broker has closed it; the client has not noticed yet
    assert client.call("gluesvc", "ping") == "pong"


class LazyGlueService(GlueService):
    """The default: events published by the relay loop, after the reply."""
    name = "lazyglue"
    db = Store(store)


def test_default_relay_publishes_soon_after(tmp_path, rabbit_config, container_factory):
    url = f"sqlite:///{tmp_path / 'lazy.sqlite3'}"
    settings = service_settings(rabbit_config["AMQP_URI"], tmp_path, LAZYGLUE_DATABASE_URL=url)
    db = Database(url, metadata)
    db.create_all()
    container = container_factory(LazyGlueService, container_config(settings))
    container.start()
    client = RpcClient(rabbit_config["AMQP_URI"], timeout=5, signer=settings.caller_signer())
    try:
        with Connection(rabbit_config["AMQP_URI"]) as conn:
            queue = Queue("lazy-watch", exchange=event_exchange("lazyglue"),
                          routing_key="note.#", durable=False)(conn.default_channel)
            queue.declare()
            for text in ("a", "b", "c"):
                client.call("lazyglue", "add", Caller(username="kim"), text=text)
            got, deadline = [], time.monotonic() + 5
            while len(got) < 3 and time.monotonic() < deadline:
                message = queue.get(no_ack=True)
                if message is None:
                    time.sleep(0.02)
                else:
                    got.append(json.loads(message.body)["payload"]["text"])
        assert got == ["a", "b", "c"]
    finally:
        client.close()
        db.dispose()
