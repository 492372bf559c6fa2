"""Error reports and notifications through the system service's entrypoints."""
import pytest

from services.system import models
from services.system.service import Service
from svckit.context import Caller
from svckit.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from tests.helpers import ANON, STAFF, USER, worker_factory

OTHER_STAFF = Caller(user_id=5, username="ops", is_staff=True)


class Users:
    def staff_user_ids(self):
        return [1, 5]


def error_event(n: int, line: int | None = None, path="/api/explode/",
                info="division by zero") -> dict:
    """The n-th `error.logged` event; raised at `line` (by default n: a different error
    each time)."""
    line = n if line is None else line
    return {"id": f"gateway:{n}", "service": "gateway", "type": "error.logged",
            "payload": {"kind": "ZeroDivisionError", "info": info, "path": path,
                        "data": f'Traceback (most recent call last):\n  File "gateway/x.py", '
                                f'line {line}, in explode\n    1 / 0\nZeroDivisionError: {info}'},
            "actor": "admin", "request_id": f"r{n}"}


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller, users=Users())


def test_an_error_event_becomes_one_report_and_notifies_staff_once(svc):
    svc().on_error_logged(error_event(1))
    svc().on_error_logged(error_event(1))  # redelivered: applied once
    listed = svc().list_error_reports(params={})["results"]
    assert len(listed) == 1
    assert set(listed[0]) == {"pk", "when", "info", "data", "path"}
    assert listed[0]["path"] == "/api/explode/" and listed[0]["info"] == "division by zero"
    notes = svc().list_notifications(params={})["results"]
    assert [(n["category"], n["name"], n["message"]) for n in notes] == [
        ("inventree.error_log", "Server Error", "An error has been logged by the server.")]
    assert len(svc(OTHER_STAFF).list_notifications(params={})["results"]) == 1
    assert svc(USER).list_notifications(params={})["results"] == []


def test_identical_errors_are_one_report_and_one_notification_per_staff_user(svc):
    for n in range(50):  # the same failure, caused by different requests
        svc().on_error_logged(error_event(n, line=7, path=f"/api/explode/{n}/",
                                          info=f"division by zero ({n})"))
    svc().on_error_logged(error_event(20, line=7))  # a redelivery counts once
    listed = svc().list_error_reports(params={})["results"]
    assert len(listed) == 1
    assert set(listed[0]) == {"pk", "when", "info", "data", "path"}
    assert listed[0]["path"] == "/api/explode/0/"
    assert listed[0]["info"].startswith("division by zero (0) (occurred 50 times since ")
    assert svc().get_error_report(pk=listed[0]["pk"]) == listed[0]
    for staff in (STAFF, OTHER_STAFF):
        notes = svc(staff).list_notifications(params={})["results"]
        assert len(notes) == 1 and notes[0]["name"] == "Server Error"
    svc().on_error_logged(error_event(99, line=8))  # another failure: its own report
    assert len(svc().list_error_reports(params={})["results"]) == 2
    assert len(svc(OTHER_STAFF).list_notifications(params={})["results"]) == 2


def test_reports_are_capped_in_size(svc):
    event = error_event(1)
    event["payload"].update(info="i" * 5000, data="d" * 30000 + "the end")
    svc().on_error_logged(event)
    report = svc().list_error_reports(params={})["results"][0]
    assert len(report["info"]) == 1000 and len(report["data"]) == 10000
    assert report["data"].endswith("the end")


def test_report_permissions_and_read_only_updates(svc):
    svc().on_error_logged(error_event(1))
    with pytest.raises(PermissionDenied):
        svc(USER).list_error_reports(params={})
    report = svc().list_error_reports(params={})["results"][0]
    assert svc().update_error_report(pk=report["pk"], data={"info": "changed"}) == report
    svc().delete_error_report(pk=report["pk"])
    assert svc().list_error_reports(params={})["results"] == []


def test_bulk_delete_messages(svc):
    for n in range(3):
        svc().on_error_logged(error_event(n))
    bulk = svc().bulk_delete_error_reports
    cases = [({}, {"non_field_errors": ["List of items or filters must be provided for bulk deletion"]}),
             ({"items": 5}, {"items": ["'items' must be supplied as a list object"]}),
             ({"filters": [1]}, {"filters": ["'filters' must be supplied as a dict object"]}),
             ({"items": ["x"]}, {"non_field_errors": "Invalid items list provided"}),
             ({"filters": {"data__contains": "x"}}, {"non_field_errors": "Invalid filters provided"}),
             ({"items": [99]}, {"non_field_errors": "No items found to delete"})]
    for body, expected in cases:
        with pytest.raises(ValidationFailed) as info:
            bulk(body=body)
        assert info.value.detail == expected, body
    assert bulk(body={"items": [1, 2]}) == 2
    assert bulk(body={"filters": {"path": "/api/explode/"}}) == 1


def test_notifications_own_only(svc):
    for n in range(3):
        svc().on_error_logged(error_event(n))
    mine = svc().list_notifications(params={})["results"]
    theirs = svc(OTHER_STAFF).list_notifications(params={})["results"]
    with pytest.raises(PermissionDenied):
        svc().get_notification(pk=theirs[0]["pk"])
    patched = svc().update_notification(pk=mine[0]["pk"], data={"read": True, "name": "x"},
                                        partial=True)
    assert patched["read"] is True and patched["name"] == "Server Error"
    assert len(svc().list_notifications(params={"read": "true"})["results"]) == 1
    assert svc().read_all_notifications() == {"status": "ok"}
    assert len(svc().list_notifications(params={"read": "false"})["results"]) == 0
    assert svc().bulk_delete_notifications(body={"filters": {"read": True}}) == 3
    assert len(svc(OTHER_STAFF).list_notifications(params={})["results"]) == 3
    with pytest.raises(NotAuthenticated):
        svc(ANON).read_all_notifications()


def test_replay_rebuilds_reports_and_notifications(svc, db):
    svc().on_error_logged(error_event(1))
    svc().on_error_logged(error_event(2, line=1))  # counted on the first one's report
    svc().read_all_notifications()

    def lists():  # without `age` and `age_human`, which tick on between the two reads
        notes = svc().list_notifications(params={})
        notes["results"] = [{k: v for k, v in n.items() if not k.startswith("age")}
                            for n in notes["results"]]
        return svc().list_error_reports(params={}), notes

    before = lists()
    assert "(occurred 2 times since " in before[0]["results"][0]["info"]
    assert before[1]["results"] and "creation" in before[1]["results"][0]
    with db.write() as s:
        for table in models.projector.tables:
            s.execute(table.delete())
        models.store.replay(s)
    assert lists() == before
