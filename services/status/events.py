"""Every event type the status service records, with its payload fields.

Domain modules record with these constants (never a string literal), so a grep on one finds
every writer; `models.py` projects them. The strings themselves never change: the audit log
and replay depend on them. Each type's payload is modelled below (svckit.eventcatalog)."""
from svckit.eventcatalog import EventCatalog, EventPayload

# custom states (customstates.py); stream "custom_state"
# key, name, label, color, logical_key, model, reference_status[, import_key]
CUSTOM_STATE_CREATED = "custom_state.created"
CUSTOM_STATE_UPDATED = "custom_state.updated"  # the changed fields among those of created
CUSTOM_STATE_DELETED = "custom_state.deleted"  # key, reference_status


class CustomStateCreated(EventPayload):
    """A custom state added to a status class."""

    key: int
    name: str
    label: str
    color: str
    logical_key: int
    model: int
    reference_status: str
    import_key: str | None = None  # the import row it came from


class CustomStateUpdated(EventPayload):
    """The fields of a custom state that changed."""

    key: int | None = None
    name: str | None = None
    label: str | None = None
    color: str | None = None
    logical_key: int | None = None
    model: int | None = None
    reference_status: str | None = None


class CustomStateDeleted(EventPayload):
    """A custom state deleted."""

    key: int
    reference_status: str


catalog = EventCatalog("status", {
    CUSTOM_STATE_CREATED: CustomStateCreated,
    CUSTOM_STATE_UPDATED: CustomStateUpdated,
    CUSTOM_STATE_DELETED: CustomStateDeleted,
})
