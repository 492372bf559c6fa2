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
from typing import Callable

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

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


def make_engine(url: str) -> Engine:
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
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


class Database:
    """A service's store: `write()` and `read()` give a connection inside one transaction."""

    def __init__(self, url: str, metadata):
        self.url = url
        self.metadata = metadata
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self.on_commit: Callable[[], object] | None = None  # called after each committed write (wakes the event relay)

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
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn
        if notify and self.on_commit is not None:
            self.on_commit()

    @contextmanager
    def read(self):
        """One read transaction, rolled back at the end."""
        with self.engine.connect() as conn:
            yield conn

    def dispose(self):
        self.engine.dispose()
