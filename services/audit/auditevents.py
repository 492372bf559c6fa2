"""The audit trail: every domain event of every service, as received; recorded once per
event id, listed for `GET /api/events/`.

The audit service records no events of its own (its trail is derived from the other
services' logs, and its own log stays empty), so it has no `events.py`."""
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from svckit import eventfilter
from svckit.errors import ValidationFailed
from svckit.events import utcnow
from svckit.listing import apply_ordering, apply_search, bool_param, paging, search_limits_of

from . import chains, feed
from .models import audit_events

ORDERING = {"id": audit_events.c.id, "created": audit_events.c.created,
            "service": audit_events.c.service, "type": audit_events.c.type}
# the list's own parameters, beside the filters (svckit.eventfilter)
LIST_PARAMS = ("limit", "offset", "ordering", "payload")


def render(row, with_payload: bool = True) -> dict:
    """A listed event; without its payload, `row` need not hold that column."""
    event = {"pk": row["id"], "id": row["event_id"], "service": row["service"],
             "seq": row["seq"], "stream_type": row["stream_type"],
             "stream_id": row["stream_id"], "version": row["version"], "type": row["type"]}
    if with_payload:
        event["payload"] = row["payload"]
    event.update(actor=row["actor"], request_id=row["request_id"],
                 created=row["created"].isoformat() + "Z")
    return event


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
    feed.ids_in_commit_order(session)
    dialect_insert = pg_insert if session.dialect.name == "postgresql" else sqlite_insert
    session.execute(dialect_insert(audit_events).on_conflict_do_nothing(
        index_elements=["event_id"]), rows)


def list_events(session, params: dict, page_size: int, max_limit: int,
                count_max: int = 0) -> dict:
    """The list: filters (svckit.eventfilter: lists of values, `type` wildcards,
    `stream=<type>[:<id>]`, `after`, `before`; any other parameter is a 400), search,
    ordering, always paged: without `limit` (or with 0) a page of `page_size`
    (EVENTS_PAGE_SIZE), and no `limit` above `max_limit` (EVENTS_MAX_LIMIT). The `count`
    stops at `count_max` (EVENTS_COUNT_MAX; 0: exact): counting a million matching rows
    would cost more than the page (`count_capped` then says so). `payload=false` leaves
    each event's payload out (see `payload_wanted`)."""
    c = audit_events.c
    selection = eventfilter.parse(params, LIST_PARAMS)
    with_payload = payload_wanted(params)
    limit, offset = paging(params, page_size, max_limit)
    columns = [col for col in c if with_payload or col.name != "payload"]  # not even read
    stmt = apply_search(select(*columns).where(*selection.clauses(c, with_search=False)),
                        params, (c.type, c.stream_type, c.actor), search_limits_of(session))
    counted = stmt.with_only_columns(c.id).order_by(None)
    if count_max:
        counted = counted.limit(count_max + 1)
    count = session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    answer = {"count": min(count, count_max) if count_max else count, "limit": limit,
              "offset": offset}
    if count_max and count > count_max:
        answer["count_capped"] = True
    stmt = apply_ordering(stmt, params, ORDERING, [c.id]).limit(limit).offset(offset)
    answer["results"] = [render(row, with_payload)
                         for row in session.execute(stmt).mappings()]
    return answer


def payload_wanted(params: dict) -> bool:
    """`payload`: true (the default) or false, as django-filter reads a boolean; anything
    else is a 400 naming it. An import's row events carry a batch of rows each (~200 KB), so
    a page listed to be looked through is far smaller without them; one event's payload is
    then `?event_id=<id>`."""
    if params.get("payload") is None:
        return True
    wanted = bool_param(params, "payload")
    if wanted is None:
        raise ValidationFailed({"payload": ["Must be a valid boolean."]})
    return wanted
