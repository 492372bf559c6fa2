"""The check of a pooled PostgreSQL connection before the pool hands it out, without a round
trip to the server while the connection is in use.

SQLAlchemy's `pool_pre_ping` sends `SELECT 1` at every checkout: a round trip, a third of
the statements of a serial-number reservation and of its event relay's passes. Instead, a
connection that was idle for less than PING_AFTER_IDLE_SECONDS is checked on its socket: a
server that closed it (a restart, `pg_terminate_backend`, a crash: the kernel closes its
sockets) left the end of the stream or its last message there to read, and a connection
with anything to read while idle is not handed out (psycopg2 reads nothing between
statements). A connection idle for longer, or just opened, is pinged as before, so one that
went quiet without a word (a server that vanished from the network) is still found.
A connection found dead is replaced (the pool reconnects; if the server cannot be reached,
the unit of work fails as an outage, svckit.db_outage).
"""
import _socket  # the C module: eventlet's monkey patching leaves it as it is
import socket
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "idle_since"


def peer_closed(dbapi_conn) -> bool:
    """True when the server closed the connection or sent something unasked (a FATAL
    message before closing): data, the end of the stream or an error is waiting on its
    socket. Peeks without blocking and without changing the socket's mode."""
    if dbapi_conn.closed:
        return True
    try:
        sock = _socket.socket(fileno=dbapi_conn.fileno())
    except OSError:
        return True
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return True  # data or the end of the stream (b"")
    except BlockingIOError:
        return False  # nothing to read: the server holds it open
    except OSError:
        return True  # reset, or not a socket any more
    finally:
        sock.detach()  # the descriptor stays psycopg2's


def check_on_checkout(engine: Engine, ping_after: float = PING_AFTER_IDLE_SECONDS):
    """Install the check on `engine`'s pool (an engine made without `pool_pre_ping`)."""

    @event.listens_for(engine, "connect")
    def _opened(dbapi_conn, record):
        record.info[_IDLE_SINCE] = time.monotonic()  # just answered: no ping needed

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn, record, proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if peer_closed(dbapi_conn):
            raise DisconnectionError("the server closed the connection")
        if idle_since is None or time.monotonic() - idle_since > ping_after:
            try:
                engine.dialect.do_ping(dbapi_conn)  # SELECT 1 outside a transaction
            except Exception as exc:
                raise DisconnectionError("the connection did not answer a ping") from exc
