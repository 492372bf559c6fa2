"""The importer's tables: projections of its event log (sessions, their column mappings and
rows) and the processing state that lets a background job resume after a crash.

Row events come in batches (one `import_row.validated` event per batch of parsed rows, one
`import_row.completed` per batch created in the target service), so a million-row import
is a few thousand events, not millions.
"""
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)

from svckit.events import EventStore, Projector, column_values

from .events import (
    COLUMN_MAPPING_UPDATED,
    ROW_UPDATED,
    ROWS_ACCEPTED,
    ROWS_COMPLETED,
    ROWS_DELETED,
    ROWS_RECOMPUTED,
    ROWS_STALE,
    ROWS_VALIDATED,
    SESSION_COMPLETED,
    SESSION_CREATED,
    SESSION_DELETED,
    SESSION_FAILED,
    SESSION_FIELDS_ACCEPTED,
    SESSION_PROCESSED,
    SESSION_UPDATED,
    catalog,
)

metadata = MetaData()

sessions = Table(
    "import_session", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("timestamp", DateTime, nullable=False),
    Column("data_file", String(500), nullable=False),  # blob key under import/
    Column("file_format", String(10), nullable=False),
    Column("model_type", String(100), nullable=False),
    Column("status", Integer, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("user_detail", JSON, nullable=True),  # the creator as they were at creation
    Column("field_defaults", JSON, nullable=False),
    Column("field_overrides", JSON, nullable=False),
    Column("field_filters", JSON, nullable=False),
    Column("available_fields", JSON, nullable=False),  # the target's fields at creation
    Column("headers", JSON, nullable=False),  # raw header cells (rows are keyed by them)
    Column("columns", JSON, nullable=False),  # display names
    Column("file_rows", Integer, nullable=False, default=0),  # non-empty data rows in the file
    Column("row_count", Integer, nullable=False, default=0),
    Column("completed_row_count", Integer, nullable=False, default=0),
    Column("next_index", Integer, nullable=False, default=0),  # parsing resumes here
    Column("accepted_by", JSON, nullable=True),  # the caller whose accepted rows are created
    Column("error", String(1000), nullable=True),  # why processing stopped, if it did
)

column_maps = Table(
    "import_column_map", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("session_id", Integer, nullable=False, index=True),
    Column("field", String(100), nullable=False),
    Column("column", String(250), nullable=False, default=""),
    Column("label", String(250), nullable=False, default=""),
    Column("description", String(1000), nullable=False, default=""),
)

rows = Table(
    "import_row", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("session_id", Integer, nullable=False),
    Column("row_index", Integer, nullable=False),
    Column("row_data", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Column("errors", JSON, nullable=True),
    Column("valid", Boolean, nullable=False, default=False),
    Column("complete", Boolean, nullable=False, default=False),
    Column("accepted", Boolean, nullable=False, default=False),  # waiting to be created
    Column("target_pk", Integer, nullable=True),
)
Index("ix_import_row_session", rows.c.session_id, rows.c.row_index)
# paging a session's valid (or invalid) rows by pk without sorting them all
Index("ix_import_row_valid", rows.c.session_id, rows.c.valid, rows.c.id)
Index("ix_import_row_pending", rows.c.accepted, rows.c.session_id)  # few are accepted

# Sessions whose rows' `data` must be computed again from their cells because the session's
# defaults or overrides changed after the rows were read: from row `next_row` on; a new
# change bumps `generation` and starts over.
recomputes = Table(
    "import_recompute", metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=False),
    Column("generation", Integer, nullable=False),
    Column("next_row", Integer, nullable=False),
)

# Not projected: which process is working on which session (like the relay lease)
job_leases = Table(
    "import_job_lease", metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(100), nullable=False),
    Column("until", DateTime, nullable=False),
)

projector = Projector([column_maps, rows, sessions, recomputes])
store = EventStore("importer", metadata, projector, catalog)


def _id(e) -> int:
    return int(e["stream_id"])


def _bump(s, pk: int, **deltas):
    s.execute(update(sessions).where(sessions.c.id == pk).values(
        **{name: getattr(sessions.c, name) + delta for name, delta in deltas.items()}))


def _recount(s, pk: int):
    total, done = s.execute(select(func.count(), func.count().filter(rows.c.complete))
                            .where(rows.c.session_id == pk)).one()
    s.execute(update(sessions).where(sessions.c.id == pk).values(
        row_count=total, completed_row_count=done))


@projector.on(SESSION_CREATED)
def _created(s, e):
    values = column_values(sessions, e["payload"])
    mappings = values.pop("column_mappings")
    values.setdefault("timestamp", e["created"])
    s.execute(insert(sessions).values(id=_id(e), **values))
    if mappings:
        s.execute(insert(column_maps), [dict(m, session_id=_id(e)) for m in mappings])


@projector.on(SESSION_UPDATED, SESSION_PROCESSED, SESSION_COMPLETED, SESSION_FAILED)
def _updated(s, e):
    values = column_values(sessions, e["payload"])
    if values:
        s.execute(update(sessions).where(sessions.c.id == _id(e)).values(**values))


@projector.on(SESSION_FIELDS_ACCEPTED)
def _fields_accepted(s, e):
    s.execute(delete(rows).where(rows.c.session_id == _id(e)))
    s.execute(delete(recomputes).where(recomputes.c.session_id == _id(e)))
    s.execute(update(sessions).where(sessions.c.id == _id(e)).values(
        status=e["payload"]["status"], row_count=0, completed_row_count=0, next_index=0,
        error=None))


@projector.on(COLUMN_MAPPING_UPDATED)
def _mapping_updated(s, e):
    p = e["payload"]
    s.execute(update(column_maps).where(column_maps.c.id == p["id"]).values(column=p["column"]))


@projector.on(ROWS_VALIDATED)
def _validated(s, e):
    batch = e["payload"]["rows"]
    if batch:
        s.execute(insert(rows), [dict(r, session_id=_id(e), complete=False, accepted=False)
                                 for r in batch])
    s.execute(update(sessions).where(sessions.c.id == _id(e)).values(
        next_index=e["payload"]["next_index"], row_count=sessions.c.row_count + len(batch)))


@projector.on(ROWS_STALE)
def _stale(s, e):
    bumped = s.execute(update(recomputes).where(recomputes.c.session_id == _id(e)).values(
        generation=recomputes.c.generation + 1, next_row=0)).rowcount
    if not bumped:
        s.execute(insert(recomputes).values(session_id=_id(e), generation=1, next_row=0))


_RECOMPUTED_ROW = update(rows).where(rows.c.id == bindparam("row")).values(
    data=bindparam("data"), errors=bindparam("errors"), valid=bindparam("valid"))


@projector.on(ROWS_RECOMPUTED)
def _recomputed(s, e):
    p = e["payload"]
    if p["rows"]:
        s.execute(_RECOMPUTED_ROW, [{"row": r["id"], "data": r["data"], "errors": r["errors"],
                                     "valid": r["valid"]} for r in p["rows"]])
    if p["next_row"] is None:
        s.execute(delete(recomputes).where(recomputes.c.session_id == _id(e)))
    else:
        s.execute(update(recomputes).where(recomputes.c.session_id == _id(e)).values(
            next_row=p["next_row"]))


@projector.on(ROW_UPDATED)
def _row_updated(s, e):
    p = e["payload"]
    s.execute(update(rows).where(rows.c.id == p["id"]).values(
        data=p["data"], errors=p["errors"], valid=p["valid"]))


@projector.on(ROWS_DELETED)
def _rows_deleted(s, e):
    s.execute(delete(rows).where(rows.c.id.in_(e["payload"]["ids"])))
    _recount(s, _id(e))


@projector.on(ROWS_ACCEPTED)
def _accepted(s, e):
    s.execute(update(rows).where(rows.c.id.in_(e["payload"]["ids"])).values(accepted=True))
    s.execute(update(sessions).where(sessions.c.id == _id(e)).values(
        accepted_by=e["payload"]["accepted_by"]))


_COMPLETE_ROW = update(rows).where(rows.c.id == bindparam("row")).values(
    complete=True, accepted=False, target_pk=bindparam("pk"), errors=None)
_FAIL_ROW = update(rows).where(rows.c.id == bindparam("row")).values(
    accepted=False, valid=False, errors=bindparam("errors"))


@projector.on(ROWS_COMPLETED)
def _completed(s, e):
    done, failed = e["payload"]["rows"], e["payload"].get("failed", [])
    if done:  # one executemany per batch
        s.execute(_COMPLETE_ROW, [{"row": r["id"], "pk": r["pk"]} for r in done])
        _bump(s, _id(e), completed_row_count=len(done))
    if failed:
        s.execute(_FAIL_ROW, [{"row": r["id"], "errors": r["errors"]} for r in failed])


@projector.on(SESSION_DELETED)
def _deleted(s, e):
    s.execute(delete(rows).where(rows.c.session_id == _id(e)))
    s.execute(delete(column_maps).where(column_maps.c.session_id == _id(e)))
    s.execute(delete(recomputes).where(recomputes.c.session_id == _id(e)))
    s.execute(delete(sessions).where(sessions.c.id == _id(e)))
