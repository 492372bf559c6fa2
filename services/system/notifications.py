"""Notifications (SEMANTICS §14): messages to one user, who alone reads, marks and deletes
them. Error reports create them for staff (errorreports.py)."""
from sqlalchemy import select

from svckit.bulk import bulk_condition, lock_matching, lock_rows
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied
from svckit.events import utcnow
from svckit.fields import Field, options_document, validate
from svckit.listing import bool_param, run_list

from . import events
from .dates import minutes
from .models import notifications, store

ORDERING = {"category": notifications.c.category, "name": notifications.c.name,
            "read": notifications.c.read, "creation": notifications.c.creation,
            "pk": notifications.c.id}
SEARCH = (notifications.c.name, notifications.c.message)
FIELDS = {"read": Field("boolean", "Read")}


def notify(session, caller, user_id: int, *, category: str, name: str, message: str,
           target=None, source=None) -> int:
    pk = store.next_stream_id(session, "notification")
    store.record(session, "notification", pk, events.NOTIFICATION_CREATED, {
        "user_id": user_id, "category": category, "name": name, "message": message,
        "target": target, "source": source, "read": False}, caller)
    return pk


def _age_human(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def render(row) -> dict:
    age = (utcnow() - row["creation"]).total_seconds()
    return {"pk": row["id"], "target": row["target"], "source": row["source"],
            "user": row["user_id"], "category": row["category"], "name": row["name"],
            "message": row["message"], "creation": minutes(row["creation"]),
            "age": int(age) % 86400, "age_human": _age_human(age), "read": row["read"]}


def list_notifications(session, caller: Caller, params: dict) -> dict:
    """A page of the caller's own notifications (filters `category`, `read`)."""
    stmt = select(notifications).where(notifications.c.user_id == caller.user_id)
    if params.get("category"):
        stmt = stmt.where(notifications.c.category == params["category"])
    read = bool_param(params, "read")
    if read is not None:
        stmt = stmt.where(notifications.c.read.is_(read))
    return run_list(session, stmt, params, search=SEARCH, ordering=ORDERING,
                    default_order=[notifications.c.id], render=render)


def get(session, caller: Caller, pk) -> dict:
    """The caller's notification `pk` (403 for another user's)."""
    row = session.execute(select(notifications).where(notifications.c.id == pk)).mappings().first()
    if row is None:
        raise NotFound()
    if row["user_id"] != caller.user_id:
        raise PermissionDenied()
    return dict(row)


def update(session, caller: Caller, pk: int, data, partial: bool) -> dict:
    """Mark read or unread (the one writable field): the notification, rendered."""
    current, version = store.load_for_update(session, "notification", pk,
                                             lambda s, i: get(s, caller, i))
    cleaned = validate(FIELDS, data, partial=partial)
    if "read" in cleaned and cleaned["read"] != current["read"]:
        store.record(session, "notification", pk, events.NOTIFICATION_UPDATED,
                     {"read": cleaned["read"]}, caller, version + 1)
    return render(get(session, caller, pk))


def delete(session, caller: Caller, pk: int):
    _, version = store.load_for_update(session, "notification", pk,
                                       lambda s, i: get(s, caller, i))
    store.record(session, "notification", pk, events.NOTIFICATION_DELETED, {}, caller,
                 version + 1)


def read_all(session, caller: Caller) -> dict:
    """Mark every unread notification of the caller read."""
    unread = (notifications.c.user_id == caller.user_id) & notifications.c.read.is_(False)
    for pk in lock_rows(session, store, "notification", notifications, unread):
        store.record(session, "notification", pk, events.NOTIFICATION_UPDATED, {"read": True},
                     caller)
    return {"status": "ok"}


def bulk_delete(session, caller: Caller, body) -> int:
    """Delete the caller's notifications `body` selects; how many."""
    condition = bulk_condition(body, notifications.c.id, {
        "id": notifications.c.id, "pk": notifications.c.id, "read": notifications.c.read,
        "category": notifications.c.category, "name": notifications.c.name})
    ids = lock_matching(session, store, "notification", notifications,
                        condition & (notifications.c.user_id == caller.user_id))
    for pk in ids:
        store.record(session, "notification", pk, events.NOTIFICATION_DELETED, {}, caller)
    return len(ids)


def options(detail: bool) -> dict:
    """OPTIONS of the list (GET, DELETE) and of one notification (GET, PUT, DELETE)."""
    doc = options_document("Notification Detail" if detail else "Notification List",
                           "List view for all notifications of the current user.",
                           FIELDS, ["PUT"] if detail else [])
    doc.setdefault("actions", {})["GET"] = {}
    doc["actions"]["DELETE"] = {}
    return doc
