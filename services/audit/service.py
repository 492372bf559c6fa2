"""The audit service: records every domain event of every service, serves `/api/events/`.

Subscribes to each source service's event exchange with a durable queue, so events
published while it is down wait for it, and records them in batches (svckit.batch_consumer).
Redeliveries are recognised by the event id and recorded once.
"""
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from svckit import config
from svckit.batch_consumer import BatchEventConsumer
from svckit.context import Caller
from svckit.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from svckit.events import utcnow
from svckit.listing import run_list
from svckit.service import CallerProvider, ServiceBase, Store, rpc

from .models import audit_events, store

SOURCES = tuple(config.setting(
    "AUDIT_SOURCES", "gateway,users,status,system,attachments,importer").split(","))

# The event log is always paged: without `limit` (or with 0) a page of EVENTS_PAGE_SIZE.
PAGE_SIZE = config.setting("EVENTS_PAGE_SIZE", 100, int)
MAX_LIMIT = config.setting("EVENTS_MAX_LIMIT", 1000, int)

ORDERING = {"id": audit_events.c.id, "created": audit_events.c.created,
            "service": audit_events.c.service, "type": audit_events.c.type}


def _parse_time(params, name):
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed({name: ["Enter a valid date/time."]})
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def render(row) -> dict:
    return {"pk": row["id"], "id": row["event_id"], "service": row["service"],
            "seq": row["seq"], "stream_type": row["stream_type"],
            "stream_id": row["stream_id"], "version": row["version"], "type": row["type"],
            "payload": row["payload"], "actor": row["actor"], "request_id": row["request_id"],
            "created": row["created"].isoformat() + "Z"}


def record_events(db, events: list[dict]):
    """One transaction for a batch; an event seen before (a redelivery) is skipped by its
    unique id."""
    received = utcnow()
    rows = [{"event_id": e["id"], "service": e["service"], "seq": e["seq"],
             "stream_type": e["stream_type"], "stream_id": str(e["stream_id"]),
             "version": e["version"], "type": e["type"], "payload": e["payload"],
             "actor": e.get("actor", ""), "request_id": e.get("request_id", ""),
             "created": datetime.fromisoformat(str(e["created"]).rstrip("Z")),
             "received": received} for e in events]
    with db.write() as s:
        dialect_insert = pg_insert if s.dialect.name == "postgresql" else sqlite_insert
        s.execute(dialect_insert(audit_events).on_conflict_do_nothing(
            index_elements=["event_id"]), rows)


class Service(ServiceBase):
    name = "audit"
    db = Store(store, relay=False)
    caller: Caller = CallerProvider()
    events = BatchEventConsumer(SOURCES, record_events)

    @rpc
    def list_events(self, params: dict) -> dict:
        if not self.caller.authenticated:
            raise NotAuthenticated()
        if not (self.caller.is_staff or self.caller.is_superuser):
            raise PermissionDenied()
        c = audit_events.c
        stmt = select(audit_events)
        for name, column in (("service", c.service), ("type", c.type),
                             ("stream_type", c.stream_type), ("stream_id", c.stream_id),
                             ("actor", c.actor), ("request_id", c.request_id)):
            if params.get(name):
                stmt = stmt.where(column.in_(str(params[name]).split(",")))
        if params.get("stream"):
            stream_type, _, stream_id = str(params["stream"]).partition(":")
            stmt = stmt.where(c.stream_type == stream_type)
            if stream_id:
                stmt = stmt.where(c.stream_id == stream_id)
        after, before = _parse_time(params, "after"), _parse_time(params, "before")
        if after:
            stmt = stmt.where(c.created >= after)
        if before:
            stmt = stmt.where(c.created < before)
        with self.db.read() as s:
            return run_list(s, stmt, params, search=(c.type, c.stream_type, c.actor),
                            ordering=ORDERING, default_order=[c.id], render=render,
                            default_limit=PAGE_SIZE, max_limit=MAX_LIMIT)
