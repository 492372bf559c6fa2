"""The audit trail read in its own order, by keyset (`id > after`), for the export and the
live feed: any filtered selection a page at a time, never by offset, so the millionth page
costs what the first does; and the id order is the commit order, so a reader that has
seen id N has seen every event before it (`ids_in_commit_order`).

Page sizes are bounded twice: at most `limit` events, and at most PAGE_BYTES of payload
(an `error.logged` carries up to 20 KB of traceback) so an RPC answer stays well under
1 MB; a page always holds at least one event."""
import json

from sqlalchemy import func, select, text

from svckit import eventfilter
from svckit.errors import ValidationFailed
from svckit.listing import check_range, parse_int

from . import auditevents, eventlines, eventquery
from .models import audit_events

ORDER_LOCK = {"space": 264, "key": 3}  # svckit.migration_lock holds 1, svckit.chainlog 2
PAGE_BYTES = 512 * 1024
MAX_PAGE = 5000
EXPORT_FORMATS = ("ndjson", "csv")


def ids_in_commit_order(session):
    """Until this transaction ends, no other one records events (PostgreSQL; SQLite writers
    are serial already). Taken before the insert that draws ids from the sequence, it makes
    ids grow in commit order: a reader never sees id N+1 committed while N is still to
    come, which would be a gap after `id > last` for the export and the live feed."""
    if session.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), ORDER_LOCK)


def events_after(session, params: dict, after: int, limit: int) -> dict:
    """The events matching `params` (svckit.eventfilter) with ids above `after`, in id
    order, at most `limit` (1..MAX_PAGE) and PAGE_BYTES of payload: `{"results": [...],
    "last": <id of the last one, or after>, "more": <whether a next page may hold more>}`.
    `payload=false` in `params` leaves the payloads out, not even read, as the list does
    (the live feed's catch-up for a listener that asked so)."""
    with_payload = eventfilter.payload_wanted(params)
    filters = {k: v for k, v in params.items() if k != "payload"}
    columns = [audit_events] if with_payload else auditevents.LISTED_BARE
    rows = _page(session, filters, after, limit, columns).mappings().all()
    results, used = [], 0
    for row in rows:
        if with_payload:
            used += len(row["line"]) if row["line"] else len(json.dumps(row["payload"]))
        if results and used > PAGE_BYTES:
            break
        results.append(auditevents.render(row, with_payload))
    last = results[-1]["pk"] if results else after
    return {"results": results, "last": last,
            "more": len(results) < len(rows) or len(rows) == limit}


def export_page(session, params: dict, after: int, limit: int, fmt: str) -> dict:
    """Like `events_after`, the page as text for the export (`fmt` "ndjson": one JSON line
    an event; "csv": rows of services.audit.eventlines.CSV_COLUMNS, after the header on the
    first page, `after` 0), joined from the events' stored lines: `{"text": ..., "events":
    <how many>, "last": ..., "more": ...}`. PAGE_BYTES bounds the lines' text."""
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed({"format": [f"Expected one of: {', '.join(EXPORT_FORMATS)}."]})
    c = audit_events.c
    columns = [c.id, c.line] if fmt == "ndjson" else [c[n] for n in eventlines.CSV_SOURCES]
    rows = _page(session, params, after, limit, columns).all()
    if any(row[-1] is None for row in rows):  # recorded before lines were stored
        rows = _with_lines(session, rows)
    kept, used = 0, 0
    for row in rows:
        used += len(row[-1])
        if kept and used > PAGE_BYTES:
            break
        kept += 1
    page = rows[:kept]
    text = eventlines.ndjson(page) if fmt == "ndjson" else eventlines.csv_rows(page)
    if fmt == "csv" and after == 0:
        text = eventlines.CSV_HEADER + text
    return {"text": text, "events": kept, "last": page[-1][0] if page else after,
            "more": kept < len(rows) or len(rows) == limit}


def _with_lines(session, rows: list) -> list:
    """`rows` (the line last) with the lines of those that have none rendered from their
    columns, as they would have been stored."""
    missing = [row[0] for row in rows if row[-1] is None]
    lines = {r["id"]: eventlines.line(auditevents.render(r)) for r in session.execute(
        select(audit_events).where(audit_events.c.id.in_(missing))).mappings()}
    return [(*row[:-1], lines[row[0]]) if row[-1] is None else row for row in rows]


def _page(session, params: dict, after, limit, columns: list):
    """The result (rows of `columns`) of a keyset page, read as services.audit.eventquery
    shapes it."""
    after = check_range("after", _integer("after", after), 0)
    limit = check_range("limit", _integer("limit", limit), 1, MAX_PAGE)
    where, types = eventquery.conditions(session, eventfilter.parse(params))
    stmt = eventquery.in_id_order(columns, [*where, audit_events.c.id > after], types, limit)
    return session.execute(stmt)


def _integer(name: str, value) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else parse_int(
        value) if isinstance(value, str) else None
    if number is None:
        raise ValidationFailed({name: ["A valid integer is required."]})
    return number


def latest_id(session) -> int:
    """The id of the last recorded event (0: none yet)."""
    return session.execute(select(func.max(audit_events.c.id))).scalar() or 0
