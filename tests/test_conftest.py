"""The test suite's own plumbing (tests/conftest.py)."""
import threading
import weakref

import pytest
from sqlalchemy import create_engine

from tests.conftest import management_client, postgres_reachable
from tests.helpers import Acceptor

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def test_management_client_retries_on_a_connection_the_server_dropped():
    """A keep-alive connection the server closes as the next request arrives (as RabbitMQ's
    management API does with idle ones) is retried on a fresh connection."""
    answered = []

    def serve(conn):
        with conn:
            conn.recv(65536)
            conn.sendall(OK)  # keep-alive: the client will send its next request here
            answered.append(1)
            conn.recv(65536)  # and this one is dropped unanswered

    server = Acceptor(lambda conn: threading.Thread(target=serve, args=(conn,),
                                                    daemon=True).start())
    try:
        client = management_client(f"http://guest:guest@127.0.0.1:{server.port}")
        assert client._get("vhosts") == {}
        assert client._request("DELETE", "vhosts", "gone") == {}
    finally:
        server.close()
    assert len(answered) == 3  # the check on creating the client, the GET, the DELETE retried


def test_deleting_a_vhost_that_is_already_gone_is_done():
    """The session's vhost deleted again after a lost answer (a 404) ends the run cleanly;
    any other error is still raised."""
    answers = {"/api/vhosts/gone": b"404 Not Found", "/api/vhosts/broken": b"500 Oops"}

    def serve(conn):
        with conn:
            while request := conn.recv(65536):
                path = request.split(b" ", 2)[1].decode()
                status = b"200 OK" if path == "/api/overview" else answers[path]
                conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json"
                             b"\r\nContent-Length: 2\r\n\r\n{}")

    server = Acceptor(lambda conn: threading.Thread(target=serve, args=(conn,),
                                                    daemon=True).start())
    try:
        client = management_client(f"http://guest:guest@127.0.0.1:{server.port}")
        assert client.delete_vhost("gone") is None
        with pytest.raises(Exception, match="500"):
            client.delete_vhost("broken")
    finally:
        server.close()


def test_management_client_gives_up_on_a_server_that_never_answers(monkeypatch, caplog):
    """A request the management API accepts but never answers fails after the client's
    timeout (and its retries) instead of holding the session's teardown for ever."""
    import tests.conftest
    answered_once = threading.Event()

    def serve(conn):
        with conn:
            if not answered_once.is_set():
                conn.recv(65536)
                conn.sendall(OK + b"")  # the check made on creating the client
                answered_once.set()
            while conn.recv(65536):
                pass  # later requests: read, never answered

    server = Acceptor(lambda conn: threading.Thread(target=serve, args=(conn,),
                                                    daemon=True).start())
    monkeypatch.setattr(tests.conftest, "MANAGEMENT_TIMEOUT_SECONDS", 0.2)
    try:
        client = management_client(f"http://guest:guest@127.0.0.1:{server.port}")
        with pytest.raises(Exception, match="Connection error"):
            client._get("vhosts")
    finally:
        server.close()
    assert "Read timed out. (read timeout=0.2)" in caplog.text


def test_greenthread_stacks_show_where_each_green_thread_waits():
    """What the teardown watchdog prints: a suspended green thread's stack names its
    function."""
    import eventlet

    from tests.conftest import greenthread_stacks

    def waiting_for_the_watchdog_test():
        eventlet.sleep(60)

    class Gone:
        pass

    gone = Gone()
    dead_proxy = weakref.proxy(gone)  # a proxy whose object is gone, as a run leaves some
    del gone
    thread = eventlet.spawn(waiting_for_the_watchdog_test)
    eventlet.sleep(0)
    try:
        assert "waiting_for_the_watchdog_test" in greenthread_stacks()
        assert dead_proxy is not None
    finally:
        thread.kill()


FIRST_SCHEMA: list[str] = []  # the first run's schema, for the second run to look for
LEFT_OPEN: list = []  # connections kept open past their test's end


@pytest.mark.skipif(not postgres_reachable(), reason="PostgreSQL is not reachable")
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("run", ["first", "second"])
def test_each_postgresql_url_starts_empty_and_is_dropped_after(db_url, run):
    """Two tests in a row on the run's one PostgreSQL database: each starts with no tables
    (the first one's, committed under the same name, is not seen by the second), and the
    first one's schema is gone afterwards although its connection was left open in a
    transaction holding a lock on its table."""
    engine = create_engine(db_url)
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    conn = engine.dialect.loaded_dbapi.connect(*args, **kwargs)  # not pooled: left as it is
    cur = conn.cursor()
    cur.execute("SELECT to_regclass('probe'), current_schema()")
    found, schema = cur.fetchone()
    assert found is None
    cur.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
    assert cur.fetchone() == (0,)
    cur.execute("CREATE TABLE probe (id int)")
    conn.commit()
    cur.execute("INSERT INTO probe VALUES (1)")  # this transaction is never ended
    LEFT_OPEN.append(conn)
    if run == "first":
        FIRST_SCHEMA.append(schema)
        return
    if not FIRST_SCHEMA:
        pytest.skip("the first run did not run")
    assert schema != FIRST_SCHEMA[0]
    cur.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (FIRST_SCHEMA[0],))
    assert cur.fetchone() == (0,)



@pytest.mark.parametrize("service", ["attachments", "audit", "importer", "status", "system",
                                     "users"])
def test_make_db_makes_the_models_tables_each_time_empty(make_db, scratch_tables, db_url,
                                                          service, tmp_path):
    """`make_db`'s tables, from a template (tests/scratch_tables.py), are the models' tables
    (columns, types, indexes, constraints); a row written in one does not reach the
    template: the next database made from it is empty."""
    import importlib
    from datetime import datetime

    from sqlalchemy import func, select

    from svckit.db import Database
    from tests.helpers import schema_differences
    models = importlib.import_module(f"services.{service}.models")
    events = models.store.events
    db = make_db(models.metadata)
    assert schema_differences(db_url, models.metadata) == []
    with db.write() as s:
        s.execute(events.insert().values(stream_type="probe", stream_id="1", version=1,
                                         type="probe.made", payload={},
                                         created=datetime(2026, 1, 1)))
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(events)).scalar() == 1
    if db.is_sqlite:
        second = Database(f"sqlite:///{tmp_path / 'second.sqlite3'}", models.metadata)
        try:
            scratch_tables.create(second)
            with second.read() as s:
                assert s.execute(select(func.count()).select_from(events)).scalar() == 0
        finally:
            second.dispose()
