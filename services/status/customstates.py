"""Custom states (SEMANTICS §11, §19.3): fields, listing, validation, commands, and the
merged status document. Who may write (staff) is checked by the service's entrypoints."""
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.fields import Field, validate
from svckit.listing import INT64_MAX, INT64_MIN, get_by_id, parse_int, run_list

from . import contenttypes
from .classes import COLORS, REFERENCE_STATUSES, STATUS_CLASSES, builtin_keys
from .events import CUSTOM_STATE_CREATED, CUSTOM_STATE_DELETED, CUSTOM_STATE_UPDATED
from .models import custom_states, store

STREAM = "custom_state"

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "key": Field("integer", "Key", "Value that will be saved in the models database",
                 required=True),
    "name": Field("string", "Name", "Name of the state", required=True, max_length=250),
    "label": Field("string", "Label", "Label that will be displayed in the frontend",
                   required=True, max_length=250),
    "color": Field("choice", "Color", "Color that will be displayed in the frontend",
                   choices=[(c, c) for c in COLORS], default="secondary"),
    "logical_key": Field("integer", "Logical Key",
                         "State logical key that is equal to this custom state in business logic",
                         required=True),
    "model": Field("related field", "Model", "Model this state is associated with",
                   required=True, model="contenttype", api_url="/api/contenttype/"),
    "model_name": Field("string", "Model name", read_only=True),
    # InvenTree's serializer declares this field itself: DRF's default label, no help text.
    "reference_status": Field("choice", "Reference status", required=True,
                              choices=[(r, r) for r in REFERENCE_STATUSES]),
}

COLUMNS = {name: custom_states.c[name] for name in
           ("key", "name", "label", "color", "logical_key", "model", "reference_status")}
COLUMNS["pk"] = custom_states.c.id
SEARCH = (custom_states.c.key, custom_states.c.name, custom_states.c.label,
          custom_states.c.reference_status)


def render(row) -> dict:
    return {"pk": row["id"], "key": row["key"], "name": row["name"], "label": row["label"],
            "color": row["color"], "logical_key": row["logical_key"], "model": row["model"],
            "model_name": contenttypes.model_title(row["model"]),
            "reference_status": row["reference_status"]}


def get(session, pk) -> dict:
    return get_by_id(session, custom_states, pk)


def list_custom_states(session, params: dict) -> dict:
    """The list: filters `reference_status` and `model` (a content type pk), search,
    ordering and paging."""
    stmt = select(custom_states)
    if params.get("reference_status"):
        stmt = stmt.where(custom_states.c.reference_status == params["reference_status"])
    if params.get("model"):  # a content type pk (django-filter's choice of one)
        model = parse_int(params["model"])
        if model is None or not INT64_MIN <= model <= INT64_MAX:
            raise ValidationFailed({"model": [
                "Select a valid choice. That choice is not one of the available choices."]})
        stmt = stmt.where(custom_states.c.model == model)
    return run_list(session, stmt, params, search=SEARCH, ordering=COLUMNS,
                    default_order=[custom_states.c.id], render=render)


def check(session, data: dict, current: dict | None = None, partial=False) -> dict:
    """Field checks, then the model's clean() rules and the unique-together rule."""
    cleaned = validate(FIELDS, data, partial=partial)
    merged = {**(current or {}), **cleaned}
    if not contenttypes.exists(merged["model"]):
        raise ValidationFailed({"model": [f'Invalid pk "{merged["model"]}" - object does not exist.']})
    if merged["key"] == merged["logical_key"]:
        raise ValidationFailed({"key": ["Key must be different from logical key"]})
    reference_keys = builtin_keys(merged["reference_status"])
    if merged["key"] in reference_keys:
        raise ValidationFailed({"key": ["Key must be different from the logical keys of the reference status"]})
    if merged["logical_key"] not in reference_keys:
        raise ValidationFailed({"logical_key": ["Logical key must be in the logical keys of the reference status"]})
    clash = select(custom_states.c.id).where(
        custom_states.c.model == merged["model"],
        custom_states.c.reference_status == merged["reference_status"],
        custom_states.c.key == merged["key"],
        custom_states.c.logical_key == merged["logical_key"])
    if current:
        clash = clash.where(custom_states.c.id != current["id"])
    if session.execute(clash).first():
        raise ValidationFailed({"non_field_errors": [
            "The fields model, reference_status, key, logical_key must make a unique set."]})
    return cleaned


def import_validate(session, data: dict, _context: dict) -> dict:
    """An import row's check (the import-target protocol's `validate`)."""
    return check(session, data)


def create(session, caller: Caller, data) -> dict:
    return render(get(session, create_checked(session, caller, check(session, data))))


def create_checked(session, caller: Caller, cleaned: dict, import_key: str | None = None) -> int:
    """Record a custom state from checked data (an import row's with its key); its pk."""
    pk = store.next_stream_id(session, STREAM)
    payload = {"color": "secondary", **cleaned}
    if import_key:
        payload["import_key"] = import_key
    store.record(session, STREAM, pk, CUSTOM_STATE_CREATED, payload, caller, version=1)
    return pk


def update(session, caller: Caller, pk: int, data, partial: bool) -> dict:
    current, version = store.load_for_update(session, STREAM, pk, get)
    cleaned = check(session, data, current, partial)
    store.record_changes(session, STREAM, pk, CUSTOM_STATE_UPDATED, current, cleaned,
                         caller, version + 1)
    return render(get(session, pk))


def delete(session, caller: Caller, pk: int):
    row, version = store.load_for_update(session, STREAM, pk, get)
    store.record(session, STREAM, pk, CUSTOM_STATE_DELETED,
                 {"key": row["key"], "reference_status": row["reference_status"]}, caller,
                 version + 1)


def status_document(session) -> dict:
    """`GET /api/generic/status/`: every class with its custom states merged into the class
    they reference (the intent of InvenTree's code; see SEMANTICS §11)."""
    doc = {name: {"class": cls, "values": dict(values)}
           for name, (cls, values) in STATUS_CLASSES.items()}
    rows = session.execute(select(custom_states).order_by(custom_states.c.id)).mappings()
    for row in rows:
        entry = doc[row["reference_status"]]
        name = row["name"].upper().replace(" ", "")
        entry["values"][name] = {"color": row["color"], "key": row["key"],
                                 "label": row["label"], "name": name}
    return doc


def status_class(session, name: str) -> dict:
    """`GET /api/generic/status/{name}/`: one class of the document, by its key or its class
    name."""
    for key, entry in status_document(session).items():
        if name in (key, entry["class"]):
            return entry
    raise NotFound({"detail": f"Status class '{name}' not found"})
