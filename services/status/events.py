"""Every event type the status service records, with its payload fields.

Domain modules record with these constants (never a string literal), so a grep on one finds
every writer; `models.py` projects them. The strings themselves never change: the audit log
and replay depend on them."""

# custom states (customstates.py); stream "custom_state"
# key, name, label, color, logical_key, model, reference_status[, import_key]
CUSTOM_STATE_CREATED = "custom_state.created"
CUSTOM_STATE_UPDATED = "custom_state.updated"  # the changed fields among those of created
CUSTOM_STATE_DELETED = "custom_state.deleted"  # key, reference_status
