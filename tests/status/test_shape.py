"""The status service takes the shape every service takes (tests/service_shape.py)."""
from tests.service_shape import event_constants, service_py_faults, unlisted_event_types


def test_service_py_holds_entrypoints_only():
    assert service_py_faults("status") == []


def test_every_recorded_event_type_is_a_constant_of_events_py():
    assert unlisted_event_types("status") == []
    assert set(event_constants("status").values()) == {
        "custom_state.created", "custom_state.updated", "custom_state.deleted"}
