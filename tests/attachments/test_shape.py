"""The attachments service takes the shape every service takes (tests/service_shape.py)."""
from tests.service_shape import event_constants, service_py_faults, unlisted_event_types


def test_service_py_holds_entrypoints_only():
    assert service_py_faults("attachments") == []


def test_every_recorded_event_type_is_a_constant_of_events_py():
    assert unlisted_event_types("attachments") == []
    assert set(event_constants("attachments").values()) == {
        "attachment.uploaded", "attachment.linked", "attachment.updated", "attachment.renamed",
        "attachment.deleted", "notes_image.uploaded", "notes_image.deleted"}
