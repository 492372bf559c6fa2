"""The audit service records each event once, and lists them with filters."""
import pytest

from services.audit import models
from services.audit.service import Service, record_events
from svckit.errors import PermissionDenied
from tests.helpers import STAFF, USER, worker_factory


def event(n, type_="custom_state.created", service="status"):
    return {"id": f"{service}:{n}", "service": service, "seq": n, "stream_type": "custom_state",
            "stream_id": str(n), "version": 1, "type": type_, "payload": {"n": n},
            "actor": "admin", "request_id": f"r{n}", "created": f"2026-11-28T10:00:0{n}Z"}


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller)


def test_redelivered_events_are_recorded_once(svc, db):
    for n in (1, 1, 2, 3, 2):
        record_events(db, [event(n)], b"key")
    listed = svc().list_events(params={})["results"]
    assert [e["id"] for e in listed] == ["status:1", "status:2", "status:3"]


def test_filters_and_permissions(svc, db):
    record_events(db, [event(1)], b"key")
    record_events(db, [event(2, "token.revoked", "users")], b"key")
    assert [e["id"] for e in svc().list_events(params={"service": "users"})["results"]] == ["users:2"]
    assert [e["id"] for e in svc().list_events(
        params={"after": "2026-11-28T10:00:02Z"})["results"]] == ["users:2"]
    assert svc().list_events(params={"stream": "custom_state:1", "limit": "5"})["count"] == 1
    with pytest.raises(PermissionDenied):
        svc(USER).list_events(params={})
