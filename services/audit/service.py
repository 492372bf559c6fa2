"""The audit service: records every domain event of every service, serves `/api/events/`.

Subscribes to each source service's event exchange with a durable queue, so events
published while it is down wait for it, and records them in batches (svckit.batch_consumer).
Redeliveries are recognised by the event id and recorded once.
"""
from svckit.batch_consumer import BatchEventConsumer
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import auditevents, chains, feed, history
from .models import store
from .settings import AuditSettings


def record_events(db, events: list[dict], digest_key: bytes):
    """The batch consumer's handler: one transaction per batch of received events (their
    chains checked, their hourly digests signed with `digest_key`)."""
    with db.write() as s:
        auditevents.record_received(s, events, digest_key)


class Service(ServiceBase):
    name = "audit"
    db = Store(store, relay=False)
    caller: Caller = CallerProvider()
    settings: AuditSettings = Settings(AuditSettings)
    events = BatchEventConsumer(AuditSettings.sources, record_events,
                                configure=AuditSettings.digest_key)

    @rpc
    def list_events(self, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return auditevents.list_events(s, params, self.settings.EVENTS_PAGE_SIZE,
                                           self.settings.EVENTS_MAX_LIMIT,
                                           self.settings.EVENTS_COUNT_MAX)

    @rpc
    def event_history(self, params: dict) -> dict:
        """One object's state as of a time, rebuilt from its events (services.audit.history).
        Staff only."""
        self.caller.require_staff()
        with self.db.read() as s:
            return history.state_at(s, params)

    @rpc
    def events_after(self, params: dict, after: int, limit: int) -> dict:
        """A keyset page of the filtered trail: events with ids above `after`
        (services.audit.feed), for the export and the live feed. Staff only."""
        self.caller.require_staff()
        with self.db.read() as s:
            return feed.events_after(s, params, after, limit)

    @rpc
    def latest_event_id(self) -> int:
        """The id of the last recorded event, where a live feed starts. Staff only."""
        self.caller.require_staff()
        with self.db.read() as s:
            return feed.latest_id(s)

    @rpc
    def chain_digests(self, services: list) -> dict:
        """Each service's latest signed hourly digest (and whether its signature holds) and
        how many of its events failed their check on receipt; for `GET /api/events/verify/`.
        Staff only."""
        self.caller.require_staff()
        key = self.settings.digest_key()
        with self.db.read() as s:
            return {str(name): chains.last_digest(s, key, str(name)) for name in services}
