"""The audit service's webhook delivery metrics, served on its operations port
(svckit.opsserver, svckit.metrics):

- `inventree_webhook_deliveries_total{outcome}`: attempts' outcomes as recorded on their
  deliveries: `delivered`, `retry` (failed, tried again after a backoff), `parked` (failed,
  its retry window over);
- `inventree_webhook_attempts_total{result}`: attempts by what the receiver answered: `2xx`,
  `3xx`, `4xx`, `5xx`, or `no_answer` (refused target, connection error, timeout, cut off);
- `inventree_webhook_attempt_seconds`: histogram of an attempt's time, from resolving the
  target to the answer read (or the cut-off);
- `inventree_webhook_deliveries_waiting`, `inventree_webhook_deliveries_parked`, and
  `inventree_webhook_oldest_due_seconds` (how long the longest-waiting due delivery has been
  due: 0 when none is), read from the database at each scrape.

Labels are the code's words only, never a subscription or a URL."""
from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from svckit.events import utcnow
from svckit.metrics import BUCKETS, Children
from svckit.service import Store

from .models import webhook_deliveries

DELIVERIES = Counter("inventree_webhook_deliveries_total",
                     "Webhook attempts' outcomes: delivered, retry, parked", ["outcome"])
ATTEMPTS = Counter("inventree_webhook_attempts_total",
                   "Webhook attempts by the receiver's answer: 2xx, 3xx, 4xx, 5xx, no_answer",
                   ["result"])
ATTEMPT_SECONDS = Histogram("inventree_webhook_attempt_seconds",
                            "Time of a webhook attempt, to the answer or the cut-off",
                            buckets=BUCKETS)
deliveries, attempts = Children(DELIVERIES), Children(ATTEMPTS)


def attempt_result(status: int | None) -> str:
    """The `result` label of an attempt the receiver answered with `status` (None: none)."""
    if status is None or not 100 <= status < 600:
        return "no_answer"
    return f"{status // 100}xx"


def count_outcomes(outcomes: list[tuple[int | None, float, str]]):
    """Count recorded attempts: (answer status, latency in ms, the delivery's new status)."""
    for status, latency_ms, new_status in outcomes:
        deliveries("retry" if new_status == "pending" else new_status).inc()
        attempts(attempt_result(status)).inc()
        ATTEMPT_SECONDS.observe((latency_ms or 0.0) / 1000)


class DeliveryBacklog:
    """Collector of the deliveries waiting (pending) and parked, and how long the oldest due
    one has been due; nothing while the database cannot be read."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        d = webhook_deliveries.c
        now = utcnow()
        try:
            with self.db.read() as conn:
                counts = dict(conn.execute(
                    select(d.status, func.count()).where(d.status.in_(("pending", "parked")))
                    .group_by(d.status)).all())
                oldest = conn.execute(select(func.min(d.next_attempt)).where(
                    d.status == "pending", d.next_attempt <= now)).scalar()
        except Exception:  # the database is down: the scrape goes on without these
            return
        for name, what, number in (
                ("inventree_webhook_deliveries_waiting",
                 "Webhook deliveries not yet delivered nor parked", counts.get("pending", 0)),
                ("inventree_webhook_deliveries_parked",
                 "Webhook deliveries parked until staff redeliver them",
                 counts.get("parked", 0)),
                ("inventree_webhook_oldest_due_seconds",
                 "How long the longest-waiting due webhook delivery has been due (0: none)",
                 max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)):
            family = GaugeMetricFamily(name, what)
            family.add_metric([], number)
            yield family


class AuditMetrics(DependencyProvider):
    """Adds DeliveryBacklog to what the service's operations port exposes (svckit.metrics:
    an extension's `collectors()`). Injects nothing."""

    def collectors(self):
        return [DeliveryBacklog(ext.db) for ext in self.container.extensions
                if isinstance(ext, Store) and ext.db is not None][:1]
