"""The audit service: records every domain event of every service, serves `/api/events/`.

Subscribes to each source service's event exchange with a durable queue, so events
published while it is down wait for it, and records them in batches (svckit.batch_consumer).
Redeliveries are recognised by the event id and recorded once.

It also owns outbound webhooks (`/api/events/subscriptions/`): subscriptions are its own
events (webhooks.py); a delivery is made for each matching event in the transaction that
records it and sent by the dispatcher, off every write path (deliveries.py).
"""
from svckit.batch_consumer import BatchEventConsumer
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.dispatcher import Dispatcher
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from . import auditevents, chains, deliveries, feed, history, webhooks
from .metrics import AuditMetrics
from .models import store
from .settings import AuditSettings


def record_events(db, events: list[dict], digest_key: bytes):
    """The batch consumer's handler: one transaction per batch of received events (their
    chains checked, their hourly digests signed with `digest_key`, the webhook deliveries
    they call for made). The audit trail's rows are not events of the audit service's own
    log, so the commit does not wake its relay (`notify=False`: nothing to publish)."""
    with db.write(notify=False) as s:
        auditevents.record_received(s, events, digest_key)
        deliveries.enqueue(s, events)


def delivery_policy(settings: AuditSettings) -> deliveries.DeliveryPolicy:
    return deliveries.DeliveryPolicy(
        settings.webhook_hosts(), settings.WEBHOOK_ALLOW_PRIVATE,
        settings.WEBHOOK_TIMEOUT_SECONDS, settings.WEBHOOK_RETRY_FOR_SECONDS,
        settings.WEBHOOK_BACKOFF_BASE_SECONDS, settings.WEBHOOK_BACKOFF_MAX_SECONDS,
        settings.WEBHOOK_CONCURRENCY, settings.WEBHOOK_PER_SUBSCRIPTION,
        settings.WEBHOOK_POLL_SECONDS)


class Service(ServiceBase):
    name = "audit"
    db = Store(store)
    caller: Caller = CallerProvider()
    settings: AuditSettings = Settings(AuditSettings)
    events = BatchEventConsumer(AuditSettings.sources, record_events,
                                configure=AuditSettings.digest_key)
    dispatch = Dispatcher(lambda settings: deliveries.Deliveries(delivery_policy(settings)),
                          delivery_policy)
    metrics = AuditMetrics()  # services.audit.metrics, on the operations port

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
    def export_page(self, params: dict, after: int, limit: int, format: str) -> dict:
        """A keyset page of the filtered trail as NDJSON or CSV text joined from the events'
        stored lines (services.audit.feed), for the export. Staff only."""
        self.caller.require_staff()
        with self.db.read() as s:
            return feed.export_page(s, params, after, limit, format)

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

    # ------------------------------------------------------------ outbound webhooks

    def _target_rules(self) -> webhooks.TargetRules:
        return delivery_policy(self.settings).rules

    @rpc
    def list_webhook_subscriptions(self, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return webhooks.list_subscriptions(s, params)

    @rpc
    def get_webhook_subscription(self, pk: int) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return webhooks.render(webhooks.get(s, pk))

    @rpc
    def create_webhook_subscription(self, data: dict) -> dict:
        """A new subscription; `data["secret"]` is stored, never answered."""
        self.caller.require_staff()
        cleaned = webhooks.check(data, self._target_rules())  # a DNS lookup: before the unit
        with self.db.write() as s:
            return webhooks.create(s, self.caller, cleaned)

    @rpc
    def update_webhook_subscription(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        cleaned = webhooks.check(data, self._target_rules(), partial)
        with self.db.write() as s:
            return webhooks.update_subscription(s, self.caller, pk, cleaned)

    @rpc
    def delete_webhook_subscription(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            webhooks.delete_subscription(s, self.caller, pk)

    @rpc
    def list_webhook_deliveries(self, subscription: int, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return deliveries.list_deliveries(s, subscription, params)

    @rpc
    def get_webhook_delivery(self, subscription: int, pk: int) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return deliveries.render(deliveries.get(s, subscription, pk))

    @rpc
    def redeliver_webhook(self, subscription: int, pk: int) -> dict:
        """Put a parked delivery back, due at once."""
        self.caller.require_staff()
        with self.db.write() as s:
            answer = deliveries.redeliver(s, self.caller, subscription, pk)
        self.dispatch()
        return answer
