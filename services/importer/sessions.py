"""Import sessions, column mappings and rows: InvenTree 264's rules (SEMANTICS §13, §19.10-12)
for cleaning input, mapping file columns to fields, turning a file row into field data, and
rendering the three resources."""
from sqlalchemy import select

from svckit import jsontext
from svckit.errors import ValidationFailed
from svckit.fields import Field
from svckit.listing import bool_param, get_by_id, number_param

from .models import column_maps, rows, sessions

STATUS_LABELS = {0: "Initializing", 10: "Mapping Columns", 20: "Importing Data",
                 30: "Processing Data", 40: "Complete"}
INITIALIZING, MAPPING, IMPORTING, PROCESSING, COMPLETE = 0, 10, 20, 30, 40
JSON_FIELDS = ("field_defaults", "field_overrides", "field_filters")
TRUE_WORDS = frozenset({"1", "y", "yes", "t", "true", "ok", "on"})
MEDIA_URL = "/media/"

SESSION_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "timestamp": Field("datetime", "Timestamp", read_only=True),
    "data_file": Field("file upload", "Data File", "Data file to import", required=True),
    "model_type": Field("choice", "Model Type", "Target model type for this import",
                        required=True),
    "available_fields": Field("field", "Available fields", read_only=True),
    "status": Field("choice", "Status", "Import status", read_only=True,
                    choices=list(STATUS_LABELS.items())),
    "user": Field("related field", "User", read_only=True),
    "user_detail": Field("nested object", "User detail", read_only=True),
    "columns": Field("list", "Columns", read_only=True),
    "column_mappings": Field("field", "Column mappings", read_only=True),
    "field_defaults": Field("json", "Field Defaults"),
    "field_overrides": Field("json", "Field Overrides"),
    "field_filters": Field("json", "Field Filters"),
    "row_count": Field("integer", "Row count", read_only=True),
    "completed_row_count": Field("integer", "Completed row count", read_only=True),
}
MAPPING_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "session": Field("related field", "Import Session", read_only=True),
    "column": Field("string", "Column", max_length=100),
    "field": Field("string", "Field", read_only=True),
    "label": Field("string", "Label", read_only=True),
    "description": Field("string", "Description", read_only=True),
}
ROW_FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "session": Field("related field", "Import Session", read_only=True),
    "row_index": Field("integer", "Row Index", read_only=True),
    "row_data": Field("json", "Original row data", read_only=True),
    "data": Field("json", "Data"),
    "errors": Field("json", "Errors", read_only=True),
    "valid": Field("boolean", "Valid", read_only=True),
    "complete": Field("boolean", "Complete", read_only=True),
}


# ------------------------------------------------------------ input

def json_object(data: dict, name: str) -> dict:
    """A JSON-object field, sent as an object or (in multipart) as its JSON text (§19.10)."""
    value = data.get(name)
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = jsontext.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ValidationFailed({name: ["Value must be a valid dictionary object"]})
    return value


def clean_json_fields(data: dict, partial: bool) -> dict:
    """The session's JSON fields from a request: null until set (as InvenTree's nullable
    JSONFields), so a missing, null or blank value is null; anything else an object."""
    return {name: json_object(data, name) if data.get(name) not in (None, "") else None
            for name in JSON_FIELDS if not partial or name in data}


# ------------------------------------------------------------ mapping

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


def check_mapping_column(session: dict, mapping: dict, column, others: list[str]) -> str:
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


ALREADY_COMPLETE = "Import session is already complete"
ROWS_IMPORTED = "Rows of this import session have already been imported"


def check_not_imported(session: dict) -> None:
    """400 for a session whose rows were (partly) created: reading the file again would
    create them twice."""
    if session["status"] == COMPLETE:
        raise ValidationFailed({"non_field_errors": [ALREADY_COMPLETE]})
    if session["completed_row_count"]:
        raise ValidationFailed({"non_field_errors": [ROWS_IMPORTED]})


def unmapped_required(session: dict, mappings: list[dict]) -> list[str]:
    """Required fields with no override, no truthy default and no mapped column."""
    mapped = {m["field"] for m in mappings if m["column"]}
    defaults, overrides = session["field_defaults"] or {}, session["field_overrides"] or {}
    return [name for name, info in session["available_fields"].items()
            if info.get("required") and name not in overrides
            and not defaults.get(name) and name not in mapped]


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


# ------------------------------------------------------------ reading and rendering

def get_session(s, pk: int) -> dict:
    return get_by_id(s, sessions, pk)


def mappings_of(s, session_pks) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if session_pks:
        for m in s.execute(select(column_maps).where(column_maps.c.session_id.in_(session_pks))
                           .order_by(column_maps.c.id)).mappings():
            out.setdefault(m["session_id"], []).append(render_mapping(m))
    return out


def render_mapping(m) -> dict:
    return {"pk": m["id"], "session": m["session_id"], "column": m["column"],
            "field": m["field"], "label": m["label"], "description": m["description"]}


def render_session(row: dict, mappings: list[dict]) -> dict:
    return {"pk": row["id"], "timestamp": row["timestamp"].strftime("%Y-%m-%d %H:%M"),
            "data_file": MEDIA_URL + row["data_file"], "model_type": row["model_type"],
            "available_fields": row["available_fields"], "status": row["status"],
            "user": row["user_id"], "user_detail": row["user_detail"],
            "columns": row["columns"], "column_mappings": mappings,
            "field_defaults": row["field_defaults"], "field_overrides": row["field_overrides"],
            "field_filters": row["field_filters"], "row_count": row["row_count"],
            "completed_row_count": row["completed_row_count"]}


def render_row(r) -> dict:
    return {"pk": r["id"], "session": r["session_id"], "row_index": r["row_index"],
            "row_data": r["row_data"], "data": r["data"], "errors": r["errors"],
            "valid": r["valid"], "complete": r["complete"]}


def _equal(stmt, column, params: dict, name: str):
    """`stmt` narrowed to `column == ?<name>` when the number filter is given."""
    value = number_param(params, name)
    return stmt if value is None else stmt.where(column == value)


def session_filters(params: dict):
    stmt = select(sessions)
    if params.get("model_type"):
        stmt = stmt.where(sessions.c.model_type == str(params["model_type"]))
    stmt = _equal(stmt, sessions.c.status, params, "status")
    return _equal(stmt, sessions.c.user_id, params, "user")


def mapping_filters(params: dict):
    return _equal(select(column_maps), column_maps.c.session_id, params, "session")


def row_filters(params: dict):
    stmt = _equal(select(rows), rows.c.session_id, params, "session")
    for name in ("valid", "complete"):
        value = bool_param(params, name)
        if value is not None:
            stmt = stmt.where(getattr(rows.c, name) == value)
    return stmt


SESSION_ORDERING = {"timestamp": sessions.c.timestamp, "status": sessions.c.status,
                    "model_type": sessions.c.model_type}
MAPPING_ORDERING = {}
ROW_ORDERING = {"pk": rows.c.id, "row_index": rows.c.row_index, "valid": rows.c.valid}
