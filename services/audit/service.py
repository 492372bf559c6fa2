"""The audit service: records every domain event of every service, serves `/api/events/`.

Subscribes to each source service's event exchange with a durable queue, so events
published while it is down wait for it, and records them in batches (svckit.batch_consumer).
Redeliveries are recognised by the event id and recorded once.
"""
from svckit.batch_consumer import BatchEventConsumer
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import auditevents
from .models import store
from .settings import AuditSettings


def record_events(db, events: list[dict]):
    """The batch consumer's handler: one transaction per batch of received events."""
    with db.write() as s:
        auditevents.record_received(s, events)


class Service(ServiceBase):
    name = "audit"
    db = Store(store, relay=False)
    caller: Caller = CallerProvider()
    settings: AuditSettings = Settings(AuditSettings)
    events = BatchEventConsumer(AuditSettings.sources, record_events)

    @rpc
    def list_events(self, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return auditevents.list_events(s, params, self.settings.EVENTS_PAGE_SIZE,
                                           self.settings.EVENTS_MAX_LIMIT)
