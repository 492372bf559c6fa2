"""The system service's tables (projections of its event log) and their projector."""
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    insert,
    update,
)

from svckit.events import EventStore, Projector, column_values
from svckit.importing import import_receipt_table

from . import events

metadata = MetaData()

project_codes = Table(
    "project_code", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("code", String(50), nullable=False, unique=True),
    Column("description", String(200), nullable=False, default=""),
    Column("responsible", Integer, nullable=True),  # an owner pk of the users service
    Column("metadata", JSON, nullable=True),
)

custom_units = Table(
    "custom_unit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(50), nullable=False, unique=True),
    Column("symbol", String(10), nullable=False, default=""),
    Column("definition", String(50), nullable=False),
)

error_reports = Table(
    "error_report", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(128), nullable=False),
    Column("info", Text, nullable=False),
    Column("data", Text, nullable=False),
    Column("path", String(200), nullable=False),
    Column("when", DateTime, nullable=False),
    Column("source_event", String(120), nullable=False, unique=True),
)

# Identical errors share one report (services.system.errorreports): the group of a report, keyed
# by the errors' fingerprint, with how often it occurred since it was first seen.
error_groups = Table(
    "error_report_group", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the report's id
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("count", Integer, nullable=False),
    Column("first_seen", DateTime, nullable=False),
)

notifications = Table(
    "notification", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("user_id", Integer, nullable=False, index=True),
    Column("category", String(250), nullable=False),
    Column("name", String(250), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("target", JSON, nullable=True),
    Column("source", JSON, nullable=True),
    Column("creation", DateTime, nullable=False),
    Column("read", Boolean, nullable=False, default=False),
)

serial_ledger = Table(
    "serial_ledger", metadata,
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("latest", String(100), nullable=False),
)

webhook_endpoints = Table(
    "webhook_endpoint", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("endpoint_id", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False, default=""),
    Column("active", Boolean, nullable=False, default=True),
    Column("token", String(255), nullable=False, default=""),
    Column("secret", String(255), nullable=False, default=""),
)

webhook_messages = Table(
    "webhook_message", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("endpoint", Integer, nullable=False, index=True),
    Column("host", String(255), nullable=False, default=""),
    Column("header", JSON, nullable=False),
    Column("body", JSON, nullable=True),
    Column("created", DateTime, nullable=False),
    Column("worked_on", Boolean, nullable=False, default=False),
)

exchange_rates = Table(
    "exchange_rate", metadata,
    Column("currency", String(3), primary_key=True),
    Column("rate", JSON, nullable=False),  # a float; JSON keeps it exact across databases
)

exchange_state = Table(
    "exchange_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("base_currency", String(3), nullable=False),
    Column("updated", DateTime, nullable=True),
)

news_entries = Table(
    "news_entry", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("feed_id", String(250), nullable=False, unique=True),
    Column("title", String(250), nullable=False),
    Column("link", String(250), nullable=False, default=""),
    Column("published", DateTime, nullable=True),
    Column("author", String(250), nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Column("read", Boolean, nullable=False, default=False),
)

receipts = import_receipt_table(metadata)

projector = Projector([receipts, news_entries, exchange_rates, exchange_state, webhook_messages,
                       webhook_endpoints, serial_ledger, notifications, error_groups, error_reports,
                       custom_units, project_codes])
store = EventStore("system", metadata, projector, events.catalog)


def _id(e) -> int:
    return int(e["stream_id"])


def _on_created(table, stream_type):
    add_row, add_receipt = insert(table), insert(receipts)  # built once (imports are hot)

    def values(e) -> tuple[dict, str | None]:
        """The row of a created event, and its import key (None: not imported)."""
        payload = column_values(table, e["payload"])
        import_key = payload.pop("import_key", None)
        for name in ("when", "creation", "created"):  # the row's time is the event's
            if name in table.c and name not in payload:
                payload[name] = e["created"]
        return {**payload, "id": _id(e)}, import_key

    @projector.on(f"{stream_type}.created")
    def created(s, e):
        row, import_key = values(e)
        s.execute(add_row, row)
        if import_key:
            s.execute(add_receipt, {"import_key": import_key, "pk": row["id"]})

    @projector.on_many(f"{stream_type}.created")
    def created_many(s, es):
        """An import's batch: one executemany per set of columns, one for the receipts."""
        by_columns: dict[tuple, list[dict]] = {}
        receipts_ = []
        for e in es:
            row, import_key = values(e)
            by_columns.setdefault(tuple(sorted(row)), []).append(row)
            if import_key:
                receipts_.append({"import_key": import_key, "pk": row["id"]})
        for rows in by_columns.values():
            s.execute(add_row, rows)
        if receipts_:
            s.execute(add_receipt, receipts_)

    @projector.on(f"{stream_type}.updated")
    def updated(s, e):
        s.execute(update(table).where(table.c.id == _id(e)).values(**e["payload"]))

    @projector.on(f"{stream_type}.deleted")
    def deleted(s, e):
        s.execute(delete(table).where(table.c.id == _id(e)))


for _table, _stream in ((project_codes, "project_code"), (custom_units, "custom_unit"),
                        (error_reports, "error_report"), (notifications, "notification"),
                        (webhook_endpoints, "webhook_endpoint"),
                        (webhook_messages, "webhook_message"), (news_entries, "news_entry")):
    _on_created(_table, _stream)


@projector.on(events.ERROR_REPORT_CREATED)
def _report_created(s, e):
    values = column_values(error_reports, e["payload"])
    fingerprint = values.pop("fingerprint", None)
    values.setdefault("when", e["created"])
    s.execute(insert(error_reports).values(id=_id(e), **values))
    if fingerprint:
        s.execute(insert(error_groups).values(id=_id(e), fingerprint=fingerprint, count=1,
                                              first_seen=values["when"]))


@projector.on(events.ERROR_REPORT_RECURRED)
def _report_recurred(s, e):
    s.execute(update(error_reports).where(error_reports.c.id == _id(e)).values(when=e["created"]))
    s.execute(update(error_groups).where(error_groups.c.id == _id(e)).values(
        count=error_groups.c.count + 1))


@projector.on(events.ERROR_REPORT_DELETED)
def _report_deleted(s, e):
    s.execute(delete(error_groups).where(error_groups.c.id == _id(e)))
    s.execute(delete(error_reports).where(error_reports.c.id == _id(e)))


_MOVE_LEDGER = update(serial_ledger).where(serial_ledger.c.part == bindparam("p")).values(
    latest=bindparam("latest"))
_OPEN_LEDGER = insert(serial_ledger)


@projector.on(events.SERIAL_NUMBERS_RESERVED)
def _serials_reserved(s, e):
    part, latest = int(e["stream_id"]), e["payload"]["serials"][-1]
    if s.execute(_MOVE_LEDGER, {"p": part, "latest": latest}).rowcount == 0:
        s.execute(_OPEN_LEDGER, {"part": part, "latest": latest})


@projector.on(events.EXCHANGE_RATES_UPDATED)
def _rates_updated(s, e):
    s.execute(delete(exchange_rates))
    for code, rate in e["payload"]["rates"].items():
        s.execute(insert(exchange_rates).values(currency=code, rate=rate))
    s.execute(delete(exchange_state))
    s.execute(insert(exchange_state).values(id=1, base_currency=e["payload"]["base"],
                                            updated=e["created"]))
