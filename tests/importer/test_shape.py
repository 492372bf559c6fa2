"""The importer service takes the shape every service takes (tests/service_shape.py)."""
from tests.service_shape import event_constants, service_py_faults, unlisted_event_types


def test_service_py_holds_entrypoints_only():
    assert service_py_faults("importer") == []


def test_every_recorded_event_type_is_a_constant_of_events_py():
    assert unlisted_event_types("importer") == []
    assert set(event_constants("importer").values()) == {
        "import_session.created", "import_session.updated", "import_session.fields_accepted",
        "import_session.processed", "import_session.completed", "import_session.failed",
        "import_session.deleted", "column_mapping.updated", "import_row.validated",
        "import_row.stale", "import_row.recomputed", "import_row.updated", "import_row.deleted",
        "import_row.accepted", "import_row.completed"}
