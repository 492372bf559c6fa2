"""A database outage as the answer a client can act on: 503, readiness, recovery.

`is_outage(exc)` tells an unreachable server (connection refused, the server closed the
connection, an administrator shut it down, too many connections, a statement cut off by
`DATABASE_STATEMENT_TIMEOUT`) from a statement that failed on its own (a constraint, a
deadlock): only the first is "the database is unavailable". `OutageWatch` turns one into
`ServiceUnavailable` and marks the process not ready (svckit.readiness) until a probe of the
database succeeds again; the pool reconnects by itself (svckit.pool_check), so the next unit of
work after the server is back works without a restart. SQLite, a file in the process's own
volume, has no outages of this kind.
"""
import logging
import threading
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from svckit import readiness
from svckit.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# SQLSTATE classes of a server that is not there to answer: connection exception,
# insufficient resources (too many connections), operator intervention (shutdown, cancel)
OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57")
COMPONENT = "database"
PROBE_INTERVAL = 0.5  # seconds between probes while the database is down


def is_outage(exc: BaseException) -> bool:
    """True for an error that says the server cannot be reached or stopped answering."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    code = getattr(exc.orig, "pgcode", None)
    return code is None or code[:2] in OUTAGE_SQLSTATE_CLASSES


class OutageWatch:
    """One database's outages: `unavailable(exc)` is the 503 to raise (and starts probing
    the server, in a thread of its own, until it answers: then the process is ready again)."""

    def __init__(self, engine: Engine, service: str | None):
        self.engine = engine
        self.detail = (f"The {service} service's database is unavailable" if service
                       else "The database is unavailable")
        self._lock = threading.Lock()
        self._probing = False
        self.down_since: float | None = None  # time.monotonic() of the first failure

    def unavailable(self, exc: BaseException) -> ServiceUnavailable:
        reason = f"{type(exc.__cause__ or exc).__name__}: {str(exc).splitlines()[0][:200]}"
        readiness.not_ready(COMPONENT, reason)
        with self._lock:
            first = not self._probing
            if first:
                self._probing = True
                self.down_since = time.monotonic()
        if first:
            log.warning("%s (%s); answering 503 until it is back", self.detail, reason)
            threading.Thread(target=self._probe_until_back, name="database-probe",
                             daemon=True).start()
        return ServiceUnavailable(self.detail)

    def _probe_until_back(self):
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                break
            except Exception:
                time.sleep(PROBE_INTERVAL)
        with self._lock:
            self._probing = False
            down = time.monotonic() - (self.down_since or time.monotonic())
            self.down_since = None
        readiness.ready(COMPONENT)
        log.warning("%s again after %.1f s", self.detail.replace("is unavailable",
                                                                 "is available"), down)
