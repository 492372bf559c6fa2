"""The audit table's insert of a batch of received events, sent straight through the
database driver: one `executemany` on SQLite, one multi-row statement on PostgreSQL
(psycopg2's `execute_values`; its `executemany` is a round trip per row).

The ingest records thousands of events a second, and SQLAlchemy's per-row work for a
compiled insert (parameters built per row, each time and JSON value processed by its type)
cost about as much as the rest of the recording. So the rows are tuples in COLUMNS' order,
already as the driver takes them: the payload is its JSON text (services.audit.received),
and on SQLite a time is the text SQLAlchemy's DateTime stores (`2026-12-03 18:00:00.000000`,
microseconds always written, so that stored times compare as text the way the lists'
filters bind them). A redelivered event is skipped by its unique `event_id`.
"""
from datetime import datetime

from psycopg2.extras import execute_values

from .models import audit_events

COLUMNS = ("event_id", "service", "seq", "stream_type", "stream_id", "version", "type",
           "payload", "actor", "request_id", "created", "received", "chain_seq", "hash",
           "chain_fault", "line")
_TABLE = audit_events.name
_NAMES = ", ".join(COLUMNS)
_SQLITE = (f"INSERT INTO {_TABLE} ({_NAMES}) VALUES ({', '.join('?' * len(COLUMNS))}) "
           "ON CONFLICT (event_id) DO NOTHING")
_POSTGRESQL = f"INSERT INTO {_TABLE} ({_NAMES}) VALUES %s ON CONFLICT (event_id) DO NOTHING"
_SQLITE_TIME = " "  # date and time separator in SQLite's stored text


def sqlite_time(value: datetime) -> str:
    """A naive UTC time as SQLAlchemy's SQLite DateTime stores it."""
    return value.isoformat(_SQLITE_TIME, "microseconds")


def insert(session, rows: list[tuple]):
    """Insert `rows` (tuples in COLUMNS' order, times as `time_value` makes them for this
    session's database) in the session's transaction."""
    if session.dialect.name == "postgresql":
        with session.connection.cursor() as cursor:
            execute_values(cursor, _POSTGRESQL, rows, page_size=len(rows))
    else:
        session.exec_driver_sql(_SQLITE, rows)


def time_value(session):
    """How this session's database takes a time in `insert`'s rows: SQLite as text,
    PostgreSQL as the datetime itself (psycopg2 adapts it)."""
    return sqlite_time if session.dialect.name == "sqlite" else _as_is


def _as_is(value: datetime) -> datetime:
    return value
