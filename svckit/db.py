"""Database access for one service: engine, units of work, test helpers.

SQLite (WAL, busy timeout, write transactions begun IMMEDIATE so two writers never deadlock
on a lock upgrade) is the embedded default; PostgreSQL is selected by the URL (psycopg2,
which eventlet's monkey patching makes cooperative).

Units of work are SQLAlchemy Core connections, not ORM sessions: services speak Core
statements only, and an ORM session cost a reservation more than its SQL did (an UPDATE
through `Session.execute` took four times as long as through `Connection.execute`).
"""
import time
from contextlib import contextmanager
from typing import Any, Callable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from svckit.db_outage import OutageWatch, is_outage
from svckit.listing import SEARCH_LIMITS, SearchLimits
from svckit.pool_check import check_on_checkout

BUSY_WAIT_MS = 30000  # how long SQLite itself waits for a lock (readers, statements)
WRITER_WAIT_SECONDS = 30.0  # how long a writer waits for the write lock


def _begin_writing(conn, mode: str):
    """BEGIN IMMEDIATE on SQLite, waiting for the write lock in short sleeps between tries
    instead of in SQLite's busy handler: that one blocks the whole process, which under
    eventlet includes a greenthread holding the lock (a keyed RPC's write unit stays open
    until its answer is stored, svckit.idempotency); `time.sleep` lets it run (monkey
    patched in services)."""
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        while True:
            try:
                conn.exec_driver_sql(f"BEGIN {mode}")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.002)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")

CONNECT_TIMEOUT = 5.0  # seconds; a service's is its DATABASE_CONNECT_TIMEOUT


def make_engine(url: str, statement_timeout: float = 0,
                connect_timeout: float = CONNECT_TIMEOUT) -> Engine:
    """An engine for `url`. On PostgreSQL a connection attempt gives up after
    `connect_timeout` seconds, TCP keepalives notice a server that vanished, and
    with `statement_timeout` (seconds, 0: none) no statement runs longer, so no unit of work
    hangs on a database that does not answer; the pool checks a connection before handing
    it out (svckit.pool_check: its socket, or a ping after 5 s idle), so connections broken
    by a server restart are replaced; an
    UPDATE or DELETE run for many rows at once takes one round trip per 500 rows."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_WAIT_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            if mode == "DEFERRED":
                conn.exec_driver_sql("BEGIN DEFERRED")
            else:
                _begin_writing(conn, mode)

        return engine
    connect_args = {"connect_timeout": max(1, round(connect_timeout)),
                    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 2,
                    "keepalives_count": 3}
    # executemany of UPDATE and DELETE in pages (psycopg2's execute_batch: one round trip
    # per 500 rows instead of one per row; INSERTs are batched either way)
    # the most recently returned connection is handed out first (`pool_use_lifo`): the
    # busy ones stay within svckit.pool_check's no-ping interval, the spare ones go idle
    engine = create_engine(url, pool_size=10, max_overflow=10, connect_args=connect_args,
                           pool_use_lifo=True,
                           executemany_mode="values_plus_batch",
                           executemany_batch_page_size=500)
    check_on_checkout(engine)
    if statement_timeout > 0:
        @event.listens_for(engine, "connect")
        def _timeout(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute(f"SET statement_timeout = {int(statement_timeout * 1000)}")
            cur.close()
            dbapi_conn.commit()
    return engine


class Database:
    """A service's store: `write()` and `read()` give a connection inside one transaction,
    carrying the process's `search_limits` (svckit.listing) as an execution option.

    A unit of work that cannot reach the server raises `ServiceUnavailable` ("The <service>
    service's database is unavailable", 503) and marks the process not ready until the
    server answers again (svckit.db_outage). A running service's store passes its
    `service` name and its settings' timeouts (`DATABASE_STATEMENT_TIMEOUT`,
    `DATABASE_CONNECT_TIMEOUT`, see svckit.service.Store); tools (replay, the CLIs) pass
    none: their statements have no time limit."""

    def __init__(self, url: str, metadata, search_limits: SearchLimits = SearchLimits(),
                 service: str | None = None, statement_timeout: float = 0,
                 connect_timeout: float = CONNECT_TIMEOUT):
        self.url = url
        self.metadata = metadata
        self.search_limits = search_limits
        self.engine = make_engine(url, statement_timeout=statement_timeout,
                                  connect_timeout=connect_timeout)
        self.is_sqlite = url.startswith("sqlite")
        self._write_options = {SEARCH_LIMITS: search_limits,
                               **({"sqlite_begin": "IMMEDIATE"} if self.is_sqlite else {})}
        self.outages = OutageWatch(self.engine, service)
        self.on_commit: Callable[[], object] | None = None  # called after each committed write (wakes the event relay)
        self.event_store: Any = None  # the service's svckit.events.EventStore (set by its Store)

    def create_all(self):
        """Create missing tables, and missing indexes of tables that already exist, straight
        from the models: for scratch databases (tests). A service's own database is made and
        upgraded by its migrations (`python -m svckit.migrate`), which record its revision."""
        self.metadata.create_all(self.engine)
        for table in self.metadata.sorted_tables:
            for index in table.indexes:
                index.create(self.engine, checkfirst=True)

    @contextmanager
    def write(self, notify: bool = True):
        """One write transaction: committed on success, rolled back on any exception.
        `notify=False` skips the after-commit hook (the relay's own bookkeeping)."""
        with self.outage_is_503():
            with self.write_connection() as conn:
                with conn.begin():
                    yield conn
        if notify and self.on_commit is not None:
            self.on_commit()

    def write_connection(self) -> Connection:
        """A connection for one write transaction (begun IMMEDIATE on SQLite), not yet begun:
        `write()`'s, and a keyed RPC's whose commit waits for its answer
        (svckit.idempotency)."""
        conn = self.engine.connect()
        conn.execution_options(**self._write_options)  # one call: each one costs
        return conn

    @contextmanager
    def read(self):
        """One read transaction, rolled back at the end."""
        with self.outage_is_503():
            with self.engine.connect() as conn:
                conn.execution_options(**{SEARCH_LIMITS: self.search_limits})
                yield conn

    @contextmanager
    def outage_is_503(self):
        """An error inside that says the server cannot be reached is raised as the 503 of
        svckit.db_outage (the process is not ready until the server answers again)."""
        try:
            yield
        except Exception as exc:
            if self.is_sqlite or not is_outage(exc):
                raise
            raise self.outages.unavailable(exc) from exc

    def dispose(self):
        self.engine.dispose()
