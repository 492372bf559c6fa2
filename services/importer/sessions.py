"""Import sessions: InvenTree 264's rules (SEMANTICS §13, §19.10-12) for cleaning input,
rendering, and the commands: create (the data file claimed from `incoming/`, scanned and
its columns mapped), update, accept the field mapping, delete, and the daily sweep."""
import mimetypes
import re
import uuid
from datetime import timedelta

from sqlalchemy import select

from svckit import claimcheck, jsontext
from svckit.blobstore import BlobStore
from svckit.bulk import bulk_condition, matching_ids
from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.events import utcnow
from svckit.fields import Field
from svckit.listing import number_filter, run_list

from . import datafile, scanner
from .columnmappings import auto_map, mappings_of
from .events import (
    ROWS_STALE,
    SESSION_COMPLETED,
    SESSION_CREATED,
    SESSION_DELETED,
    SESSION_FIELDS_ACCEPTED,
    SESSION_UPDATED,
)
from .localcopy import LocalCopy
from .models import sessions, store
from .ownership import get_session, mine, visible_session
from .settings import ImporterSettings

STATUS_LABELS = {0: "Initializing", 10: "Mapping Columns", 20: "Importing Data",
                 30: "Processing Data", 40: "Complete"}
INITIALIZING, MAPPING, IMPORTING, PROCESSING, COMPLETE = 0, 10, 20, 30, 40
JSON_FIELDS = ("field_defaults", "field_overrides", "field_filters")
MEDIA_URL = "/media/"
IMPORT_PREFIX = "import/"
ORDERING = {"timestamp": sessions.c.timestamp, "status": sessions.c.status,
            "model_type": sessions.c.model_type}
BULK_FILTERS = {"model_type": sessions.c.model_type, "status": sessions.c.status,
                "user": sessions.c.user_id}

FIELDS = {
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




def check_complete(s, session_id: int, caller=None) -> bool:
    """InvenTree's `check_complete()`: a processed session whose rows are all complete is
    complete (status 40)."""
    row = s.execute(select(sessions.c.status, sessions.c.row_count,
                           sessions.c.completed_row_count).where(
        sessions.c.id == session_id)).first()
    if row is None or row.status != PROCESSING or row.completed_row_count < row.row_count:
        return False
    store.record(s, "import_session", session_id, SESSION_COMPLETED, {"status": COMPLETE},
                 caller)
    return True


# ------------------------------------------------------------ reading

def render(row: dict, mappings: list[dict]) -> dict:
    return {"pk": row["id"], "timestamp": row["timestamp"].strftime("%Y-%m-%d %H:%M"),
            "data_file": MEDIA_URL + row["data_file"], "model_type": row["model_type"],
            "available_fields": row["available_fields"], "status": row["status"],
            "user": row["user_id"], "user_detail": row["user_detail"],
            "columns": row["columns"], "column_mappings": mappings,
            "field_defaults": row["field_defaults"], "field_overrides": row["field_overrides"],
            "field_filters": row["field_filters"], "row_count": row["row_count"],
            "completed_row_count": row["completed_row_count"]}


def render_all(s, found: list) -> list:
    maps = mappings_of(s, [r["id"] for r in found])
    return [render(r, maps.get(r["id"], [])) for r in found]


def list_sessions(s, caller: Caller, params: dict) -> dict:
    stmt = select(sessions)
    if params.get("model_type"):
        stmt = stmt.where(sessions.c.model_type == str(params["model_type"]))
    stmt = number_filter(stmt, sessions.c.status, params, "status")
    stmt = number_filter(stmt, sessions.c.user_id, params, "user")
    answer = run_list(s, mine(caller, stmt, sessions.c.id), params,
                      search=[sessions.c.model_type], ordering=ORDERING,
                      default_order=[sessions.c.id])
    answer["results"] = render_all(s, answer["results"])
    return answer


def get(s, caller: Caller, pk: int) -> dict:
    """The session rendered; 404 when it is missing or not the caller's."""
    return render_all(s, [visible_session(s, caller, pk)])[0]


def media_file(s, caller: Caller, blobs: BlobStore, key: str) -> dict:
    """The data file behind `/media/import/<name>`, for the session's owner and staff."""
    known = s.execute(mine(caller, select(sessions.c.id).where(sessions.c.data_file == key),
                           sessions.c.id)).first()
    size = blobs.size(key) if known else None
    if size is None:
        raise NotFound()
    name = key.rsplit("/", 1)[-1]
    return {"key": key, "size": size, "sha256": None, "filename": name,
            "content_type": mimetypes.guess_type(name)[0] or "application/octet-stream"}


# ------------------------------------------------------------ commands

def _safe_name(name: str) -> str:
    base = re.split(r"[\\/]", str(name or ""))[-1].strip()
    stem, dot, ext = base.rpartition(".")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem if dot else base).strip("._") or "data"
    return f"{stem[:80]}.{ext.lower()}" if dot else stem[:80]


def _place(blobs: BlobStore, upload: dict) -> str:
    """Claim the incoming blob at `import/<name>` (a free name: never overwrites)."""
    source = claimcheck.incoming_key(upload, "data_file")
    name = _safe_name(upload.get("name", ""))
    stem, dot, ext = name.rpartition(".")
    for attempt in range(20):
        key = IMPORT_PREFIX + (name if attempt == 0 else
                               f"{stem}_{uuid.uuid4().hex[:7]}{dot}{ext}")
        if claimcheck.claim(blobs, source, key, "data_file"):
            return key
    raise ValidationFailed({"data_file": ["No free file name for the data file"]})


def create(db, blobs: BlobStore, targets, caller: Caller, data: dict,
           upload: dict | None, settings: ImporterSettings) -> dict:
    """POST: scan the data file, map its columns to the target's fields (status 10). The
    file is placed, scanned and the target asked for its fields before the transaction that
    records the session opens; on any failure the placed file goes."""
    model_type = str(data.get("model_type") or "").strip().lower()
    service = targets.service_for(data.get("model_type"))
    if not upload:
        raise ValidationFailed({"data_file": ["No file was submitted."]})
    try:
        fmt = datafile.file_format(upload.get("name", ""))
    except datafile.DataFileError as exc:
        raise ValidationFailed({"data_file": [str(exc)]})
    extra = clean_json_fields(data, partial=False)
    key = _place(blobs, upload)
    try:
        with LocalCopy(blobs, key, settings.data_dir()) as path:
            scan = scanner.scan(path, fmt, settings.limits(), settings.budget())
        fields = targets.call(service, "import_fields", model_type=model_type)
        mappings = auto_map(fields, scan.columns, extra["field_overrides"] or {})
        with db.write() as s:
            pk = store.next_stream_id(s, "import_session")
            ids = store.next_stream_ids(s, "import_column_map", len(mappings))
            payload = {"data_file": key, "file_format": fmt, "model_type": model_type,
                       "status": MAPPING, "user_id": caller.user_id,
                       "user_detail": caller.brief, **extra,
                       "available_fields": fields, "headers": scan.headers,
                       "columns": scan.columns, "file_rows": scan.row_count,
                       "column_mappings": [dict(m, id=i) for i, m in zip(ids, mappings)]}
            store.record(s, "import_session", pk, SESSION_CREATED, payload, caller)
            answer = get(s, caller, pk)
    except datafile.DataFileError as exc:
        blobs.delete(key)
        raise ValidationFailed({"data_file": [str(exc)]})
    except BaseException:
        blobs.delete(key)
        raise
    claimcheck.discard(blobs, upload)
    return answer


def update(s, caller: Caller, pk: int, data: dict, partial: bool,
           upload: dict | None) -> tuple[dict, bool]:
    """PUT/PATCH: the defaults, overrides and filters (mappings are not recomputed, as
    InvenTree; the file and model type stay those of the session). Returns the session and
    whether its rows must be recomputed: changed defaults or overrides of a session whose
    rows were read apply to every row that is not complete."""
    if upload:
        raise ValidationFailed({"data_file": [
            "The data file of a session cannot be replaced; start a new session"]})
    cleaned = clean_json_fields(data, partial)
    current, version = store.load_for_update(s, "import_session", pk, get_session)
    changed = store.record_changes(s, "import_session", pk, SESSION_UPDATED, current, cleaned,
                                   caller, version + 1)
    stale = bool(current["status"] >= IMPORTING
                 and {"field_defaults", "field_overrides"} & changed.keys())
    if stale:
        store.record(s, "import_session", pk, ROWS_STALE, {}, caller)
    return get(s, caller, pk), stale


def accept_fields(s, caller: Caller, pk: int) -> dict:
    """Check that every required field is covered, then have the file parsed in the
    background (status 20; the session shows 30 once every row is validated). A session
    with created rows is refused: reading its file again would create them twice."""
    session, version = store.load_for_update(
        s, "import_session", pk, lambda s, pk: visible_session(s, caller, pk))
    check_not_imported(session)
    missing = unmapped_required(session, mappings_of(s, [pk]).get(pk, []))
    if missing:
        raise ValidationFailed({"error": ["Some required fields have not been mapped"],
                                "fields": missing})
    store.record(s, "import_session", pk, SESSION_FIELDS_ACCEPTED, {"status": IMPORTING},
                 caller, version + 1)
    return get(s, caller, pk)


def delete(db, blobs: BlobStore, caller: Caller, pk: int) -> None:
    _delete(db, blobs, caller, lambda s: [pk], must_exist=True)


def bulk_delete(db, blobs: BlobStore, caller: Caller, body) -> int:
    """Any authenticated user (InvenTree 264's list view), but only their own sessions
    unless staff; filters on model_type, status and user only."""
    condition = bulk_condition(body, sessions.c.id, BULK_FILTERS)
    if not caller.is_admin:
        condition = condition & (sessions.c.user_id == caller.user_id)
    return _delete(db, blobs, caller, lambda s: matching_ids(s, sessions, condition))


def _delete(db, blobs: BlobStore, caller: Caller, chosen, must_exist=False) -> int:
    """Delete the sessions `chosen(session)` still there once locked; their data files go
    after the commit."""
    with db.write() as s:
        found = store.load_all_for_update(s, "import_session", chosen(s), lambda s, ids: s.execute(
            select(sessions.c.id, sessions.c.data_file).where(sessions.c.id.in_(ids))
            .order_by(sessions.c.id)).all())
        if must_exist and not found:
            raise NotFound()
        for pk, _ in found:
            store.record(s, "import_session", pk, SESSION_DELETED, {}, caller)
    for _, key in found:
        blobs.delete(key)
    return len(found)


def sweep(db, blobs: BlobStore, caller: Caller, settings: ImporterSettings) -> dict:
    """Delete sessions older than IMPORT_SESSION_DAYS (InvenTree's daily task), data files no
    session refers to (left by a crash between placing and recording), and uploads the
    gateway left under `incoming/` (svckit.claimcheck; the attachments service, which shares
    the store, sweeps them too)."""
    days = settings.IMPORT_SESSION_DAYS
    with db.read() as s:
        old = s.execute(select(sessions.c.id).where(
            sessions.c.timestamp < utcnow() - timedelta(days=days))).scalars().all()
        used = set(s.execute(select(sessions.c.data_file)).scalars())
    deleted = _delete(db, blobs, caller, lambda s: list(old)) if old else 0
    cutoff = utcnow() - timedelta(hours=1)
    orphans = [k for k, modified in blobs.list(IMPORT_PREFIX)
               if k not in used and modified < cutoff]
    for key in orphans:
        blobs.delete(key)
    incoming = claimcheck.sweep(blobs, settings.INCOMING_BLOB_SECONDS)
    return {"sessions": deleted, "files": len(orphans), "incoming": incoming}
