"""Column mappings of an import session (SEMANTICS §13): which file column feeds which field
of the target model. Created with the session (`auto_map`); only `column` is writable."""
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import ValidationFailed
from svckit.fields import Field
from svckit.listing import get_by_id, number_filter, run_list

from .events import COLUMN_MAPPING_UPDATED
from .models import column_maps, store
from .ownership import get_session, mine, visible_session

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "session": Field("related field", "Import Session", read_only=True),
    "column": Field("string", "Column", max_length=100),
    "field": Field("string", "Field", read_only=True),
    "label": Field("string", "Label", read_only=True),
    "description": Field("string", "Description", read_only=True),
}
ORDERING: dict = {}


def auto_map(fields: dict, columns: list[str], overrides: dict) -> list[dict]:
    """One mapping per importable field (overridden ones skipped), in field order: the first
    unused non-blank column equal to the field's name, label or help text, else the first
    equal ignoring case, else none (§13)."""
    used: set[str] = set()
    out = []
    for name, info in fields.items():
        if name in overrides:
            continue
        label, help_text = info.get("label") or "", info.get("help_text") or ""
        candidates = [c for c in (name, label, help_text) if c]
        free = [c for c in columns if c.strip() and c not in used]
        lowered = {c.lower() for c in candidates}
        column = next((c for c in free if c in candidates), None) or next(
            (c for c in free if c.lower() in lowered), "")
        if column:
            used.add(column)
        out.append({"field": name, "column": column, "label": label,
                    "description": help_text or label})
    return out


def check_column(session: dict, mapping: dict, column, others: list[str]) -> str:
    column = "" if column is None else str(column)
    if column and column not in session["columns"]:
        raise ValidationFailed({"column": ["Column does not exist in the data file"]})
    if column and column in others:
        raise ValidationFailed({"column": ["Column is already mapped to a database field"]})
    info = session["available_fields"].get(mapping["field"])
    if info is None:
        raise ValidationFailed({"field": ["Field does not exist in the target model"]})
    if info.get("read_only"):
        raise ValidationFailed({"field": ["Selected field is read-only"]})
    return column


def mappings_of(s, session_pks) -> dict[int, list[dict]]:
    """session pk -> its mappings, rendered."""
    out: dict[int, list[dict]] = {}
    if session_pks:
        for m in s.execute(select(column_maps).where(column_maps.c.session_id.in_(session_pks))
                           .order_by(column_maps.c.id)).mappings():
            out.setdefault(m["session_id"], []).append(render(m))
    return out


def render(m) -> dict:
    return {"pk": m["id"], "session": m["session_id"], "column": m["column"],
            "field": m["field"], "label": m["label"], "description": m["description"]}


def list_mappings(s, caller: Caller, params: dict) -> dict:
    stmt = number_filter(select(column_maps), column_maps.c.session_id, params, "session")
    return run_list(s, mine(caller, stmt, column_maps.c.session_id), params,
                    search=[column_maps.c.field, column_maps.c.column], ordering=ORDERING,
                    default_order=[column_maps.c.id], render=render)


def get_mapping(s, caller: Caller, pk: int) -> dict:
    mapping = get_by_id(s, column_maps, pk)
    visible_session(s, caller, mapping["session_id"])
    return render(mapping)


def update(s, caller: Caller, pk: int, data: dict, partial: bool) -> dict:
    """PUT/PATCH: only `column` is writable; decided under the session's lock."""
    if "column" not in data:
        if not partial:
            raise ValidationFailed({"column": ["This field is required."]})
        return get_mapping(s, caller, pk)
    sid = get_by_id(s, column_maps, pk)["session_id"]  # a mapping never moves

    def load(s, sid):
        return get_session(s, sid), get_by_id(s, column_maps, pk)

    (session, mapping), version = store.load_for_update(s, "import_session", sid, load)
    others = [m["column"] for m in mappings_of(s, [sid]).get(sid, [])
              if m["pk"] != pk and m["column"]]
    column = check_column(session, mapping, data["column"], others)
    if column != mapping["column"]:
        store.record(s, "import_session", sid, COLUMN_MAPPING_UPDATED,
                     {"id": pk, "column": column}, caller, version + 1)
    return render({**mapping, "column": column})
