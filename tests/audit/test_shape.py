"""The audit service takes the shape every service takes (tests/service_shape.py); it
records no events of its own, so it has no events.py and no module records one."""
from tests.service_shape import event_constants, service_py_faults, unlisted_event_types


def test_service_py_holds_entrypoints_only():
    assert service_py_faults("audit") == []


def test_it_records_no_events_of_its_own():
    assert event_constants("audit") == {}
    assert unlisted_event_types("audit") == []
