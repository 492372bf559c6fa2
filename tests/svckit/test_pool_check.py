"""The pool's check of a PostgreSQL connection before handing it out (svckit.pool_check): a
connection the server ended while it sat in the pool is replaced without a failed unit of
work, a live one is handed out without a round trip, and one idle for longer than the ping
interval is pinged."""
import time

import psycopg2
import pytest
from sqlalchemy import text

from svckit.db import make_engine
from svckit.pool_check import check_on_checkout, has_news
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("a PostgreSQL pool's check")
    return db_url


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def terminate(pid: int):
    admin = psycopg2.connect(PG_ADMIN_URL)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        admin.close()


def wait_closed(engine, seconds: float = 10.0):
    """Until the pooled connection's socket shows the server's end."""
    deadline = time.monotonic() + seconds
    raw = engine.pool._pool.queue[0].dbapi_connection
    while not has_news(raw):
        assert time.monotonic() < deadline, "the server's end never reached the socket"
        time.sleep(0.02)


def statements_run(pid: int):
    """When the backend `pid` last changed state (`pg_stat_activity.state_change`): every
    statement it runs moves it."""
    admin = psycopg2.connect(PG_ADMIN_URL)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT state_change FROM pg_stat_activity WHERE pid = %s", (pid,))
            return cur.fetchone()[0]
    finally:
        admin.close()


def test_a_connection_the_server_ended_is_replaced_without_an_error(pg_url):
    engine = make_engine(pg_url)
    try:
        first = backend_pid(engine)
        terminate(first)
        wait_closed(engine)
        second = backend_pid(engine)  # no OperationalError: the check replaced it
        assert second != first
    finally:
        engine.dispose()


def test_a_live_connection_is_handed_out_without_a_ping(pg_url):
    engine = make_engine(pg_url)
    try:
        pid = backend_pid(engine)
        raw = engine.pool._pool.queue[0].dbapi_connection
        assert not has_news(raw)
        before = statements_run(pid)
        time.sleep(0.05)
        with engine.connect():  # checked out and back: no statement sent
            pass
        assert statements_run(pid) == before
    finally:
        engine.dispose()


def test_a_connection_idle_past_the_interval_is_pinged(pg_url):
    engine = make_engine(pg_url)
    check_on_checkout(engine, ping_after=0.0)  # a second check, pinging every time
    try:
        pid = backend_pid(engine)
        before = statements_run(pid)
        time.sleep(0.05)
        with engine.connect():
            pass
        assert statements_run(pid) != before  # SELECT 1 ran
    finally:
        engine.dispose()
