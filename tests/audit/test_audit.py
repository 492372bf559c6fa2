"""The audit service records each event once, and lists them with filters."""
import json

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


def test_recorded_rows_read_back_as_sqlalchemy_writes_them(svc, db):
    """The batch insert goes straight to the driver (services.audit.trail_rows): times
    on a whole second and with microseconds filter as bound times do (SQLite compares
    the stored text), payloads read back as JSON and the export's line is the list's
    event."""
    on_second = {**event(1), "created": "2026-11-28T10:00:00Z",
                 "payload": {"b": [1, 2.5, None], "a": "é \"q\"", "n": {"x": True}}}
    later = {**event(2), "created": "2026-11-28T10:00:00.000001Z"}
    record_events(db, [on_second, later], b"key")
    listed = svc().list_events(params={"after": "2026-11-28T10:00:00Z"})["results"]
    assert [e["id"] for e in listed] == ["status:1", "status:2"]
    assert listed[0]["created"] == "2026-11-28T10:00:00Z"
    assert listed[0]["payload"] == on_second["payload"]
    assert [e["id"] for e in svc().list_events(
        params={"before": "2026-11-28T10:00:00.000001Z"})["results"]] == ["status:1"]
    assert [e["id"] for e in svc().list_events(
        params={"after": "2026-11-28T10:00:00.000001Z"})["results"]] == ["status:2"]
    page = svc().export_page(params={}, after=0, limit=10, format="ndjson")
    first = json.loads(page["text"].splitlines()[0])
    assert first == listed[0]
