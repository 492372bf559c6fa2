"""Every service takes the one shape (tests/service_shape.py, README "Tests"), and records
exactly the event types listed here: a new type, or one gone, is a change of the catalog that
the audit log's readers see."""
import pytest

from tests.helpers import service_packages
from tests.service_shape import (
    event_constants,
    service_py_faults,
    several_units_of_work,
    unlisted_event_types,
)

SERVICES = sorted(service_packages())

# Entrypoints allowed more than one unit of work, each saying why in its docstring or a
# comment: a slow check (password hashing) or a call to another service between them.
SEVERAL_UNITS = {
    "users": {"authenticate_token", "_check_password", "change_password"},
    "system": {"refresh_stale_exchange_rates"},
}

EVENT_TYPES = {
    "attachments": {
        "attachment.uploaded", "attachment.linked", "attachment.updated", "attachment.renamed",
        "attachment.deleted", "notes_image.uploaded", "notes_image.deleted"},
    # the trail is what the others publish; its own log holds webhook subscriptions' changes
    "audit": {"webhook_subscription.created", "webhook_subscription.updated",
              "webhook_subscription.deleted", "webhook_delivery.redelivered"},
    "importer": {
        "import_session.created", "import_session.updated", "import_session.fields_accepted",
        "import_session.processed", "import_session.completed", "import_session.failed",
        "import_session.deleted", "column_mapping.updated", "import_row.validated",
        "import_row.stale", "import_row.recomputed", "import_row.updated", "import_row.deleted",
        "import_row.accepted", "import_row.completed"},
    "status": {"custom_state.created", "custom_state.updated", "custom_state.deleted"},
}


def test_every_service_is_checked():
    assert set(SERVICES) >= set(EVENT_TYPES) | set(SEVERAL_UNITS)
    assert {"attachments", "audit", "importer", "status", "system", "users"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoints_hold_no_sql_tables_or_staff_checks(service):
    assert service_py_faults(service) == []


@pytest.mark.parametrize("service", SERVICES)
def test_entrypoints_open_one_unit_of_work(service):
    assert several_units_of_work(service) == SEVERAL_UNITS.get(service, set())


@pytest.mark.parametrize("service", SERVICES)
def test_every_recorded_event_type_is_a_constant_of_events_py(service):
    assert unlisted_event_types(service) == []
    if service in EVENT_TYPES:  # system and users pin theirs in their own test_shape.py
        assert set(event_constants(service).values()) == EVENT_TYPES[service]
