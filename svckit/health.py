"""What a service process's `/readyz` checks (svckit.opsserver): its broker consumer is
connected, its database answers `SELECT 1` within a deadline, and nothing is marked in
svckit.readiness (start-up backoff, database outages). Each failed check is a reason."""
import eventlet
from sqlalchemy import text

from svckit import readiness
from svckit.consumer_state import TracksConnection
from svckit.db import Database


def queue_consumers(container) -> list[TracksConnection]:
    return [ext for ext in container.extensions if isinstance(ext, TracksConnection)]


def databases(container) -> list[Database]:
    """The databases the container's dependencies hold (svckit.service.Store's `db`)."""
    found = []
    for ext in container.extensions:
        db = getattr(ext, "db", None)
        if isinstance(db, Database) and db not in found:
            found.append(db)
    return found


def database_problem(db: Database, deadline: float) -> str | None:
    try:
        with eventlet.Timeout(deadline):
            with db.read() as conn:
                conn.execute(text("SELECT 1"))
    except eventlet.Timeout:
        return f"the database did not answer within {deadline:g} s"
    except Exception as exc:
        return f"the database is unreachable: {type(exc).__name__}"
    return None


def service_problems(container, deadline: float) -> dict[str, str]:
    """Every reason the service in `container` is not ready (empty: ready)."""
    found = readiness.problems()
    consumers = queue_consumers(container)
    if not consumers or not all(c.connected() for c in consumers):
        found.setdefault("broker", "not consuming from the message broker")
    for db in databases(container):
        problem = database_problem(db, deadline)
        if problem:
            found.setdefault("database", problem)
    return found
