"""The audit trail: every domain event of every service, as received; recorded once per
event id, listed for `GET /api/events/`.

The audit service records no events of its own (its trail is derived from the other
services' logs, and its own log stays empty), so it has no `events.py`."""
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from svckit import eventfilter
from svckit.events import utcnow
from svckit.listing import apply_ordering, apply_search, paging, search_limits_of

from . import chains, eventlines, eventquery, feed, trail_rows
from .models import audit_event_types, audit_events
from .received import Received

ORDERING = {"id": audit_events.c.id, "created": audit_events.c.created,
            "service": audit_events.c.service, "type": audit_events.c.type}
# the columns a listed event is rendered from
LISTED = [audit_events.c[name] for name in (
    "id", "event_id", "service", "seq", "stream_type", "stream_id", "version", "type",
    "payload", "actor", "request_id", "created")]
# the list's own parameters, beside the filters (svckit.eventfilter)
LIST_PARAMS = ("limit", "offset", "ordering", "payload")
# the columns of a listed event without its payload
LISTED_BARE = [column for column in LISTED if column.name != "payload"]


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
    service's signed hourly digest (services.audit.chains). Each is read once
    (services.audit.received): its payload's text is hashed, stored as the payload column
    and put in its line; the rows go to the driver as they are (services.audit.trail_rows)."""
    seen = set(session.execute(select(audit_events.c.event_id).where(
        audit_events.c.event_id.in_([e["id"] for e in events]))).scalars())
    fresh = [Received.of(e) for e in {e["id"]: e for e in events if e["id"] not in seen}.values()]
    if not fresh:
        return
    faults = chains.check_received(session, fresh)
    chains.update_digests(session, digest_key, fresh)
    as_time = trail_rows.time_value(session)
    received = as_time(utcnow())
    rows = [_row(one, received, faults.get(one.event["id"]), as_time) for one in fresh]
    feed.ids_in_commit_order(session)  # (also: one transaction at a time adds types)
    types = [{"type": t} for t in sorted({one.event["type"] for one in fresh})]
    if session.dialect.name == "postgresql":
        # with RETURNING, SQLAlchemy sends the rows as a multi-row statement
        session.execute(pg_insert(audit_event_types).on_conflict_do_nothing(
            index_elements=["type"]).returning(audit_event_types.c.type), types)
    else:
        session.execute(sqlite_insert(audit_event_types).on_conflict_do_nothing(
            index_elements=["type"]), types)
    trail_rows.insert(session, rows)


def _row(one: Received, received, fault: str | None, as_time) -> tuple:
    """The audit table's row of a received event (trail_rows.COLUMNS), with its rendered
    line; its payload is its JSON text, its times as `as_time` makes them."""
    event = one.event
    listed = {"id": event["id"], "service": event["service"], "seq": event["seq"],
              "stream_type": event["stream_type"], "stream_id": str(event["stream_id"]),
              "version": event["version"], "type": event["type"],
              "actor": event.get("actor", ""), "request_id": event.get("request_id", ""),
              "created": one.created.isoformat() + "Z"}
    return (event["id"], event["service"], event["seq"], event["stream_type"],
            listed["stream_id"], event["version"], event["type"], one.payload_text,
            listed["actor"], listed["request_id"], as_time(one.created), received,
            event.get("chain_seq"), event.get("hash"), fault,
            eventlines.line(listed, one.payload_text))


def list_events(session, params: dict, page_size: int, max_limit: int,
                count_max: int = 0) -> dict:
    """The list: filters (svckit.eventfilter: lists of values, `type` wildcards,
    `stream=<type>[:<id>]`, `after`, `before`; any other parameter is a 400), search,
    ordering, always paged: without `limit` (or with 0) a page of `page_size`
    (EVENTS_PAGE_SIZE), and no `limit` above `max_limit` (EVENTS_MAX_LIMIT). The `count`
    stops at `count_max` (EVENTS_COUNT_MAX; 0: exact), or just past this page when it
    lies beyond (so that a `next` link follows a full page): counting a million matching
    rows would cost more than the page (`count_capped` then says so). In id order (the
    default) a page is read as services.audit.eventquery shapes it. `payload=false` leaves
    each event's payload out, not even read (svckit.eventfilter.payload_wanted)."""
    c = audit_events.c
    selection = eventfilter.parse(params, LIST_PARAMS)
    with_payload = eventfilter.payload_wanted(params)
    limit, offset = paging(params, page_size, max_limit)
    where, types = eventquery.conditions(session, selection, with_search=False)
    searched = apply_search(select(c.id), params, (c.type, c.stream_type, c.actor),
                            search_limits_of(session)).whereclause
    if searched is not None:
        where.append(searched)
    # enough of a count to tell whether a page follows this one
    cap = max(count_max, offset + limit + 1) if count_max else 0
    counted = select(c.id).where(*where)
    if cap:
        counted = counted.limit(cap + 1)
    count = session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
    answer = {"count": min(count, cap) if cap else count, "limit": limit, "offset": offset}
    if cap and count > cap:
        answer["count_capped"] = True
    columns = LISTED if with_payload else LISTED_BARE
    descending = _id_order(params)
    if descending is None:
        stmt = apply_ordering(select(*columns).where(*where), params, ORDERING,
                              [c.id]).limit(limit).offset(offset)
    else:
        stmt = eventquery.in_id_order(columns, where, types, limit, offset, descending)
    answer["results"] = [render(row, with_payload)
                         for row in session.execute(stmt).mappings()]
    return answer


def _id_order(params: dict) -> bool | None:
    """Whether `ordering` sorts by id descending (False: ascending, the default), or None
    when it sorts by another field first (unknown fields are ignored, as DRF does)."""
    for name in str(params.get("ordering") or "").split(","):
        field = name.strip().lstrip("-")
        if field in ORDERING:
            return name.strip().startswith("-") if field == "id" else None
    return False
