"""svckit.idempotency against a real RabbitMQ and real databases (SQLite, PostgreSQL): an RPC
whose signed caller carries a key is applied once, however often it arrives, and every
arrival answers the first answer; the key is stored in the transaction of the write."""
import json
import time
import uuid
from datetime import timedelta

import eventlet
import pytest
from kombu import Connection, Consumer, Exchange, Producer, Queue
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.exc import IntegrityError

from svckit.container_settings import container_config
from svckit.context import Caller
from svckit.db import Database
from svckit.errors import ApiError, ValidationFailed
from svckit.eventcatalog import EventCatalog, EventPayload
from svckit.events import EventStore, Projector
from svckit.rpc_client import RpcClient
from svckit.service import CallerProvider, ServiceBase, Store, rpc
from svckit.signing import CALLER_HEADER, SIGNATURE_HEADER, CallerSigner
from tests.helpers import service_settings

metadata = MetaData()
notes = Table("note", metadata, Column("id", Integer, primary_key=True), Column("text", String(50)))
# a domain rule a concurrent duplicate fails on (as an upload's unique incoming key), and
# what such a failure cleans up after itself (as the file it placed is released)
unique_notes = Table("unique_note", metadata, Column("text", String(50), primary_key=True))
cleanups = Table("cleanup", metadata, Column("id", Integer, primary_key=True),
                 Column("text", String(50)))
projector = Projector([notes])
class NoteCreated(EventPayload):
    text: str


store = EventStore("idemsvc", metadata, projector,
                   EventCatalog("idemsvc", {"note.created": NoteCreated}))
RUNS: list[str] = []  # methods that ran in this process (the container runs in it)


@projector.on("note.created")
def _created(s, e):
    s.execute(insert(notes).values(id=int(e["stream_id"]), text=e["payload"]["text"]))


def _add(s, caller, text) -> int:
    pk = store.next_stream_id(s, "note")
    store.record(s, "note", pk, "note.created", {"text": text}, caller)
    return pk


class IdemService(ServiceBase):
    name = "idemsvc"
    db = Store(store)
    caller = CallerProvider()

    @rpc
    def add(self, text, seconds=0):
        RUNS.append("add")
        with self.db.write() as s:
            pk = _add(s, self.caller, text)
            eventlet.sleep(seconds)
        return {"pk": pk, "text": text}

    @rpc
    def add_then_fail(self, text):
        with self.db.write() as s:
            _add(s, self.caller, text)
        raise ValidationFailed({"text": ["refused after the write"]})

    @rpc
    def fail_inside(self, text):
        with self.db.write() as s:
            _add(s, self.caller, text)
            raise ValidationFailed({"text": ["refused inside the write"]})

    @rpc
    def add_then_read(self, text):
        """A read after the write (work that needs the commit): the key is committed with
        the write, as pending, and its answer stored when the entrypoint returns."""
        with self.db.write() as s:
            pk = _add(s, self.caller, text)
        with self.db.read() as s:
            count = s.execute(select(func.count()).select_from(notes)).scalar()
        return {"pk": pk, "count": count}

    @rpc
    def add_unique(self, text, seconds=0):
        """A write under a unique rule; a failure on it (a duplicate committed first) is
        cleaned up in a write unit of its own, then raised: an unexpected exception."""
        try:
            with self.db.write() as s:
                s.execute(insert(unique_notes).values(text=text))
                pk = _add(s, self.caller, text)
                eventlet.sleep(seconds)
        except IntegrityError:
            with self.db.write() as s:
                s.execute(insert(cleanups).values(text=text))
            raise
        return {"pk": pk, "text": text}

    @rpc
    def add_upload(self, text, upload):
        """A write that takes an upload by claim check (its key differs for every send of
        a request: the gateway stores the file anew)."""
        with self.db.write() as s:
            pk = _add(s, self.caller, f"{text}:{upload['sha256']}")
        return {"pk": pk}

    @rpc
    def count(self):
        with self.db.read() as s:
            return s.execute(select(func.count()).select_from(notes)).scalar()


@pytest.fixture
def signer(tmp_path) -> CallerSigner:
    """The caller signer of the test's services and clients (one data directory, so one
    generated key)."""
    return service_settings("", tmp_path).caller_signer()


@pytest.fixture
def start(db_url, tmp_path, signer, rabbit_config, container_factory):
    """Starts the service with keys kept for `ttl` seconds; (client, db, AMQP URI)."""
    made = []

    def start(ttl: float):
        settings = service_settings(rabbit_config["AMQP_URI"], tmp_path,
                                    IDEMSVC_DATABASE_URL=db_url, IDEMPOTENCY_KEY_TTL=ttl)
        db = Database(db_url, metadata)
        db.create_all()
        container = container_factory(IdemService, container_config(settings))
        container.start()
        start.containers.append(container)
        client = RpcClient(rabbit_config["AMQP_URI"], timeout=30, signer=signer)
        made.append((client, db))
        RUNS.clear()
        return client, db, rabbit_config["AMQP_URI"]
    start.containers = []  # type: ignore[attr-defined]
    yield start
    for client, db in made:
        client.close()
        db.dispose()


@pytest.fixture
def service(start):
    return start(86400)


def counts(db) -> tuple[int, int, int]:
    """(notes, note.created events, recorded keys)."""
    with db.read() as s:
        return (s.execute(select(func.count()).select_from(notes)).scalar(),
                s.execute(select(func.count()).select_from(store.events).where(
                    store.events.c.type == "note.created")).scalar(),
                s.execute(select(func.count()).select_from(store.idempotency)).scalar())


def keyed(key: str, retry=False) -> Caller:
    return Caller(user_id=3, username="kim").for_call(key, retry)


def publish_twice(uri: str, signer: CallerSigner, method: str, caller: Caller,
                  kwargs: dict) -> list[dict]:
    """The same signed request message published twice (as a redelivery would bring it);
    both replies."""
    caller_json = caller.model_dump_json()
    headers = {CALLER_HEADER: caller_json,
               SIGNATURE_HEADER: signer.sign(caller_json, "idemsvc", method)}
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    replies: dict[str, dict] = {}
    with Connection(uri) as conn:
        channel = conn.channel()
        reply_key = uuid.uuid4().hex
        queue = Queue(f"rpc.reply-test-{reply_key}", exchange=exchange, routing_key=reply_key,
                      exclusive=True, auto_delete=True, durable=False)(channel)
        queue.declare()
        consumer = Consumer(channel, [queue], no_ack=True, accept=["json"], callbacks=[
            lambda body, message: replies.__setitem__(message.properties["correlation_id"],
                                                      body)])
        consumer.consume()
        producer = Producer(channel, exchange=exchange, serializer="json")
        for correlation_id in ("first", "second"):
            producer.publish({"args": [], "kwargs": kwargs}, routing_key=f"idemsvc.{method}",
                             reply_to=reply_key, correlation_id=correlation_id,
                             headers=headers)
        deadline = time.monotonic() + 60
        while len(replies) < 2 and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                pass
    assert len(replies) == 2, replies
    return [replies["first"], replies["second"]]


def test_the_same_signed_message_twice_creates_one_object_one_event_one_answer(service,
                                                                              signer):
    client, db, uri = service
    first, second = publish_twice(uri, signer, "add", keyed("k-twice"), {"text": "once", "seconds": 0.2})
    assert first == second and first["error"] is None
    assert first["result"]["text"] == "once"
    assert counts(db) == (1, 1, 1)


def test_a_duplicate_that_failed_on_the_first_ones_write_answers_its_answer(service, signer):
    """Two deliveries of one keyed call side by side (RabbitMQ redelivered it while the first
    still ran): the second fails on the row the first committed, unexpectedly, and commits
    the cleanup of its failure; it answers the first's answer, not its failure (a 500)."""
    client, db, uri = service
    first, second = publish_twice(uri, signer, "add_unique", keyed("k-unique"),
                                  {"text": "u", "seconds": 0.5})
    assert first["error"] is None and first["result"]["text"] == "u"
    assert second == first
    assert counts(db) == (1, 1, 1)
    with db.read() as s:  # the second one ran, failed and cleaned up
        assert s.execute(select(func.count()).select_from(cleanups)).scalar() == 1


def test_a_call_sent_again_answers_its_answer_without_running(service):
    client, db, _ = service
    answer = client.call("idemsvc", "add", keyed("k-again"), text="hello")
    assert RUNS == ["add"]
    assert client.call("idemsvc", "add", keyed("k-again", retry=True), text="hello") == answer
    assert RUNS == ["add"]  # the method did not run again
    assert counts(db) == (1, 1, 1)
    # a call without a key, or with another, is applied as any other
    client.call("idemsvc", "add", Caller(user_id=3), text="hello")
    client.call("idemsvc", "add", keyed("k-other"), text="hello")
    assert counts(db) == (3, 3, 2)


def test_the_key_is_committed_with_the_write_and_nothing_without_it(service):
    """The key and the write are one transaction: the key's row is there exactly when the
    object is; a read-only call under a key records nothing."""
    client, db, _ = service
    client.call("idemsvc", "count", keyed("k-read"))
    assert counts(db) == (0, 0, 0)
    pk = client.call("idemsvc", "add", keyed("k-one"), text="a")["pk"]
    with db.read() as s:
        row = s.execute(select(store.idempotency)).mappings().one()
    assert row["key"] == "k-one" and row["method"] == "idemsvc.add"
    assert json.loads(row["answer"]) == {"result": {"pk": pk, "text": "a"}}
    assert row["expires"] - row["created"] == timedelta(seconds=86400)
    # a key the gateway made for a request without one is kept an hour
    client.call("idemsvc", "add", keyed("g-own"), text="b")
    with db.read() as s:
        row = s.execute(select(store.idempotency).where(
            store.idempotency.c.key == "g-own")).mappings().one()
    assert row["expires"] - row["created"] == timedelta(seconds=3600)


def test_an_error_after_the_write_is_kept_as_its_answer(service):
    """An entrypoint that writes, then refuses (a failed login is recorded, then refused)
    commits as it would without a key, with the error as the key's answer: a repeat
    answers the same error and writes nothing more."""
    client, db, _ = service
    for retry in (False, True):
        with pytest.raises(ValidationFailed) as info:
            client.call("idemsvc", "add_then_fail", keyed("k-fail", retry=retry), text="x")
        assert info.value.detail == {"text": ["refused after the write"]}
        assert counts(db) == (1, 1, 1)


def test_an_error_inside_the_write_leaves_nothing(service):
    client, db, _ = service
    for retry in (False, True):
        with pytest.raises(ValidationFailed):
            client.call("idemsvc", "fail_inside", keyed("k-inside", retry=retry), text="y")
        assert counts(db) == (0, 0, 0)


def test_a_key_reused_for_other_arguments_is_a_422(service):
    client, db, _ = service
    client.call("idemsvc", "add", keyed("k-reuse"), text="first")
    with pytest.raises(ApiError) as info:
        client.call("idemsvc", "add", keyed("k-reuse", retry=True), text="second")
    assert info.value.status == 422
    assert counts(db) == (1, 1, 1)


def test_a_repeated_upload_is_its_file_not_its_incoming_key(service):
    """A repeat of a keyed upload (a new request, not a resend) whose first send was
    applied carries the same file under another incoming key: it answers the first
    answer (it was a 503 "could not be committed" to every repeat); another file under
    the same key is a 422."""
    client, db, _ = service
    upload = {"key": "incoming/aaa", "name": "f.txt", "size": 3, "sha256": "abc"}
    answer = client.call("idemsvc", "add_upload", keyed("k-up"), text="u", upload=upload)
    again = client.call("idemsvc", "add_upload", keyed("k-up"), text="u",
                        upload={**upload, "key": "incoming/bbb"})
    assert again == answer
    assert counts(db) == (1, 1, 1)
    with pytest.raises(ApiError) as info:
        client.call("idemsvc", "add_upload", keyed("k-up"), text="u",
                    upload={**upload, "key": "incoming/ccc", "sha256": "other"})
    assert info.value.status == 422
    assert counts(db) == (1, 1, 1)


def test_a_write_followed_by_a_read_keeps_its_answer_too(service, signer):
    client, db, uri = service
    answer = client.call("idemsvc", "add_then_read", keyed("k-read-after"), text="r")
    assert answer["count"] == 1
    assert client.call("idemsvc", "add_then_read", keyed("k-read-after", retry=True),
                       text="r") == answer
    first, second = publish_twice(uri, signer, "add_then_read", keyed("k-read-twice"), {"text": "s"})
    assert first == second and first["result"]["count"] == 2
    assert counts(db)[:2] == (2, 2)


def test_keys_expire_and_are_purged(start):
    """IDEMPOTENCY_KEY_TTL is 2 s here: after it, the key is free again, and the store's
    loop deletes expired keys."""
    client, db, _ = start(2)
    client.call("idemsvc", "add", keyed("k-expiring"), text="e")
    assert counts(db) == (1, 1, 1)
    deadline = time.monotonic() + 30
    while counts(db)[2] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert counts(db) == (1, 1, 0)  # purged
    client.call("idemsvc", "add", keyed("k-expiring", retry=True), text="e")
    assert counts(db) == (2, 2, 1)  # a new write under the expired key


def test_a_resend_while_the_first_send_runs_applies_once(service, signer):
    """The client resends a call that is slow to answer (after timeout / 3) while the first
    send still runs: the resend runs too, and its transaction fails on the key the first
    one committed; one object, the first answer."""
    _, db, uri = service
    client = RpcClient(uri, timeout=9, signer=signer, retries=2)
    try:
        answer = client.call("idemsvc", "add", keyed("k-slow"), text="slow", seconds=4.5)
    finally:
        client.close()
    assert answer["text"] == "slow" and RUNS.count("add") >= 2  # resent while running
    assert counts(db) == (1, 1, 1)


def test_a_process_killed_after_its_commit_is_answered_by_the_next_from_the_key(
        service, start, signer, monkeypatch):
    """The replica commits the write with its key, then dies before it replies and acks:
    RabbitMQ redelivers the request to the next replica (which svckit.parking puts back at
    the end of the classic queue with its attempt counted, svckit.signed_rpc taking that
    copy for a redelivery too), which answers the recorded answer without running the
    method."""
    from nameko.rpc import Rpc

    from svckit import idempotency
    from svckit.signed_rpc import SignedRpc
    client, db, uri = service
    [first] = start.containers
    stall = {"once": True}

    def dying(self, message, worker_ctx, result, exc_info):
        if not stall["once"]:
            return SignedRpc_handle_result(self, message, worker_ctx, result, exc_info)
        stall["once"] = False
        idempotency.finish_worker(worker_ctx, result, exc_info)  # committed with its key
        eventlet.sleep(3600)  # "killed" before the reply and the ack
        return Rpc.handle_result(self, message, worker_ctx, result, exc_info)

    SignedRpc_handle_result = SignedRpc.handle_result
    monkeypatch.setattr(SignedRpc, "handle_result", dying)
    caller = keyed("k-killed")
    caller_json = caller.model_dump_json()
    headers = {CALLER_HEADER: caller_json,
               SIGNATURE_HEADER: signer.sign(caller_json, "idemsvc", "add")}
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    replies: list = []
    with Connection(uri) as conn:
        channel = conn.channel()
        reply_key = uuid.uuid4().hex
        queue = Queue(f"rpc.reply-test-{reply_key}", exchange=exchange, routing_key=reply_key,
                      exclusive=True, auto_delete=True, durable=False)(channel)
        queue.declare()
        Consumer(channel, [queue], no_ack=True, accept=["json"],
                 callbacks=[lambda body, message: replies.append(body)]).consume()
        Producer(channel, exchange=exchange, serializer="json").publish(
            {"args": [], "kwargs": {"text": "killed"}}, routing_key="idemsvc.add",
            reply_to=reply_key, correlation_id="only", headers=headers)
        deadline = time.monotonic() + 60
        while counts(db)[2] == 0:  # committed, with its key, and no reply
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert replies == [] and RUNS == ["add"]
        first.kill()  # the unacknowledged request goes back to the queue
        start(86400)  # the next replica
        while not replies and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=1)
            except TimeoutError:
                pass
    assert replies and replies[0]["error"] is None
    assert replies[0]["result"]["text"] == "killed"
    assert RUNS == []  # start() cleared it: the next replica did not run the method
    assert counts(db) == (1, 1, 1)


def test_recording_a_key_takes_over_only_an_expired_record(make_db):
    """KeyedCall.record in one statement: a new key is inserted, an expired record of the
    key (not purged yet) is replaced, a live one raises IntegrityError and stays."""
    from sqlalchemy.exc import IntegrityError

    from svckit.idempotency import KeyedCall, record_table
    tables = MetaData()
    table = record_table(tables)
    db = make_db(tables)
    with db.write() as s:
        KeyedCall("k1", "svc.add", "d1", ttl=-1).record(s, table, "first")  # expired at once
    with db.write() as s:
        KeyedCall("k1", "svc.add", "d2", ttl=60).record(s, table, "second")
    with pytest.raises(IntegrityError):
        with db.write() as s:
            KeyedCall("k1", "svc.add", "d3", ttl=60).record(s, table, "third")
    with db.read() as s:
        rows = s.execute(select(table.c.key, table.c.args_digest, table.c.answer)).all()
    assert rows == [("k1", "d2", "second")]


def test_only_units_opened_with_notify_wake_the_relay_when_committed(make_db):
    """A keyed worker's units commit later (the next unit, or its answer); the relay is
    woken after those that asked for it, not after a unit opened with `notify=False` (a
    blob claim has no events to publish: waking the relay cost a pass for nothing)."""
    from svckit.idempotency import KeyedCall, KeyedUnits, record_table
    tables = MetaData()
    table = record_table(tables)
    db = make_db(tables)
    woken = []
    db.on_commit = lambda: woken.append("relay")
    units = KeyedUnits(db, table, KeyedCall("k1", "svc.add", "d1", ttl=60))
    with units.write(notify=False):
        pass
    with units.write():  # commits the unit before it
        assert woken == []
    units.finish({"pk": 1}, None)  # commits this one, with the answer
    assert woken == ["relay"]
