"""The check of a pooled PostgreSQL connection before the pool hands it out, without a round
trip to the server while the connection is in use.

SQLAlchemy's `pool_pre_ping` sends `SELECT 1` at every checkout: a round trip, a sixth of
the statements of a serial-number reservation with its event relay's pass. Instead, a
connection that was idle for less than PING_AFTER_IDLE_SECONDS is pinged only when its
socket has news: a server that ended the connection (a restart, `pg_terminate_backend`, a
crash: the kernel closes its sockets) left its last message or the end of the stream there
to read, and psycopg2 leaves nothing unread between statements. Anything to read, whatever
it is (a TLS record, a notice), costs a ping rather than the connection. A connection idle
for longer, or just opened, is pinged as before, so one that went quiet without a word (a
server that vanished from the network) is still found. A connection found dead is replaced
(the pool reconnects; if the server cannot be reached, the unit of work fails as an outage,
svckit.db_outage).
"""
import _socket  # the C module: eventlet's monkey patching leaves it as it is
import socket
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

PING_AFTER_IDLE_SECONDS = 5.0
_IDLE_SINCE = "idle_since"


def has_news(dbapi_conn) -> bool:
    """True when something waits on the connection's socket while it is idle: data, the end
    of the stream (the server closed it) or an error; or when psycopg2 knows it is closed.
    Peeks without blocking and without changing the socket's mode."""
    if dbapi_conn.closed:
        return True
    try:
        sock = _socket.socket(fileno=dbapi_conn.fileno())
    except OSError:
        return True
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return True  # data, or the end of the stream (b"")
    except BlockingIOError:
        return False  # nothing to read: the server holds it open and quiet
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
        if dbapi_conn.closed:
            raise DisconnectionError("the connection is closed")
        idle_since = record.info.get(_IDLE_SINCE)
        if has_news(dbapi_conn) or idle_since is None \
                or time.monotonic() - idle_since > ping_after:
            try:
                engine.dialect.do_ping(dbapi_conn)  # SELECT 1 outside a transaction
            except Exception as exc:
                raise DisconnectionError("the connection did not answer a ping") from exc
