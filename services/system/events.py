"""Every event type the system service records, with its payload fields.

Domain modules record with these constants (never a string literal), so a grep on one finds
every writer; `models.py` projects them. The strings themselves never change: the audit log
and replay depend on them."""

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
ERROR_LOGGED = "error.logged"  # kind, info, data, path, service
