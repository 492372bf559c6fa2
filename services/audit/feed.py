"""The audit trail read in its own order, by keyset (`id > after`), for the export and the
live feed: any filtered selection a page at a time, never by offset, so the millionth page
costs what the first does; and the id order is the commit order, so a reader that has
seen id N has seen every event before it (`ids_in_commit_order`).

Page sizes are bounded twice: at most `limit` events, and at most PAGE_BYTES of payload
(an `error.logged` carries up to 20 KB of traceback) so an RPC answer stays well under
1 MB; a page always holds at least one event."""
from sqlalchemy import Text, cast, func, select, text

from svckit import eventfilter
from svckit.errors import ValidationFailed
from svckit.listing import check_range, parse_int

from . import auditevents
from .models import audit_events

ORDER_LOCK = {"space": 264, "key": 3}  # svckit.migration_lock holds 1, svckit.chainlog 2
PAGE_BYTES = 512 * 1024
MAX_PAGE = 5000


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
    "last": <id of the last one, or after>, "more": <whether a next page may hold more>}`."""
    after = check_range("after", _integer("after", after), 0)
    limit = check_range("limit", _integer("limit", limit), 1, MAX_PAGE)
    selection = eventfilter.parse(params)
    c = audit_events.c
    size = func.length(cast(c.payload, Text)).label("payload_size")
    stmt = (select(audit_events, size).where(c.id > after, *selection.clauses(c))
            .order_by(c.id).limit(limit))
    results, used = [], 0
    rows = session.execute(stmt).mappings().all()
    for row in rows:
        used += row["payload_size"] or 0
        if results and used > PAGE_BYTES:
            break
        results.append(auditevents.render(row))
    last = results[-1]["pk"] if results else after
    return {"results": results, "last": last,
            "more": len(results) < len(rows) or len(rows) == limit}


def _integer(name: str, value) -> int:
    number = value if isinstance(value, int) and not isinstance(value, bool) else parse_int(
        value) if isinstance(value, str) else None
    if number is None:
        raise ValidationFailed({name: ["A valid integer is required."]})
    return number


def latest_id(session) -> int:
    """The id of the last recorded event (0: none yet)."""
    return session.execute(select(func.max(audit_events.c.id))).scalar() or 0
