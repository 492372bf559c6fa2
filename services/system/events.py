"""Every event type the system service records, with its payload fields.

Domain modules record with these constants (never a string literal), so a grep on one finds
every writer; `models.py` projects them. The strings themselves never change: the audit log
and replay depend on them. Each type's payload is modelled below (svckit.eventcatalog;
`error.logged`'s model is svckit's, part of every catalog)."""
from datetime import datetime
from typing import Any

from svckit.eventcatalog import (
    ERROR_LOGGED as SVCKIT_ERROR_LOGGED,
    Empty,
    EventCatalog,
    EventPayload,
)

# project codes (projectcodes.py); stream "project_code"
# created: code, description, responsible, metadata[, import_key]; updated: the changed ones
PROJECT_CODE_CREATED = "project_code.created"
PROJECT_CODE_UPDATED = "project_code.updated"
PROJECT_CODE_DELETED = "project_code.deleted"  # code

# custom units (customunits.py); stream "custom_unit"
CUSTOM_UNIT_CREATED = "custom_unit.created"  # name, symbol, definition[, import_key]
CUSTOM_UNIT_UPDATED = "custom_unit.updated"  # the changed fields among name, symbol, definition
CUSTOM_UNIT_DELETED = "custom_unit.deleted"  # name

# serial numbers (generate.py); stream "serial_numbers", one per part
SERIAL_NUMBERS_RESERVED = "serial_numbers.reserved"  # serials (the reserved serials, in order)

# exchange rates (currency.py); stream "exchange_rates" "default"
EXCHANGE_RATES_UPDATED = "exchange_rates.updated"  # base, rates ({currency: rate})

# news feed entries (news.py); stream "news_entry"
NEWS_ENTRY_CREATED = "news_entry.created"  # feed_id, title, link, author, summary, published, read
NEWS_ENTRY_UPDATED = "news_entry.updated"  # read
NEWS_ENTRY_DELETED = "news_entry.deleted"  # (empty)

# incoming webhooks (webhooks.py)
WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"  # endpoint_id, name, active, token, secret
WEBHOOK_MESSAGE_CREATED = "webhook_message.created"  # endpoint, host, header, body, worked_on

# error reports (errorreports.py); stream "error_report"
ERROR_REPORT_CREATED = "error_report.created"  # kind, info, data, path, source_event, fingerprint
ERROR_REPORT_RECURRED = "error_report.recurred"  # source_event (an identical error, again)
ERROR_REPORT_DELETED = "error_report.deleted"  # (empty)

# notifications (notifications.py); stream "notification"
# created: user_id, category, name, message, target, source, read
NOTIFICATION_CREATED = "notification.created"
NOTIFICATION_UPDATED = "notification.updated"  # read
NOTIFICATION_DELETED = "notification.deleted"  # (empty)

# recorded by svckit's Store for an unexpected exception in any entrypoint (every service's
# log, this one's too); the system service subscribes to it from every source
ERROR_LOGGED = SVCKIT_ERROR_LOGGED  # "error.logged": kind, info, data, path, service


# ------------------------------------------------------------------ payload models

class ProjectCodeCreated(EventPayload):
    """A project code."""

    code: str
    description: str
    responsible: int | None  # an owner's pk
    metadata: dict[str, Any]
    import_key: str | None = None  # the import row it came from


class ProjectCodeUpdated(EventPayload):
    """The fields of a project code that changed."""

    code: str | None = None
    description: str | None = None
    responsible: int | None = None
    metadata: dict[str, Any] | None = None


class ProjectCodeDeleted(EventPayload):
    """A project code deleted."""

    code: str


class CustomUnitCreated(EventPayload):
    """A custom physical unit."""

    name: str
    symbol: str
    definition: str
    import_key: str | None = None


class CustomUnitUpdated(EventPayload):
    """The fields of a custom unit that changed."""

    name: str | None = None
    symbol: str | None = None
    definition: str | None = None


class CustomUnitDeleted(EventPayload):
    """A custom unit deleted."""

    name: str


class SerialNumbersReserved(EventPayload):
    """Serial numbers of a part handed out, in order."""

    serials: list[str]


class ExchangeRatesUpdated(EventPayload):
    """Exchange rates fetched from the provider."""

    base: str
    rates: dict[str, float]


class NewsEntryCreated(EventPayload):
    """An entry of the news feed."""

    feed_id: str
    title: str
    link: str
    author: str
    summary: str
    published: datetime | None
    read: bool


class ReadChanged(EventPayload):
    """Marked read or unread."""

    read: bool


class WebhookEndpointCreated(EventPayload):
    """An incoming webhook endpoint (its token or secret stays in this service's log)."""

    endpoint_id: str
    name: str
    active: bool
    token: str
    secret: str


class WebhookMessageCreated(EventPayload):
    """A message received on an incoming webhook endpoint."""

    endpoint: int
    host: str
    header: dict[str, Any]
    body: Any
    worked_on: bool


class ErrorReportCreated(EventPayload):
    """An error report, made from an `error.logged` event."""

    kind: str
    info: str
    data: str
    path: str
    source_event: str
    fingerprint: str


class ErrorReportRecurred(EventPayload):
    """An error identical to a reported one, again."""

    source_event: str


class NotificationCreated(EventPayload):
    """A notification for one user."""

    user_id: int
    category: str
    name: str
    message: str
    target: dict[str, Any] | None
    source: dict[str, Any] | None
    read: bool


catalog = EventCatalog("system", {
    PROJECT_CODE_CREATED: ProjectCodeCreated,
    PROJECT_CODE_UPDATED: ProjectCodeUpdated,
    PROJECT_CODE_DELETED: ProjectCodeDeleted,
    CUSTOM_UNIT_CREATED: CustomUnitCreated,
    CUSTOM_UNIT_UPDATED: CustomUnitUpdated,
    CUSTOM_UNIT_DELETED: CustomUnitDeleted,
    SERIAL_NUMBERS_RESERVED: SerialNumbersReserved,
    EXCHANGE_RATES_UPDATED: ExchangeRatesUpdated,
    NEWS_ENTRY_CREATED: NewsEntryCreated,
    NEWS_ENTRY_UPDATED: ReadChanged,
    NEWS_ENTRY_DELETED: Empty,
    WEBHOOK_ENDPOINT_CREATED: WebhookEndpointCreated,
    WEBHOOK_MESSAGE_CREATED: WebhookMessageCreated,
    ERROR_REPORT_CREATED: ErrorReportCreated,
    ERROR_REPORT_RECURRED: ErrorReportRecurred,
    ERROR_REPORT_DELETED: Empty,
    NOTIFICATION_CREATED: NotificationCreated,
    NOTIFICATION_UPDATED: ReadChanged,
    NOTIFICATION_DELETED: Empty,
})
