"""A service process's Prometheus metrics, served on its operations port (svckit.opsserver).

Labels are code-defined names only (service, entrypoint method, outcome), never user input:

- `inventree_service_handler_seconds{service,method}`: time of each entrypoint's worker
  (RPC methods, event handlers), `..._handler_errors_total{service,method,kind}` its errors
  (`kind` "client": an ApiError answered as a 4xx/503; "server": an unexpected exception);
- `inventree_service_workers_busy{service}` / `inventree_service_workers_max{service}`:
  workers running, out of SERVICE_MAX_WORKERS;
- `inventree_db_transaction_seconds{service,end}`: database transactions, from begin to
  commit or rollback;
- `inventree_relay_unpublished_events{service}` and
  `inventree_relay_oldest_unpublished_age_seconds{service}` (read from the event log at
  scrape time), `inventree_events_published_total{service}` (counted by svckit.relay);
- `inventree_rpc_queue_messages{service,queue}` and `inventree_rpc_queue_consumers{service,queue}`:
  the service's RPC request queue (`rpc-<service>`) as the broker reports it at scrape time
  (what KEDA scales each service on; the queue's name is the one its consumer declares);
- `inventree_dead_letters_total{queue}`: messages parked in `<queue>.dead` (svckit.parking;
  queue names are the code's: `rpc-<service>`, `evt-...--<service>.<handler>`).
"""
import logging
import time
import weakref
from bisect import bisect_left
from typing import Callable

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcConsumer
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values as _values,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select

from svckit import procid
from svckit.broker import connect
from svckit.errors import ApiError
from svckit.events import utcnow

log = logging.getLogger(__name__)

if _values.ValueClass is not _values.MutexValue:  # multiprocess mode (a gateway worker):
    # every write checks the process id for a fork; svckit.procid answers without a system
    # call (metrics are made after this module is imported: gateway.metrics imports it)
    _values.ValueClass = _values.MultiProcessValue(procid.current)

# 1 ms .. 60 s: an RPC answer is a few ms, an import batch or a scan up to a minute
BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)

HANDLER_SECONDS = Histogram("inventree_service_handler_seconds",
                            "Time of a service's entrypoint workers (RPC methods, event handlers)",
                            ["service", "method"], buckets=BUCKETS)
HANDLER_ERRORS = Counter("inventree_service_handler_errors_total",
                         "Entrypoint workers that raised: kind=client (an ApiError answer) or "
                         "server (unexpected)", ["service", "method", "kind"])
WORKERS_BUSY = Gauge("inventree_service_workers_busy", "Entrypoint workers running", ["service"])
WORKERS_MAX = Gauge("inventree_service_workers_max",
                    "Workers a service process runs at once (SERVICE_MAX_WORKERS)", ["service"])
TRANSACTION_SECONDS = Histogram("inventree_db_transaction_seconds",
                                "Database transactions, begin to commit or rollback",
                                ["service", "end"], buckets=BUCKETS)
EVENTS_PUBLISHED = Counter("inventree_events_published_total",
                           "Events the relay published to the broker (confirmed)", ["service"])
DEAD_LETTERS = Counter("inventree_dead_letters_total",
                       "Messages parked in a dead-letter queue (<queue>.dead)", ["queue"])
QUEUE_CHECK_TIMEOUT = 2.0  # seconds a scrape waits for the broker's answer on the RPC queue


def observer(histogram) -> Callable[[float], None]:
    """`histogram.observe` (a histogram without labels, or a labelled one's child) in one
    call: its sum and the one bucket the value falls in, found by bisection.
    prometheus_client's `observe` checks on every call that it is not a labelled parent,
    then tries the buckets one by one (reads the pinned 0.26's fields: `_upper_bounds`,
    `_sum`, `_buckets`; tests/svckit/test_metrics_observer.py compares the two)."""
    if histogram._is_parent():  # noqa: SLF001
        raise ValueError("histogram metric is missing label values")
    bounds = tuple(histogram._upper_bounds)  # noqa: SLF001 (ends with +Inf)
    add_to_sum = histogram._sum.inc  # noqa: SLF001
    count_in = tuple(bucket.inc for bucket in histogram._buckets)  # noqa: SLF001

    def observe(amount: float) -> None:
        add_to_sum(amount)
        count_in[bisect_left(bounds, amount)](1)
    return observe


class Children:
    """A labelled metric's children by label values, looked up once: prometheus_client's
    `labels()` validates and locks on every call, a cost on every request. A histogram's
    children are also offered as their `observer`."""

    def __init__(self, metric):
        self.metric = metric
        self._made: dict[tuple, object] = {}
        self._writers: dict[tuple, Callable[[float], None]] = {}  # observers, adders

    def __call__(self, *values: str):
        child = self._made.get(values)
        if child is None:
            child = self._made[values] = self.metric.labels(*values)
        return child

    def observer(self, *values: str) -> Callable[[float], None]:
        """`observer()` of the child with these label values."""
        observe = self._writers.get(values)
        if observe is None:
            observe = self._writers[values] = observer(self(*values))
        return observe

    def adder(self, *values: str) -> Callable[[float], None]:
        """A counter's or gauge's `inc` for the child with these label values, without
        prometheus_client's checks on every call (the amount is the caller's to keep
        non-negative for a counter)."""
        add = self._writers.get(values)
        if add is None:
            add = self._writers[values] = self(*values)._value.inc  # noqa: SLF001
        return add


handler_seconds, handler_errors = Children(HANDLER_SECONDS), Children(HANDLER_ERRORS)
workers_busy, transaction_seconds = Children(WORKERS_BUSY), Children(TRANSACTION_SECONDS)


def exposition(registry=REGISTRY) -> tuple[bytes, str]:
    return generate_latest(registry), CONTENT_TYPE_LATEST


def service_exposition(container) -> Callable[[], tuple[bytes, str]]:
    """The process's metrics plus those read at scrape time for the service in `container`:
    the relay's backlog, and the collectors its extensions offer (a `collectors()` method,
    e.g. the importer's sessions by status)."""
    own = CollectorRegistry(auto_describe=False)
    for ext in container.extensions:
        if getattr(ext, "relay_enabled", False) and hasattr(ext, "store"):
            own.register(RelayBacklog(container.service_name, ext))
        if isinstance(ext, RpcConsumer):
            own.register(RpcQueueDepth(container.service_name, ext.queue.name,
                                       container.config["AMQP_URI"]))
        offered = getattr(ext, "collectors", None)
        if callable(offered):
            for collector in offered():
                own.register(collector)

    def scrape() -> tuple[bytes, str]:
        return generate_latest(REGISTRY) + generate_latest(own), CONTENT_TYPE_LATEST

    return scrape


class RelayBacklog:
    """Collector of a service's unpublished events and the age of the oldest, from its
    event log (`store`: svckit.service.Store, once set up); nothing while the database
    cannot be read. (Collectors that read a database follow this rule, so a scrape
    answers when it matters most.)"""

    def __init__(self, service: str, store):
        self.service = service
        self.store = store

    def collect(self):
        events = self.store.store.events
        count = GaugeMetricFamily("inventree_relay_unpublished_events",
                                  "Committed events not yet published", labels=["service"])
        age = GaugeMetricFamily("inventree_relay_oldest_unpublished_age_seconds",
                                "Age of the oldest unpublished event (0: none)",
                                labels=["service"])
        try:
            with self.store.db.read() as conn:
                n, oldest = conn.execute(select(func.count(), func.min(events.c.created))
                                         .where(events.c.published.is_(None))).one()
        except Exception:  # the database is down: the scrape goes on without these
            log.debug("relay backlog unreadable", exc_info=True)
            return
        count.add_metric([self.service], n)
        age.add_metric([self.service],
                       max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield count
        yield age


class RpcQueueDepth:
    """Collector of the messages waiting in the service's RPC request queue and its
    consumers, from a passive declaration on a connection of its own (opened for the
    scrape, closed after it); nothing while the broker does not answer."""

    def __init__(self, service: str, queue: str, amqp_uri: str):
        self.service = service
        self.queue = queue
        self.amqp_uri = amqp_uri

    def collect(self):
        try:
            conn = connect(self.amqp_uri, connect_timeout=QUEUE_CHECK_TIMEOUT,
                           transport_options={"read_timeout": QUEUE_CHECK_TIMEOUT,
                                              "write_timeout": QUEUE_CHECK_TIMEOUT})
            try:
                _, messages, consumers = conn.default_channel.queue_declare(
                    self.queue, passive=True)
            finally:
                conn.release()
        except Exception:  # the broker is down, or the queue is not declared yet
            log.debug("RPC queue %s unreadable", self.queue, exc_info=True)
            return
        for name, what, number in (
                ("inventree_rpc_queue_messages", "Messages waiting in the RPC request queue",
                 messages),
                ("inventree_rpc_queue_consumers", "Consumers of the RPC request queue",
                 consumers)):
            family = GaugeMetricFamily(name, what, labels=["service", "queue"])
            family.add_metric([self.service, self.queue], number)
            yield family


_timed_engines: "weakref.WeakSet" = weakref.WeakSet()


def time_transactions(service: str, engine) -> None:
    """Observe every transaction of `engine` in inventree_db_transaction_seconds (once per
    engine)."""
    if engine in _timed_engines:
        return
    _timed_engines.add(engine)

    def begin(conn):
        conn.info["tx_started"] = time.perf_counter()

    def end(kind):
        def ended(conn):
            if conn.invalidated:  # the server went away mid-transaction: `conn.info` would
                return  # raise PendingRollbackError out of the rollback (a 500, not a 503)
            started = conn.info.pop("tx_started", None)
            if started is not None:
                transaction_seconds.observer(service, kind)(time.perf_counter() - started)
        return ended

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end("commit"))
    event.listen(engine, "rollback", end("rollback"))


class ServiceMetrics(DependencyProvider):
    """Times every worker of the container and counts its errors and busy workers; times
    the transactions of the service's database (svckit.service.Store's). Injects nothing."""

    def __init__(self):
        self._started: dict = {}

    def setup(self):
        service = self.container.service_name
        WORKERS_MAX.labels(service).set(self.container.max_workers)
        WORKERS_BUSY.labels(service).set(0)

    def start(self):
        service = self.container.service_name
        for ext in self.container.extensions:  # Store made its Database in its setup()
            db = getattr(ext, "db", None)
            engine = getattr(db, "engine", None)
            if engine is not None:
                time_transactions(service, engine)

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()
        workers_busy(self.container.service_name).inc()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is not None:
            kind = "client" if isinstance(exc_info[1], ApiError) else "server"
            handler_errors(self.container.service_name, worker_ctx.entrypoint.method_name,
                           kind).inc()

    def worker_teardown(self, worker_ctx):
        service = self.container.service_name
        workers_busy(service).dec()
        started = self._started.pop(worker_ctx, None)
        if started is not None:
            handler_seconds.observer(service, worker_ctx.entrypoint.method_name)(
                time.perf_counter() - started)
