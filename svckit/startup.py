"""Waiting at start for what a service process needs: its database and the broker.

A replica started while PostgreSQL or RabbitMQ is not (yet) there does not exit (its
supervisor would start it again and again): `wait_for_dependencies` tries each one in turn,
logging one line per failed attempt (what, why, when the next try is), waits between
attempts with capped exponential backoff (0.5 s, doubling, at most
`STARTUP_RETRY_MAX_SECONDS`), reports the component not ready (svckit.readiness) meanwhile,
and returns once every one answered, or as soon as the process is asked to stop.
"""
import logging
import time
from typing import Callable, Iterator, NamedTuple

from sqlalchemy import text

from svckit import readiness
from svckit.broker import connect, redacted
from svckit.db import make_engine
from svckit.settings import ServiceSettings

log = logging.getLogger(__name__)
FIRST_DELAY = 0.5


class Dependency(NamedTuple):
    component: str  # the readiness component ("database", "broker")
    what: str  # for the log: "the database at ...", "the broker at ..."
    check: Callable[[], None]  # raises while the dependency cannot be used


def delays(cap: float) -> Iterator[float]:
    """0.5, 1, 2, 4, ... seconds, never more than `cap`."""
    delay = FIRST_DELAY
    while True:
        yield min(delay, cap)
        delay *= 2


def reason_of(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


def database_check(url: str, connect_timeout: float) -> Callable[[], None]:
    def check():
        engine = make_engine(url, connect_timeout=connect_timeout)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    return check


def broker_check(amqp_uri: str) -> Callable[[], None]:
    def check():
        connect(amqp_uri, connect_timeout=5).release()
    return check


def dependencies_of(service: str, settings: ServiceSettings,
                    uses_database: bool) -> list[Dependency]:
    """The database (when the service has one) and the broker, as the service's `settings`
    name them."""
    found = []
    if uses_database:
        url = settings.database_url(service)
        shown = url.split("@", 1)[-1] if "@" in url else url
        found.append(Dependency("database", f"the {service} database ({shown})",
                                database_check(url, settings.DATABASE_CONNECT_TIMEOUT)))
    amqp_uri = settings.AMQP_URI
    found.append(Dependency("broker", f"the broker ({redacted(amqp_uri)})",
                            broker_check(amqp_uri)))
    return found


def wait_for_dependencies(service: str, dependencies: list[Dependency],
                          stopping: Callable[[], bool], cap: float,
                          sleep: Callable[[float], object] = time.sleep) -> bool:
    """Try each dependency until it answers, waiting at most `cap` seconds
    (STARTUP_RETRY_MAX_SECONDS) between attempts; True once all did, False if `stopping()`
    became true first. `sleep` waits between attempts (one that returns early when the
    process is asked to stop keeps a SIGTERM prompt)."""
    for dependency in dependencies:
        attempt = 0
        waits = delays(cap)
        while True:
            if stopping():
                return False
            attempt += 1
            try:
                dependency.check()
            except Exception as exc:
                reason = reason_of(exc)
                readiness.not_ready(dependency.component, reason)
                delay = next(waits)
                log.warning("%s: cannot reach %s (attempt %d: %s); next try in %.1f s",
                            service, dependency.what, attempt, reason, delay)
                sleep(delay)
                continue
            readiness.ready(dependency.component)
            if attempt > 1:
                log.info("%s: reached %s after %d attempts", service, dependency.what, attempt)
            break
    return not stopping()
