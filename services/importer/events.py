"""Every event type the importer records, all on the stream `import_session` (a session's
column mappings and rows change under its lock); the payload fields of each type are named
beside it."""

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
