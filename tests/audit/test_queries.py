"""Audit queries (issue 14 item 3): type wildcards and lists, unknown filters and malformed
times named in a 400, always-paged lists, the keyset pages of the export and live feed, and
one object's state as of a time rebuilt from its events."""
import pytest

from services.audit import models
from services.audit.service import Service, record_events
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from tests.helpers import STAFF, USER, worker_factory


def ev(n, type_, stream="custom_state:1", payload=None, service="status", minute=0,
       actor="admin", version=None):
    stream_type, _, stream_id = stream.partition(":")
    return {"id": f"{service}:{n}", "service": service, "seq": n, "stream_type": stream_type,
            "stream_id": stream_id, "version": version or n, "type": type_,
            "payload": payload if payload is not None else {"n": n}, "actor": actor,
            "request_id": f"r{n % 3}", "created": f"2026-11-28T10:{minute:02d}:{n % 60:02d}Z"}


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return worker_factory(Service, db=db, caller=STAFF)


def ids(answer) -> list[str]:
    return [e["id"] for e in answer["results"]]


def test_type_wildcards_and_lists(svc, db):
    record_events(db, [ev(1, "attachment.uploaded", "attachment:1", service="attachments"),
                       ev(2, "attachment.deleted", "attachment:1", service="attachments"),
                       ev(3, "user.created", "user:1", service="users"),
                       ev(4, "user.deleted", "user:1", service="users"),
                       ev(5, "notes_image.uploaded", "notes_image:1", service="attachments"),
                       ev(6, "attachment_x.created", "a:1", service="attachments")], b"k")
    assert ids(svc.list_events(params={"type": "attachment.*"})) == [
        "attachments:1", "attachments:2"]
    assert ids(svc.list_events(params={"type": "attachment.*,user.created"})) == [
        "attachments:1", "attachments:2", "users:3"]
    assert ids(svc.list_events(params={"type": "*.deleted"})) == [
        "attachments:2", "users:4"]
    # `_` and `%` are plain characters, not SQL wildcards
    assert ids(svc.list_events(params={"type": "attachment_*"})) == ["attachments:6"]
    assert ids(svc.list_events(params={"type": "attachment%"})) == []
    assert ids(svc.list_events(params={"type": "ATTACHMENT.*"})) == []  # case matters
    assert ids(svc.list_events(params={"type": "user.*eated"})) == ["users:3"]
    assert ids(svc.list_events(params={"type": "\ud7ff*"})) == []
    assert ids(svc.list_events(params={"stream": "user:1", "request_id": "r0,r2"})) == [
        "users:3"]
    assert ids(svc.list_events(params={"stream": "user", "stream_type": "attachment"})) == []


@pytest.mark.parametrize("params,field", [
    ({"colour": "red"}, "colour"), ({"after": "yesterday"}, "after"),
    ({"before": "2026-13-01"}, "before"), ({"stream": ":3"}, "stream"),
    ({"after": "2026-11-28T10:00:00Z", "before": "2026-11-28T09:00:00Z"}, "before"),
    ({"type": ",".join(f"t{n}" for n in range(101))}, "type"),
    ({"after": "0001-01-01T00:00:00+01:00"}, "after"),
    ({"limit": "1001"}, "limit"), ({"limit": "x"}, "limit")])
def test_bad_queries_name_the_field(svc, params, field):
    with pytest.raises(ValidationFailed) as caught:
        svc.list_events(params=params)
    assert list(caught.value.detail) == [field]


def test_lists_are_always_paged(db):
    from services.audit.settings import AuditSettings
    record_events(db, [ev(n, "custom_state.updated") for n in range(1, 8)], b"k")
    svc = worker_factory(Service, db=db, caller=STAFF,
                         settings=AuditSettings(EVENTS_PAGE_SIZE=3, EVENTS_MAX_LIMIT=5))
    answer = svc.list_events(params={})
    assert (answer["count"], answer["limit"], len(answer["results"])) == (7, 3, 3)
    assert len(svc.list_events(params={"limit": "0"})["results"]) == 3
    with pytest.raises(ValidationFailed):
        svc.list_events(params={"limit": "6"})
    capped = worker_factory(Service, db=db, caller=STAFF, settings=AuditSettings(
        EVENTS_COUNT_MAX=4)).list_events(params={"limit": "2", "offset": "2"})
    assert (capped["count"], capped["count_capped"], ids(capped)) == (
        4, True, ["status:3", "status:4"])
    assert "count_capped" not in svc.list_events(params={"stream": "custom_state:1"})


def test_keyset_pages_cover_a_selection_once(svc, db):
    record_events(db, [ev(n, "custom_state.updated" if n % 2 else "token.seen",
                          service="status" if n % 2 else "users") for n in range(1, 12)],
                  b"k")
    seen, after = [], 0
    while True:
        page = svc.events_after(params={"type": "custom_state.*"}, after=after, limit=2)
        seen += ids(page)
        assert page["last"] >= after
        after = page["last"]
        if not page["more"]:
            break
    assert seen == [f"status:{n}" for n in range(1, 12, 2)]
    assert svc.latest_event_id() == 11
    with pytest.raises(ValidationFailed) as caught:
        svc.events_after(params={"nope": "1"}, after=0, limit=10)
    assert list(caught.value.detail) == ["nope"]
    for after, limit, field in (("x", 1, "after"), (-1, 1, "after"), (0, 0, "limit"),
                                (0, 10**9, "limit")):
        with pytest.raises(ValidationFailed) as caught:
            svc.events_after(params={}, after=after, limit=limit)
        assert list(caught.value.detail) == [field]


def test_keyset_pages_stay_under_their_byte_bound(svc, db, monkeypatch):
    from services.audit import feed
    monkeypatch.setattr(feed, "PAGE_BYTES", 3000)
    record_events(db, [ev(n, "error.logged", "error:1", {"data": "x" * 1000})
                       for n in range(1, 8)], b"k")
    page = svc.events_after(params={}, after=0, limit=100)
    assert len(page["results"]) == 2 and page["more"]
    huge = svc.events_after(params={"after": "2026-11-28T10:00:03Z"}, after=0, limit=1)
    assert ids(huge) == ["status:3"]


def test_history_rebuilds_state_as_of_a_time(svc, db):
    record_events(db, [
        ev(1, "custom_state.created", payload={"name": "A", "color": "red"}, minute=1),
        ev(2, "custom_state.updated", payload={"color": "blue"}, minute=2),
        ev(3, "custom_state.deleted", payload={"key": 1}, minute=3),
        ev(4, "custom_state.updated", payload={"color": "ghost"}, minute=4),
        ev(5, "custom_state.created", payload={"name": "B"}, minute=5),
        ev(6, "custom_state.created", "custom_state:2", minute=6)], b"k")

    def at(time):
        return svc.event_history(params={"stream": "custom_state:1", "at": time})

    early = at("2026-11-28T10:00:00Z")
    assert (early["exists"], early["state"], early["events"]) == (False, None, 0)
    first = at("2026-11-28T10:01:30Z")
    assert first["state"] == {"name": "A", "color": "red"} and first["version"] == 1
    second = at("2026-11-28T10:02:30+00:00")
    assert second["state"] == {"name": "A", "color": "blue"}
    assert second["last_event"]["id"] == "status:2"
    gone = at("2026-11-28T10:04:30Z")
    assert (gone["exists"], gone["deleted"], gone["state"]) == (False, True, None)
    now = svc.event_history(params={"stream": "custom_state:1"})
    assert now["state"] == {"name": "B"} and now["events"] == 5 and now["exists"]
    assert now["created"] == "2026-11-28T10:01:01Z"


def test_history_bad_input(svc, db):
    record_events(db, [ev(1, "custom_state.created")], b"k")
    with pytest.raises(NotFound):
        svc.event_history(params={"stream": "custom_state:99"})
    for params, field in (({}, "stream"), ({"stream": "custom_state"}, "stream"),
                          ({"stream": "custom_state:1", "at": "soon"}, "at"),
                          ({"stream": "custom_state:1", "when": "x"}, "when")):
        with pytest.raises(ValidationFailed) as caught:
            svc.event_history(params=params)
        assert list(caught.value.detail) == [field]
    plain = worker_factory(Service, db=db, caller=USER)
    for call in (lambda: plain.event_history(params={"stream": "custom_state:1"}),
                 lambda: plain.events_after(params={}, after=0, limit=1),
                 plain.latest_event_id):
        with pytest.raises(PermissionDenied):
            call()


def test_payloads_left_out_on_request(svc, db):
    record_events(db, [ev(1, "import_row.validated", "import_row:1", service="importer",
                          payload={"rows": ["x" * 1000] * 50}),
                       ev(2, "user.created", "user:1", service="users")], b"k")
    whole = svc.list_events(params={"ordering": "-id", "limit": "10"})
    for value in ("false", "False", "0"):
        bare = svc.list_events(params={"ordering": "-id", "limit": "10", "payload": value})
        assert [{k: v for k, v in e.items() if k != "payload"} for e in whole["results"]] \
            == bare["results"]
        assert all("payload" not in e for e in bare["results"])
        assert bare["count"] == whole["count"] == 2
    assert svc.list_events(params={"limit": "10", "payload": "true"}) == svc.list_events(
        params={"limit": "10"})
    # one event's payload, asked for by its id
    one = svc.list_events(params={"event_id": "importer:1", "limit": "1"})["results"]
    assert one[0]["payload"] == {"rows": ["x" * 1000] * 50}
    with pytest.raises(ValidationFailed) as refused:
        svc.list_events(params={"payload": "maybe"})
    assert refused.value.detail == {"payload": ["Must be a valid boolean."]}
