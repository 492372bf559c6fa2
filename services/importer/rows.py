"""Rows of an import session (SEMANTICS §13): a file row's cells, the field data built from
them (`extract`), the target's verdict, and accepting rows for creation. Rows change under
their session's lock, in its event stream."""
import time

import eventlet
from sqlalchemy import select

from svckit.bulk import bulk_condition
from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.fields import INT32_MAX, Field
from svckit.listing import bool_param, get_by_id, number_filter, run_list

from .events import ROW_UPDATED, ROWS_ACCEPTED, ROWS_DELETED
from .models import rows, store
from .ownership import get_session, mine, visible_session
from .sessions import check_complete, json_object

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "session": Field("related field", "Import Session", read_only=True),
    "row_index": Field("integer", "Row Index", read_only=True),
    "row_data": Field("json", "Original row data", read_only=True),
    "data": Field("json", "Data"),
    "errors": Field("json", "Errors", read_only=True),
    "valid": Field("boolean", "Valid", read_only=True),
    "complete": Field("boolean", "Complete", read_only=True),
}
ORDERING = {"pk": rows.c.id, "row_index": rows.c.row_index, "valid": rows.c.valid}
BULK_FILTERS = {"session": rows.c.session_id, "valid": rows.c.valid,
                "complete": rows.c.complete}
TRUE_WORDS = frozenset({"1", "y", "yes", "t", "true", "ok", "on"})


# ------------------------------------------------------------ row data

def str2bool(value) -> bool:
    return str(value).strip().lower() in TRUE_WORDS


def extract(row_data: dict, mapping: dict, fields: dict, defaults: dict, overrides: dict) -> dict:
    """A row's field data from its cells (§13, InvenTree's `extract_data`), for every mapped
    field (`mapping`: field -> column, "" when unmapped): an override wins; else the cell
    (booleans through str2bool, empty dates null), an empty or unmapped cell taking the
    default."""
    data = {}
    for name, column in mapping.items():
        if name in overrides:
            data[name] = overrides[name]
            continue
        if not column or column not in row_data:
            if name in defaults:
                data[name] = defaults[name]
            continue
        value = row_data.get(column)
        kind = (fields.get(name) or {}).get("type")
        if kind == "boolean":
            value = str2bool(value) if not isinstance(value, bool) else value
        elif kind == "date":
            value = value or None
        if value in (None, "") and name in defaults:
            value = defaults[name]
        data[name] = value
    return data


def serializer_data(session: dict, data: dict) -> dict:
    """What the target validates and creates: defaults, then the row's data, then overrides."""
    return {**(session["field_defaults"] or {}), **(data or {}),
            **(session["field_overrides"] or {})}


# ------------------------------------------------------------ reading

def render(r) -> dict:
    return {"pk": r["id"], "session": r["session_id"], "row_index": r["row_index"],
            "row_data": r["row_data"], "data": r["data"], "errors": r["errors"],
            "valid": r["valid"], "complete": r["complete"]}


def list_rows(s, caller: Caller, params: dict) -> dict:
    stmt = number_filter(select(rows), rows.c.session_id, params, "session")
    for name in ("valid", "complete"):
        value = bool_param(params, name)
        if value is not None:
            stmt = stmt.where(getattr(rows.c, name) == value)
    return run_list(s, mine(caller, stmt, rows.c.session_id), params, search=[],
                    ordering=ORDERING, default_order=[rows.c.row_index], render=render)


def get_row(s, caller: Caller, pk: int) -> dict:
    row = get_by_id(s, rows, pk)
    visible_session(s, caller, row["session_id"])
    return render(row)


# ------------------------------------------------------------ commands

def update(db, targets, caller: Caller, pk: int, data: dict, partial: bool) -> dict:
    """PUT/PATCH `data`: validated again by the target unless the row is complete. The
    target is asked between reading the row and recording the change (its own units of
    work: no transaction stays open across the call)."""
    with db.read() as s:
        row = get_by_id(s, rows, pk)
        session = get_session(s, row["session_id"])
    if "data" not in data:
        if partial:
            return render(row)
        raise ValidationFailed({"data": ["This field is required."]})
    new = data["data"]
    if isinstance(new, str):
        new = json_object({"data": new}, "data")
    if not isinstance(new, dict):
        raise ValidationFailed({"data": ["Value must be a valid dictionary object"]})
    errors, valid = row["errors"], row["valid"]
    if not row["complete"]:
        answer = targets.call(targets.service_for(session["model_type"]), "import_validate",
                              model_type=session["model_type"],
                              rows=[{"row": pk, "data": serializer_data(session, new)}])
        errors = answer[0]["errors"] or None
        valid = not errors
    with db.write() as s:
        now, version = store.load_for_update(s, "import_session", row["session_id"],
                                             lambda s, _: get_by_id(s, rows, pk))
        if now["complete"] and not row["complete"]:  # completed meanwhile: not validated
            errors, valid = now["errors"], now["valid"]
        store.record(s, "import_session", row["session_id"], ROW_UPDATED,
                     {"id": pk, "data": new, "errors": errors, "valid": valid},
                     caller, version + 1)
        return render(get_by_id(s, rows, pk))


def delete(s, caller: Caller, pk: int) -> None:
    _delete(s, caller, rows.c.id == pk, must_exist=True)


def bulk_delete(s, caller: Caller, body) -> int:
    return _delete(s, caller, bulk_condition(body, rows.c.id, BULK_FILTERS))


def _delete(s, caller: Caller, condition, must_exist=False) -> int:
    """Delete the rows matching `condition` once their sessions are locked; a session whose
    remaining rows are all complete is complete."""
    sids = s.execute(select(rows.c.session_id).where(condition).distinct()).scalars()
    found = store.load_all_for_update(s, "import_session", sids, lambda s, chosen: s.execute(
        select(rows.c.id, rows.c.session_id).where(condition, rows.c.session_id.in_(chosen))
        .order_by(rows.c.id)).all())
    if not found:
        if must_exist:
            raise NotFound()
        raise ValidationFailed({"non_field_errors": "No items found to delete"})
    by_session: dict[int, list[int]] = {}
    for row_pk, sid in found:
        by_session.setdefault(sid, []).append(row_pk)
    for sid, ids in by_session.items():
        store.record(s, "import_session", sid, ROWS_DELETED, {"ids": ids}, caller)
        check_complete(s, sid, caller)
    return len(found)


def accepted_pks(body) -> list[int]:
    """The row pks of an `accept_rows` body (`{"rows": [pk, ...]}`), without repeats; DRF's
    400s for anything else."""
    raw = body.get("rows") if isinstance(body, dict) else None
    if raw is None:
        raise ValidationFailed({"rows": ["This field is required."]})
    if not isinstance(raw, list):
        raise ValidationFailed({"rows": [
            f'Expected a list of items but got type "{type(raw).__name__}".']})
    if not raw:
        raise ValidationFailed({"rows": ["No rows provided"]})
    pks = []
    for item in raw:
        text = str(item).strip()
        if isinstance(item, (bool, float)) or not text.isascii() or not text.isdigit():
            raise ValidationFailed({"rows": [
                f"Incorrect type. Expected pk value, received {type(item).__name__}."]})
        if len(text) > 10 or int(text) > INT32_MAX:  # beyond the id column: no such row
            raise ValidationFailed({"rows": [f'Invalid pk "{text[:40]}" - object does not exist.']})
        pks.append(int(text))
    return list(dict.fromkeys(pks))


def accept(s, caller: Caller, session_pk: int, body) -> list[int]:
    """Mark valid rows of the session for creation in the target service (the background
    worker creates them); returns their pks. Decided under the session's lock: every row
    must exist, belong to the session, be valid and not complete."""
    pks = accepted_pks(body)

    def rows_by_pk(s, _session_pk) -> dict:
        found = {}
        for start in range(0, len(pks), 500):
            chunk = pks[start:start + 500]
            for r in s.execute(select(rows.c.id, rows.c.session_id, rows.c.valid,
                                      rows.c.complete, rows.c.accepted)
                               .where(rows.c.id.in_(chunk))):
                found[r.id] = r
        return found

    found, version = store.load_for_update(s, "import_session", session_pk, rows_by_pk)
    fresh = []
    for row_pk in pks:
        r = found.get(row_pk)
        if r is None:
            raise ValidationFailed({"rows": [f'Invalid pk "{row_pk}" - object does not exist.']})
        if r.session_id != session_pk:
            raise ValidationFailed({"rows": ["Row does not belong to this session"]})
        if not r.valid:
            raise ValidationFailed({"rows": ["Row contains invalid data"]})
        if r.complete:
            raise ValidationFailed({"rows": ["Row has already been completed"]})
        if not r.accepted:
            fresh.append(row_pk)
    if fresh:
        who = caller.model_dump(mode="json", exclude={"request_id", "idempotency_key",
                                                      "idempotency_retry"})
        store.record(s, "import_session", session_pk, ROWS_ACCEPTED,
                     {"ids": fresh, "accepted_by": who}, caller, version + 1)
    return pks


def await_created(db, pks: list[int], seconds: float) -> None:
    """Until the rows are created (or failed), for at most `seconds`. Accepted rows are
    created in pk order, so once the highest of them is done, all of them are."""
    last = max(pks)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.read() as s:
            if not s.execute(select(rows.c.accepted).where(rows.c.id == last)).scalar():
                return
        eventlet.sleep(0.1)
