"""Error reports (SEMANTICS §7) and notifications (§14): fed by `error.logged` events.

Identical errors (the same service, exception type and code location, whatever the request
that caused them) are one report: a recurrence counts on its group and moves the report's
`when` to the last time it was seen, and staff are notified only when a group begins, so no
stream of requests can flood the reports or the staff's notifications."""
import hashlib
import re
from datetime import datetime

from sqlalchemy import select

from svckit.bulk import bulk_condition, lock_matching, lock_rows
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied
from svckit.events import utcnow
from svckit.fields import Field, validate
from svckit.listing import bool_param

from .models import error_groups, error_reports, notifications, store

CONSUMER = "system.error_reports"

REPORT_ORDERING = {"when": error_reports.c.when, "info": error_reports.c.info,
                   "pk": error_reports.c.id}
REPORT_SEARCH = (error_reports.c.info, error_reports.c.data)
NOTE_ORDERING = {"category": notifications.c.category, "name": notifications.c.name,
                 "read": notifications.c.read, "creation": notifications.c.creation,
                 "pk": notifications.c.id}
NOTE_SEARCH = (notifications.c.name, notifications.c.message)
NOTE_FIELDS = {"read": Field("boolean", "Read")}


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


INFO_MAX_CHARS = 1000
DATA_MAX_CHARS = 10000  # the end of a traceback, where the error is
_FRAME = re.compile(r'^\s*File "([^"]*)", line (\d+), in (.*)$', re.M)


def reports_query():
    """Reports with their group's count and first sighting (absent for reports made before
    errors were grouped)."""
    return select(error_reports, error_groups.c.count, error_groups.c.first_seen).outerjoin(
        error_groups, error_groups.c.id == error_reports.c.id)


def render_report(row) -> dict:
    """InvenTree's report; a recurring error says in `info` how often it occurred since
    when (`when` is the last time)."""
    info = row["info"]
    if (row.get("count") or 1) > 1:
        info = f"{info} (occurred {row['count']} times since {fmt(row['first_seen'])})"
    return {"pk": row["id"], "when": fmt(row["when"]), "info": info, "data": row["data"],
            "path": row["path"]}


def get_report(session, pk) -> dict:
    row = session.execute(reports_query().where(error_reports.c.id == pk)).mappings().first()
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
    errors; staff are notified of new reports only. Once per event."""
    if not store.mark_processed(session, CONSUMER, event["id"]):
        return None
    caller = Caller(username=event.get("actor") or "system",
                    request_id=event.get("request_id") or "")
    payload = event["payload"]
    group = fingerprint(payload)
    known = session.execute(select(error_groups.c.id).where(
        error_groups.c.fingerprint == group)).scalar()
    if known is not None:
        row, version = store.load_for_update(session, "error_report", known, _group_row)
        if row is not None:  # not deleted meanwhile
            store.record(session, "error_report", known, "error_report.recurred",
                         {"source_event": event["id"]}, caller, version + 1)
            return known
    pk = store.next_stream_id(session, "error_report")
    store.record(session, "error_report", pk, "error_report.created", {
        "kind": str(payload.get("kind", ""))[:128],
        "info": str(payload.get("info", ""))[:INFO_MAX_CHARS],
        "data": str(payload.get("data", ""))[-DATA_MAX_CHARS:],
        "path": str(payload.get("path", ""))[:200],
        "source_event": event["id"], "fingerprint": group}, caller)
    for user_id in staff_ids:
        notify(session, caller, user_id, category="inventree.error_log", name="Server Error",
               message="An error has been logged by the server.",
               target={"name": f"Error report {pk}", "model": "error", "link": f"/api/error-report/{pk}/"})
    return pk


def _group_row(session, pk):
    return session.execute(select(error_groups).where(error_groups.c.id == pk)).mappings().first()


def delete_report(session, caller: Caller, pk: int):
    _, version = store.load_for_update(session, "error_report", pk, get_report)
    store.record(session, "error_report", pk, "error_report.deleted", {}, caller, version + 1)


def bulk_delete_reports(session, caller: Caller, body) -> int:
    condition = bulk_condition(body, error_reports.c.id,
                               {"id": error_reports.c.id, "pk": error_reports.c.id,
                                "path": error_reports.c.path, "info": error_reports.c.info})
    ids = lock_matching(session, store, "error_report", error_reports, condition)
    for pk in ids:
        store.record(session, "error_report", pk, "error_report.deleted", {}, caller)
    return len(ids)


# ---------------------------------------------------------------- notifications

def notify(session, caller, user_id: int, *, category: str, name: str, message: str,
           target=None, source=None) -> int:
    pk = store.next_stream_id(session, "notification")
    store.record(session, "notification", pk, "notification.created", {
        "user_id": user_id, "category": category, "name": name, "message": message,
        "target": target, "source": source, "read": False}, caller)
    return pk


def _age_human(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def render_note(row) -> dict:
    age = (utcnow() - row["creation"]).total_seconds()
    return {"pk": row["id"], "target": row["target"], "source": row["source"],
            "user": row["user_id"], "category": row["category"], "name": row["name"],
            "message": row["message"], "creation": fmt(row["creation"]),
            "age": int(age) % 86400, "age_human": _age_human(age), "read": row["read"]}


def own_notes(params: dict, caller: Caller):
    stmt = select(notifications).where(notifications.c.user_id == caller.user_id)
    if params.get("category"):
        stmt = stmt.where(notifications.c.category == params["category"])
    read = bool_param(params, "read")
    if read is not None:
        stmt = stmt.where(notifications.c.read.is_(read))
    return stmt


def get_note(session, caller: Caller, pk) -> dict:
    row = session.execute(select(notifications).where(notifications.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    if row["user_id"] != caller.user_id:
        raise PermissionDenied()
    return dict(row)


def update_note(session, caller: Caller, pk: int, data, partial: bool) -> dict:
    current, version = store.load_for_update(session, "notification", pk,
                                             lambda s, i: get_note(s, caller, i))
    cleaned = validate(NOTE_FIELDS, data, partial=partial)
    if "read" in cleaned and cleaned["read"] != current["read"]:
        store.record(session, "notification", pk, "notification.updated",
                     {"read": cleaned["read"]}, caller, version + 1)
    return get_note(session, caller, pk)


def delete_note(session, caller: Caller, pk: int):
    _, version = store.load_for_update(session, "notification", pk,
                                       lambda s, i: get_note(s, caller, i))
    store.record(session, "notification", pk, "notification.deleted", {}, caller, version + 1)


def read_all(session, caller: Caller) -> int:
    unread = (notifications.c.user_id == caller.user_id) & notifications.c.read.is_(False)
    ids = lock_rows(session, store, "notification", notifications, unread)
    for pk in ids:
        store.record(session, "notification", pk, "notification.updated", {"read": True}, caller)
    return len(ids)


def bulk_delete_notes(session, caller: Caller, body) -> int:
    condition = bulk_condition(body, notifications.c.id, {
        "id": notifications.c.id, "pk": notifications.c.id, "read": notifications.c.read,
        "category": notifications.c.category, "name": notifications.c.name})
    ids = lock_matching(session, store, "notification", notifications,
                        condition & (notifications.c.user_id == caller.user_id))
    for pk in ids:
        store.record(session, "notification", pk, "notification.deleted", {}, caller)
    return len(ids)
