"""The attachments service's Prometheus metrics, read from its database at scrape time and
served on its operations port (svckit.opsserver): `inventree_attachments_files` and
`inventree_attachments_stored_bytes`, the attachments that have a stored file and their
sizes. (The bytes the gateway serves from `/media/` are the gateway's
`inventree_gateway_media_bytes_served_total`.)"""
from nameko.extensions import DependencyProvider
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from svckit.service import Store

from .models import attachments


class StoredFiles:
    """Collector of the stored attachment files and their bytes."""

    def __init__(self, db):
        self.db = db

    def collect(self):
        try:
            with self.db.read() as conn:
                count, size = conn.execute(
                    select(func.count(), func.coalesce(func.sum(attachments.c.file_size), 0))
                    .where(attachments.c.file_key.is_not(None))).one()
        except Exception:  # the database is down: the scrape goes on without these
            return
        files = GaugeMetricFamily("inventree_attachments_files",
                                  "Attachments with a stored file")
        files.add_metric([], count)
        stored = GaugeMetricFamily("inventree_attachments_stored_bytes",
                                   "Bytes of the attachments' stored files")
        stored.add_metric([], size)
        yield files
        yield stored


class AttachmentMetrics(DependencyProvider):
    """Adds StoredFiles to what the service's operations port exposes (svckit.metrics: an
    extension's `collectors()`). Injects nothing."""

    def collectors(self):
        return [StoredFiles(ext.db) for ext in self.container.extensions
                if isinstance(ext, Store) and ext.db is not None][:1]
