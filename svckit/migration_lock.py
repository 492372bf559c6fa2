"""One migration at a time per database, whichever process runs it: replicas that each run
`svckit.migrate` as they start wait for the first one and then find nothing left to do.

PostgreSQL: a session advisory lock on the migrating connection, held across the
migrations' own transactions (a revision may commit in the middle, e.g. to create an index
CONCURRENTLY). The two-key form keeps it apart from the event store's one-key stream locks.
SQLite: an exclusive `flock` on a file beside the database (`<file>.migrate-lock`).
"""
import fcntl
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection

PG_LOCK_KEYS = {"space": 264, "key": 1}  # (InvenTree API version 264, the schema)


@contextmanager
def migration_lock(conn: Connection):
    """Hold the database's migration lock while the block runs (on `conn`, which must not be
    in a transaction when the block begins: the lock is taken and committed first)."""
    if conn.dialect.name == "postgresql":
        with _advisory_lock(conn):
            yield
    else:
        with _file_lock(conn.engine.url.database):
            yield


@contextmanager
def _advisory_lock(conn: Connection):
    conn.execute(text("SELECT pg_advisory_lock(:space, :key)"), PG_LOCK_KEYS)
    conn.commit()
    try:
        yield
    finally:
        conn.rollback()  # a failed migration may leave its transaction open
        conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), PG_LOCK_KEYS)
        conn.commit()


@contextmanager
def _file_lock(database: str | None):
    if not database or database == ":memory:":  # private to this process: nothing to share
        yield
        return
    with open(f"{database}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
