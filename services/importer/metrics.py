"""The importer's Prometheus metrics, served on its operations port (svckit.opsserver):

- `inventree_importer_rows_total{stage}`: rows `parsed` from data files, found `valid` or
  `invalid` by their target service, `created` there or `failed` to be;
- `inventree_importer_bytes_read_total`: bytes of data files opened for a scan or a parse;
- `inventree_importer_sessions{status}`: sessions by status (`mapping`, `importing`,
  `processing`, `complete`, ...), read from the importer's database at scrape time;
- `inventree_importer_rows_waiting{stage}`: the background work waiting, read likewise:
  `parse`, the data rows of files being imported (status `importing`) not read yet;
  `create`, rows accepted through the API and not yet created in their target service
  (what KEDA scales the importer on, besides its RPC queue).
"""
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from svckit.service import Store

from .models import rows, sessions

ROWS = Counter("inventree_importer_rows_total",
               "Import rows by stage: parsed, valid, invalid, created, failed", ["stage"])
BYTES_READ = Counter("inventree_importer_bytes_read_total",
                     "Bytes of data files opened for a scan or a parse")


def importing_status() -> int:
    from .sessions import IMPORTING  # imports us
    return IMPORTING


def status_names() -> dict[int, str]:
    from .sessions import COMPLETE, IMPORTING, INITIALIZING, MAPPING, PROCESSING  # imports us
    return {INITIALIZING: "initializing", MAPPING: "mapping", IMPORTING: "importing",
            PROCESSING: "processing", COMPLETE: "complete"}


def count_rows(stage: str, n: int) -> None:
    if n:
        ROWS.labels(stage).inc(n)


class SessionsByStatus:
    """Collector of the sessions in each status and of the rows waiting to be parsed or
    created, from the importer's database."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        family = GaugeMetricFamily("inventree_importer_sessions", "Import sessions by status",
                                   labels=["status"])
        try:
            with self.db.read() as conn:
                found = dict(conn.execute(select(sessions.c.status, func.count())
                                          .group_by(sessions.c.status)).all())
                # a session's file rows minus the rows read from it so far
                unread = conn.execute(
                    select(sessions.c.file_rows, sessions.c.row_count)
                    .where(sessions.c.status == importing_status())).all()
                # accepted rows are unmarked once created (or found invalid)
                accepted = conn.execute(select(func.count()).select_from(rows).where(
                    rows.c.accepted.is_(True))).scalar_one()
        except Exception:  # the database is down: the scrape goes on without these
            return
        for code, name in status_names().items():
            family.add_metric([name], found.get(code, 0))
        yield family
        waiting = GaugeMetricFamily("inventree_importer_rows_waiting",
                                    "Import rows waiting: stage=parse (not read from their "
                                    "file yet) or create (accepted, not created yet)",
                                    labels=["stage"])
        waiting.add_metric(["parse"], sum(max(total - done, 0) for total, done in unread))
        waiting.add_metric(["create"], accepted)
        yield waiting


class ImporterMetrics(DependencyProvider):
    """Adds SessionsByStatus to what the service's operations port exposes (svckit.metrics:
    an extension's `collectors()`). Injects nothing."""

    def collectors(self):
        return [SessionsByStatus(ext.db) for ext in self.container.extensions
                if isinstance(ext, Store) and ext.db is not None][:1]
