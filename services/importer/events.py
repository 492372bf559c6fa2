"""Every event type the importer records, all on the stream `import_session` (a session's
column mappings and rows change under its lock); the payload fields of each type are named
beside it, and modelled at the end (svckit.eventcatalog)."""
from typing import Any

from svckit.eventcatalog import Empty, EventCatalog, EventPayload

# data_file, file_format, model_type, status, user_id, user_detail, field_defaults,
# field_overrides, field_filters, available_fields, headers, columns, file_rows,
# column_mappings (each: id, field, column, label, description)
SESSION_CREATED = "import_session.created"
# the changed ones of field_defaults, field_overrides, field_filters
SESSION_UPDATED = "import_session.updated"
# status (20): the rows are read again from the file
SESSION_FIELDS_ACCEPTED = "import_session.fields_accepted"
# status (30): every row of the file is read
SESSION_PROCESSED = "import_session.processed"
# status (40): every row is complete
SESSION_COMPLETED = "import_session.completed"
# status (10), error: reading the file stopped
SESSION_FAILED = "import_session.failed"
# (no fields)
SESSION_DELETED = "import_session.deleted"

# id, column
COLUMN_MAPPING_UPDATED = "column_mapping.updated"

# rows (each: id, row_index, row_data, data, errors, valid), next_index
ROWS_VALIDATED = "import_row.validated"
# (no fields): defaults or overrides changed, rows that are not complete are recomputed
ROWS_STALE = "import_row.stale"
# rows (each: id, data, errors, valid), next_row (None: done)
ROWS_RECOMPUTED = "import_row.recomputed"
# id, data, errors, valid
ROW_UPDATED = "import_row.updated"
# ids
ROWS_DELETED = "import_row.deleted"
# ids, accepted_by (the caller whose rows are created)
ROWS_ACCEPTED = "import_row.accepted"
# rows (each: id, pk in the target), failed (each: id, errors)
ROWS_COMPLETED = "import_row.completed"


# ------------------------------------------------------------------ payload models

class ColumnMapping(EventPayload):
    """Which column of the file feeds a field ("" for none)."""

    id: int
    field: str
    column: str
    label: str
    description: str


class SessionCreated(EventPayload):
    """An import session: its data file read, its columns mapped to the target's fields."""

    data_file: str
    file_format: str
    model_type: str
    status: int
    user_id: int | None
    user_detail: dict[str, Any] | None
    field_defaults: dict[str, Any] | None
    field_overrides: dict[str, Any] | None
    field_filters: dict[str, Any] | None
    available_fields: dict[str, Any]
    headers: list[str]
    columns: list[str]
    file_rows: int
    column_mappings: list[ColumnMapping]


class SessionUpdated(EventPayload):
    """The JSON fields of a session that changed."""

    field_defaults: dict[str, Any] | None = None
    field_overrides: dict[str, Any] | None = None
    field_filters: dict[str, Any] | None = None


class StatusChanged(EventPayload):
    """The session's new status."""

    status: int


class SessionFailed(EventPayload):
    """Reading the file stopped; the session is back to mapping."""

    status: int
    error: str


class ColumnMappingUpdated(EventPayload):
    """A column mapping pointed at another column."""

    id: int
    column: str


class ValidatedRow(EventPayload):
    """A row read from the file and checked by the target."""

    id: int
    row_index: int
    row_data: Any
    data: dict[str, Any]
    errors: Any
    valid: bool


class RowsValidated(EventPayload):
    """A batch of rows read and checked; where the next batch starts."""

    rows: list[ValidatedRow]
    next_index: int | None


class RecomputedRow(EventPayload):
    """A row's data and errors, computed again."""

    id: int
    data: dict[str, Any]
    errors: Any
    valid: bool


class RowsRecomputed(EventPayload):
    """A batch of rows recomputed; the next row to recompute (None: done)."""

    rows: list[RecomputedRow]
    next_row: int | None


class RowIds(EventPayload):
    """Rows deleted."""

    ids: list[int]


class RowsAccepted(EventPayload):
    """Rows accepted for creation by a caller (whose rights create them)."""

    ids: list[int]
    accepted_by: dict[str, Any]


class CreatedRow(EventPayload):
    """A row created in the target, as the target's `pk`."""

    id: int
    pk: Any


class FailedRow(EventPayload):
    """A row the target refused."""

    id: int
    errors: Any


class RowsCompleted(EventPayload):
    """A batch of accepted rows created in (or refused by) the target."""

    rows: list[CreatedRow]
    failed: list[FailedRow]


catalog = EventCatalog("importer", {
    SESSION_CREATED: SessionCreated,
    SESSION_UPDATED: SessionUpdated,
    SESSION_FIELDS_ACCEPTED: StatusChanged,
    SESSION_PROCESSED: StatusChanged,
    SESSION_COMPLETED: StatusChanged,
    SESSION_FAILED: SessionFailed,
    SESSION_DELETED: Empty,
    COLUMN_MAPPING_UPDATED: ColumnMappingUpdated,
    ROWS_VALIDATED: RowsValidated,
    ROWS_STALE: Empty,
    ROWS_RECOMPUTED: RowsRecomputed,
    ROW_UPDATED: RecomputedRow,
    ROWS_DELETED: RowIds,
    ROWS_ACCEPTED: RowsAccepted,
    ROWS_COMPLETED: RowsCompleted,
})
