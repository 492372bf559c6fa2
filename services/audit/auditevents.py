"""The audit trail: every domain event of every service, as received; recorded once per
event id, listed for `GET /api/events/`.

The audit service records no events of its own (its trail is derived from the other
services' logs, and its own log stays empty), so it has no `events.py`."""
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from svckit.errors import ValidationFailed
from svckit.events import utcnow
from svckit.listing import run_list

from . import chains
from .models import audit_events

ORDERING = {"id": audit_events.c.id, "created": audit_events.c.created,
            "service": audit_events.c.service, "type": audit_events.c.type}
# filters whose value is a comma-separated list of accepted values
IN_FILTERS = ("service", "type", "stream_type", "stream_id", "actor", "request_id", "event_id")


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


def record_received(session, events: list[dict], digest_key: bytes):
    """Record a batch of received events; an event seen before (a redelivery) is skipped
    by its unique id. New ones have their hash chain checked and are counted into their
    service's signed hourly digest (services.audit.chains)."""
    seen = set(session.execute(select(audit_events.c.event_id).where(
        audit_events.c.event_id.in_([e["id"] for e in events]))).scalars())
    fresh = list({e["id"]: e for e in events if e["id"] not in seen}.values())
    if not fresh:
        return
    faults = chains.check_received(session, fresh)
    chains.update_digests(session, digest_key, fresh)
    received = utcnow()
    rows = [{"event_id": e["id"], "service": e["service"], "seq": e["seq"],
             "stream_type": e["stream_type"], "stream_id": str(e["stream_id"]),
             "version": e["version"], "type": e["type"], "payload": e["payload"],
             "actor": e.get("actor", ""), "request_id": e.get("request_id", ""),
             "created": datetime.fromisoformat(str(e["created"]).rstrip("Z")),
             "received": received, "chain_seq": e.get("chain_seq"), "hash": e.get("hash"),
             "chain_fault": faults.get(e["id"])} for e in fresh]
    dialect_insert = pg_insert if session.dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(audit_events).on_conflict_do_nothing(
        index_elements=["event_id"]), rows)


def list_events(session, params: dict, page_size: int, max_limit: int) -> dict:
    """The list: filters (see IN_FILTERS, `stream=<type>[:<id>]`, `after`, `before`),
    search, ordering, always paged: without `limit` (or with 0) a page of `page_size`
    (EVENTS_PAGE_SIZE), and no `limit` above `max_limit` (EVENTS_MAX_LIMIT)."""
    c = audit_events.c
    stmt = select(audit_events)
    for name in IN_FILTERS:
        if params.get(name):
            stmt = stmt.where(c[name].in_(str(params[name]).split(",")))
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
    return run_list(session, stmt, params, search=(c.type, c.stream_type, c.actor),
                    ordering=ORDERING, default_order=[c.id], render=render,
                    default_limit=page_size, max_limit=max_limit)
