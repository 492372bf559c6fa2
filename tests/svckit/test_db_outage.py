"""A PostgreSQL server stopped under a running service, then started again (a server of the
test's own, svckit.cluster.postgres): calls meanwhile answer 503 "The <service> service's
database is unavailable" without hanging, the process reports not ready, and calls work
again once the server is back, without restarting anything."""
import time
import uuid

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from svckit import readiness
from svckit.container_settings import container_config
from svckit.db import Database
from svckit.db_outage import is_outage
from svckit.errors import ServiceUnavailable
from svckit.eventcatalog import EventCatalog, EventPayload
from svckit.events import EventStore, Projector
from svckit.rpc_client import RpcClient
from svckit.service import CallerProvider, ServiceBase, Store, rpc
from tests.helpers import service_settings

pytestmark = pytest.mark.postgres

DETAIL = "The outagesvc service's database is unavailable"
metadata = MetaData()
notes = Table("note", metadata, Column("id", Integer, primary_key=True), Column("text", String(50)))
projector = Projector([notes])
class NoteCreated(EventPayload):
    text: str


store = EventStore("outagesvc", metadata, projector,
                   EventCatalog("outagesvc", {"note.created": NoteCreated}))


@projector.on("note.created")
def _created(s, e):
    s.execute(insert(notes).values(id=int(e["stream_id"]), text=e["payload"]["text"]))


class OutageService(ServiceBase):
    name = "outagesvc"
    db = Store(store)
    caller = CallerProvider()

    @rpc
    def add(self, text):
        with self.db.write() as s:
            pk = store.next_stream_id(s, "note")
            store.record(s, "note", pk, "note.created", {"text": text}, self.caller)
        return pk

    @rpc
    def count(self):
        with self.db.read() as s:
            return len(s.execute(select(notes.c.id)).all())

    @rpc
    def sleep(self, seconds):
        with self.db.read() as s:
            s.exec_driver_sql(f"SELECT pg_sleep({float(seconds)})")


@pytest.fixture
def url(private_postgres):
    """A fresh schema of the server's database for each test."""
    server = private_postgres
    server.create_databases(["outage"])
    schema = f"s_{uuid.uuid4().hex[:12]}"
    db = Database(server.url("outage"), MetaData())
    with db.write() as s:
        s.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db.dispose()
    yield f"{server.url('outage')}?options=-csearch_path%3D{schema}"
    if not server.running:
        private_postgres.start()


def wait_until(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_only_a_server_that_cannot_answer_is_an_outage(private_postgres, url):
    db = Database(url, metadata, service="outagesvc")
    try:
        db.create_all()
        with db.write() as s:
            s.execute(insert(notes).values(id=1, text="one"))
        with pytest.raises(IntegrityError) as refused:  # a failed statement is not an outage
            with db.write() as s:
                s.execute(insert(notes).values(id=1, text="again"))
        assert not is_outage(refused.value)
        assert "database" not in readiness.problems()
    finally:
        db.dispose()


def test_units_of_work_answer_503_while_the_server_is_stopped(private_postgres, url):
    db = Database(url, metadata, service="outagesvc")
    try:
        db.create_all()
        with db.write() as s:  # a pooled connection, which the server's stop breaks
            s.execute(insert(notes).values(id=1, text="before"))
        private_postgres.stop()
        for unit in (db.write, db.read, db.write):  # the broken connection, then refusals
            with pytest.raises(ServiceUnavailable) as answer:
                with unit() as s:
                    s.execute(select(notes.c.id)).all()
            assert answer.value.status == 503
            assert answer.value.detail == {"detail": DETAIL}
        assert "database" in readiness.problems()

        private_postgres.start()
        wait_until(lambda: "database" not in readiness.problems())  # the probe saw it back
        with db.write() as s:  # the pool replaced its connections
            s.execute(insert(notes).values(id=2, text="after"))
        with db.read() as s:
            assert [r.id for r in s.execute(select(notes.c.id).order_by(notes.c.id))] == [1, 2]
    finally:
        db.dispose()


def start_service(url, tmp_path, rabbit_config, container_factory, **settings) -> RpcClient:
    """OutageService on `url` (its tables made) with `settings`; a client of it."""
    tables = Database(url, metadata)
    tables.create_all()
    tables.dispose()
    built = service_settings(rabbit_config["AMQP_URI"], tmp_path, OUTAGESVC_DATABASE_URL=url,
                             **settings)
    container_factory(OutageService, container_config(built)).start()
    return RpcClient(rabbit_config["AMQP_URI"], timeout=60, signer=built.caller_signer())


def test_a_running_service_answers_503_and_recovers(private_postgres, url, tmp_path,
                                                    rabbit_config, container_factory):
    client = start_service(url, tmp_path, rabbit_config, container_factory)
    try:
        assert client.call("outagesvc", "add", text="before") == 1

        private_postgres.stop()
        slowest = 0.0
        for method, kwargs in (("add", {"text": "lost"}), ("count", {}), ("add", {"text": "x"})):
            asked = time.monotonic()
            with pytest.raises(ServiceUnavailable) as answer:
                client.call("outagesvc", method, **kwargs)
            slowest = max(slowest, time.monotonic() - asked)
            assert answer.value.detail == {"detail": DETAIL}  # the service's, not a timeout
        print(f"503 answers during the outage took {slowest:.2f} s at most")

        private_postgres.start()
        back = time.monotonic()
        answers = []

        def works() -> bool:
            try:
                answers.append(client.call("outagesvc", "add", text="after"))
                return True
            except ServiceUnavailable:
                return False

        wait_until(works)
        print(f"first successful write {time.monotonic() - back:.2f} s after the server "
              "was accepting connections again")
        assert client.call("outagesvc", "count") == 2  # nothing written during the outage
    finally:
        client.close()


def test_a_statement_over_the_timeout_is_cut_off(private_postgres, url):
    """A statement stops after the store's statement timeout (503, never a hang); a tool's
    store (no timeout given) has no such limit."""
    db = Database(url, metadata, service="outagesvc", statement_timeout=1)
    tool = Database(url, metadata)
    try:
        with pytest.raises(ServiceUnavailable) as answer:
            with db.read() as s:
                s.exec_driver_sql("SELECT pg_sleep(30)")
        assert answer.value.detail == {"detail": DETAIL}
        with tool.read() as s:
            s.exec_driver_sql("SELECT pg_sleep(1.5)")
        wait_until(lambda: "database" not in readiness.problems())
        with db.read() as s:  # the connection was not broken by the cancel
            assert s.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        db.dispose()
        tool.dispose()


def test_a_running_service_stops_a_statement_at_its_setting(private_postgres, url, tmp_path,
                                                            rabbit_config, container_factory):
    """The service's Store takes DATABASE_STATEMENT_TIMEOUT from the settings it was started
    with: a statement over it answers 503, one under it is answered."""
    client = start_service(url, tmp_path, rabbit_config, container_factory,
                           DATABASE_STATEMENT_TIMEOUT=1)
    try:
        with pytest.raises(ServiceUnavailable) as answer:
            client.call("outagesvc", "sleep", seconds=30)
        assert answer.value.detail == {"detail": DETAIL}
        wait_until(lambda: "database" not in readiness.problems())
        assert client.call("outagesvc", "sleep", seconds=0.1) is None
    finally:
        client.close()


def test_keyed_writes_under_load_answer_only_503_while_the_server_stops(
        private_postgres, url, tmp_path, rabbit_config, container_factory):
    """Keyed calls (every RPC the gateway makes carries a key) from several clients at once
    while the server stops and starts: each answers its result or the 503 naming the
    database, never another error. (A connection invalidated mid-transaction made the
    transaction-timing listener raise PendingRollbackError out of the rollback: a 500.)"""
    import eventlet

    from svckit.context import Caller
    from svckit.rpc_client import RemoteFailure
    start_service(url, tmp_path, rabbit_config, container_factory)
    built = service_settings(rabbit_config["AMQP_URI"], tmp_path)
    answers: dict[str, object] = {}
    running = {"on": True}

    def client_loop(n: int):
        client = RpcClient(rabbit_config["AMQP_URI"], timeout=30, signer=built.caller_signer())
        i = 0
        try:
            while running["on"]:
                i += 1
                key = f"k-{n}-{i}"
                caller = Caller(user_id=1, username="admin").for_call(key)
                try:
                    answers[key] = client.call("outagesvc", "add", caller, text=key)
                except ServiceUnavailable as exc:
                    answers[key] = exc
                except RemoteFailure as exc:
                    answers[key] = exc
                eventlet.sleep(0.01)
        finally:
            client.close()

    threads = [eventlet.spawn(client_loop, n) for n in range(4)]
    time.sleep(2)
    private_postgres.stop()
    time.sleep(4)
    private_postgres.start()
    time.sleep(4)
    running["on"] = False
    for t in threads:
        t.wait()
    failures = {k: v for k, v in answers.items() if isinstance(v, RemoteFailure)}
    assert not failures, failures
    unavailable = [v for v in answers.values() if isinstance(v, ServiceUnavailable)]
    assert unavailable and all(v.detail == {"detail": DETAIL} for v in unavailable), \
        {str(v.detail) for v in unavailable}
    applied = [v for v in answers.values() if isinstance(v, int)]
    assert applied and len(set(applied)) == len(applied)  # after the outage too


def test_a_resent_call_while_the_server_is_down_is_a_503_and_the_service_lives(
        private_postgres, url, tmp_path, rabbit_config, container_factory):
    """A resend (the gateway's, or RabbitMQ's redelivery) looks its key up before its method
    runs, in the worker's setup: with the database down that lookup is the call's 503, not
    an exception that kills the service's container (a crashed replica)."""
    from svckit.context import Caller
    client = start_service(url, tmp_path, rabbit_config, container_factory)
    try:
        assert client.call("outagesvc", "add", text="before") == 1
        private_postgres.stop()
        for n in range(3):
            resent = Caller(user_id=1, username="admin").for_call(f"k-resent-{n}", retry=True)
            with pytest.raises(ServiceUnavailable) as answer:
                client.call("outagesvc", "add", resent, text="resent")
            assert answer.value.detail == {"detail": DETAIL}
        private_postgres.start()
        wait_until(lambda: "database" not in readiness.problems())
        assert client.call("outagesvc", "add", text="after") == 2  # the same container
    finally:
        client.close()


def test_events_follow_a_long_outage_within_seconds(private_postgres, url, tmp_path,
                                                   rabbit_config, container_factory):
    """The event relay retries through an outage with a pause that stops growing at
    RELAY_RETRY_MAX_SECONDS (2 s): an event written once the server is back is published
    within a few seconds (the pause grew to 10 s before, so a 17 s outage left the relay
    asleep for up to 8 s after the server's return)."""
    client = start_service(url, tmp_path, rabbit_config, container_factory)
    db = Database(url, metadata)
    try:
        assert client.call("outagesvc", "add", text="before") == 1
        private_postgres.stop()
        time.sleep(17)  # the relay fails, pauses, fails ...
        private_postgres.start()
        wait_until(lambda: "database" not in readiness.problems())
        assert client.call("outagesvc", "add", text="after") == 2
        written = time.monotonic()

        def published() -> bool:
            with db.read() as s:
                return s.execute(select(store.events.c.published).where(
                    store.events.c.stream_id == "2")).scalar() is not None
        wait_until(published, 30)
        late = time.monotonic() - written
        print(f"the event was published {late:.1f} s after its write")
        assert late < 4.5
    finally:
        client.close()
        db.dispose()
