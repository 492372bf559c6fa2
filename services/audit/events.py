"""Every event type the audit service records: changes of outbound webhook subscriptions
(webhooks.py) and the redeliveries staff ask for (deliveries.py). The audit trail itself is
derived from the other services' logs and records nothing here.

A subscription's secret is never in an event: it is kept in `webhook_secret`, a table that
no event projects (replay keeps it, as it keeps the id counters); an event only says that
a new one was set. Each type's payload is modelled below (svckit.eventcatalog)."""
from svckit.eventcatalog import EventCatalog, EventPayload

# outbound webhook subscriptions (webhooks.py); stream "webhook_subscription"
WEBHOOK_SUBSCRIPTION_CREATED = "webhook_subscription.created"
WEBHOOK_SUBSCRIPTION_UPDATED = "webhook_subscription.updated"  # the fields that changed
WEBHOOK_SUBSCRIPTION_DELETED = "webhook_subscription.deleted"
# a parked delivery sent again on request (deliveries.py); stream "webhook_delivery"
WEBHOOK_DELIVERY_REDELIVERED = "webhook_delivery.redelivered"


class WebhookSubscriptionCreated(EventPayload):
    """An outbound webhook subscription added (its secret is not part of any event)."""

    target_url: str
    event_types: list[str]
    active: bool
    description: str


class WebhookSubscriptionUpdated(EventPayload):
    """The fields of a subscription that changed; `secret_replaced` when a new secret was
    set (the secret itself is not part of any event)."""

    target_url: str | None = None
    event_types: list[str] | None = None
    active: bool | None = None
    description: str | None = None
    secret_replaced: bool | None = None


class WebhookSubscriptionDeleted(EventPayload):
    """A subscription deleted; its deliveries not yet made are dropped."""

    target_url: str


class WebhookDeliveryRedelivered(EventPayload):
    """A parked delivery put back to be sent again, with a fresh retry window."""

    subscription: int
    event_id: str


catalog = EventCatalog("audit", {
    WEBHOOK_SUBSCRIPTION_CREATED: WebhookSubscriptionCreated,
    WEBHOOK_SUBSCRIPTION_UPDATED: WebhookSubscriptionUpdated,
    WEBHOOK_SUBSCRIPTION_DELETED: WebhookSubscriptionDeleted,
    WEBHOOK_DELIVERY_REDELIVERED: WebhookDeliveryRedelivered,
})
