"""Error reports (SEMANTICS §7): made from `error.logged` events, read and deleted by staff.

Identical errors (the same service, exception type and code location, whatever the request
that caused them) are one report: a recurrence counts on its group and moves the report's
`when` to the last time it was seen, and staff are notified only when a group begins, so no
stream of requests can flood the reports or the staff's notifications."""
import hashlib
import re

from sqlalchemy import select

from svckit.bulk import bulk_condition, lock_matching
from svckit.context import Caller
from svckit.errors import NotFound
from svckit.listing import run_list

from . import events, notifications
from .dates import minutes
from .models import error_groups, error_reports, store

CONSUMER = "system.error_reports"

ORDERING = {"when": error_reports.c.when, "info": error_reports.c.info, "pk": error_reports.c.id}
SEARCH = (error_reports.c.info, error_reports.c.data)

INFO_MAX_CHARS = 1000
DATA_MAX_CHARS = 10000  # the end of a traceback, where the error is
_FRAME = re.compile(r'^\s*File "([^"]*)", line (\d+), in (.*)$', re.M)


def _reports_query():
    """Reports with their group's count and first sighting (absent for reports made before
    errors were grouped)."""
    return select(error_reports, error_groups.c.count, error_groups.c.first_seen).outerjoin(
        error_groups, error_groups.c.id == error_reports.c.id)


def render(row) -> dict:
    """InvenTree's report; a recurring error says in `info` how often it occurred since
    when (`when` is the last time)."""
    info = row["info"]
    if (row.get("count") or 1) > 1:
        info = f"{info} (occurred {row['count']} times since {minutes(row['first_seen'])})"
    return {"pk": row["id"], "when": minutes(row["when"]), "info": info, "data": row["data"],
            "path": row["path"]}


def list_error_reports(session, params: dict) -> dict:
    """A page of reports, the last seen first."""
    return run_list(session, _reports_query(), params, search=SEARCH, ordering=ORDERING,
                    default_order=[error_reports.c.when.desc(), error_reports.c.id.desc()],
                    render=render)


def get(session, pk) -> dict:
    row = session.execute(_reports_query().where(error_reports.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    return dict(row)


def fingerprint(payload: dict) -> str:
    """What identical errors share: service, exception type, and the code location (the
    traceback's frames; the message when there is no traceback)."""
    data = str(payload.get("data", ""))
    frames = ["|".join(m) for m in _FRAME.findall(data)]
    where = "\n".join(frames) if frames else str(payload.get("info", ""))[:INFO_MAX_CHARS]
    key = "\n".join((str(payload.get("service", "")), str(payload.get("kind", "")), where))
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def record_error(session, event: dict, staff_ids: list[int]) -> int | None:
    """Turn an `error.logged` event into a report, or count it on the report of identical
    errors; staff (`staff_ids`, asked of the users service beforehand) are notified of new
    reports only. Once per event. Identical errors logged at the same moment are
    serialised on their fingerprint, so they begin one report, never two."""
    if not store.mark_processed(session, CONSUMER, event["id"]):
        return None
    caller = Caller(username=event.get("actor") or "system",
                    request_id=event.get("request_id") or "")
    payload = event["payload"]
    group = fingerprint(payload)
    store.lock_stream(session, "error_fingerprint", group)
    known = session.execute(select(error_groups.c.id).where(
        error_groups.c.fingerprint == group)).scalar()
    if known is not None:
        row, version = store.load_for_update(session, "error_report", known, _group_row)
        if row is not None:  # not deleted meanwhile
            store.record(session, "error_report", known, events.ERROR_REPORT_RECURRED,
                         {"source_event": event["id"]}, caller, version + 1)
            return known
    pk = store.next_stream_id(session, "error_report")
    store.record(session, "error_report", pk, events.ERROR_REPORT_CREATED, {
        "kind": str(payload.get("kind", ""))[:128],
        "info": str(payload.get("info", ""))[:INFO_MAX_CHARS],
        "data": str(payload.get("data", ""))[-DATA_MAX_CHARS:],
        "path": str(payload.get("path", ""))[:200],
        "source_event": event["id"], "fingerprint": group}, caller)
    for user_id in staff_ids:
        notifications.notify(
            session, caller, user_id, category="inventree.error_log", name="Server Error",
            message="An error has been logged by the server.",
            target={"name": f"Error report {pk}", "model": "error",
                    "link": f"/api/error-report/{pk}/"})
    return pk


def _group_row(session, pk):
    return session.execute(select(error_groups).where(error_groups.c.id == pk)).mappings().first()


def delete(session, caller: Caller, pk: int):
    _, version = store.load_for_update(session, "error_report", pk, get)
    store.record(session, "error_report", pk, events.ERROR_REPORT_DELETED, {}, caller,
                 version + 1)


def bulk_delete(session, caller: Caller, body) -> int:
    """Delete the reports `body` selects; how many."""
    condition = bulk_condition(body, error_reports.c.id,
                               {"id": error_reports.c.id, "pk": error_reports.c.id,
                                "path": error_reports.c.path, "info": error_reports.c.info})
    ids = lock_matching(session, store, "error_report", error_reports, condition)
    for pk in ids:
        store.record(session, "error_report", pk, events.ERROR_REPORT_DELETED, {}, caller)
    return len(ids)
