"""Audit queries (issue 14 item 3): type wildcards and lists, unknown filters and malformed
times named in a 400, always-paged lists, the keyset pages of the export and live feed, and
one object's state as of a time rebuilt from its events."""
import csv
import io
import json

import pytest
from sqlalchemy import update

from services.audit import eventlines, models
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
    counting = worker_factory(Service, db=db, caller=STAFF,
                              settings=AuditSettings(EVENTS_COUNT_MAX=4))
    capped = counting.list_events(params={"limit": "2", "offset": "1"})
    assert (capped["count"], capped["count_capped"], ids(capped)) == (
        4, True, ["status:2", "status:3"])
    # past the cap, the count goes just beyond the page: a next page is still announced
    later = counting.list_events(params={"limit": "2", "offset": "3"})
    assert (later["count"], later["count_capped"], ids(later)) == (
        6, True, ["status:4", "status:5"])
    last = counting.list_events(params={"limit": "2", "offset": "5"})
    assert (last["count"], ids(last)) == (7, ["status:6", "status:7"])
    assert "count_capped" not in last
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
                 lambda: plain.export_page(params={}, after=0, limit=1, format="csv"),
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


def test_the_feeds_pages_leave_payloads_out_on_request(svc, db):
    """`events_after` (the live feed's catch-up) takes the list's `payload` as the list
    does: false, False or 0 leave it out; anything else is a 400 naming it."""
    record_events(db, [ev(n, "custom_state.created", payload={"rows": ["x" * 100] * n})
                       for n in range(1, 6)], b"k")
    whole = svc.events_after(params={"type": "custom_state.*"}, after=0, limit=3)
    assert whole["results"][2]["payload"] == {"rows": ["x" * 100] * 3}
    for value in ("false", "False", "0"):
        bare = svc.events_after(params={"type": "custom_state.*", "payload": value},
                                after=0, limit=3)
        assert bare["results"] == [{k: v for k, v in e.items() if k != "payload"}
                                   for e in whole["results"]]
        assert (bare["last"], bare["more"]) == (whole["last"], whole["more"]) \
            == (whole["results"][-1]["pk"], True)
    assert svc.events_after(params={"payload": "1"}, after=0, limit=3) == svc.events_after(
        params={}, after=0, limit=3)
    with pytest.raises(ValidationFailed) as refused:
        svc.events_after(params={"payload": "maybe"}, after=0, limit=3)
    assert refused.value.detail == {"payload": ["Must be a valid boolean."]}


def test_wildcard_pages_in_either_order_with_offsets(svc, db):
    kinds = ["attachment.uploaded", "attachment.deleted", "user.created", "attachment.renamed"]
    record_events(db, [ev(n, kinds[n % 4], service="attachments") for n in range(1, 30)],
                  b"k")
    wanted = [f"attachments:{n}" for n in range(1, 30) if n % 4 != 2]
    assert ids(svc.list_events(params={"type": "attachment.*", "limit": "1000"})) == wanted
    for offset in (0, 3, 18, 30):
        page = svc.list_events(params={"type": "attachment.*", "limit": "4",
                                       "offset": str(offset)})
        assert ids(page) == wanted[offset:offset + 4] and page["count"] == len(wanted)
        newest = svc.list_events(params={"type": "attachment.*,user.created", "limit": "4",
                                         "offset": str(offset), "ordering": "-id"})
        assert ids(newest) == [f"attachments:{n}" for n in range(29, 0, -1)][offset:offset + 4]
    by_type = svc.list_events(params={"type": "attachment.*", "ordering": "type,id"})
    assert [e["type"] for e in by_type["results"]] == sorted(
        e["type"] for e in by_type["results"])
    assert ids(svc.list_events(params={"type": "nothing.*"})) == []
    # a type recorded later is found by the same wildcard
    record_events(db, [ev(40, "attachment.moved", service="attachments")], b"k")
    assert ids(svc.list_events(params={"type": "attachment.m*"})) == ["attachments:40"]


def export(svc, params, fmt, limit=3):
    texts, after = [], 0
    while True:
        page = svc.export_page(params=params, after=after, limit=limit, format=fmt)
        texts.append(page["text"])
        assert page["events"] == len(page["text"].splitlines()) - (
            1 if fmt == "csv" and after == 0 else 0)
        after = page["last"]
        if not page["more"]:
            return "".join(texts)


def test_export_pages_are_the_listed_events_as_text(svc, db):
    record_events(db, [ev(n, "custom_state.updated" if n % 2 else "token.seen",
                          payload={"z": n, "a": [n, "é"], "label": f"=x{n}"},
                          service="status" if n % 2 else "users") for n in range(1, 12)],
                  b"k")
    listed = svc.list_events(params={"type": "custom_state.*,token.*", "limit": "100"})
    lines = [json.loads(line) for line in export(svc, {"type": "custom_state.*,token.*"},
                                                 "ndjson").splitlines()]
    assert lines == listed["results"]
    assert list(lines[0]) == ["pk", "id", "service", "seq", "stream_type", "stream_id",
                              "version", "type", "actor", "request_id", "created", "payload"]
    rows = list(csv.reader(io.StringIO(export(svc, {"service": "users"}, "csv"))))
    assert rows[0] == list(eventlines.CSV_COLUMNS) and len(rows) == 6
    users = [e for e in listed["results"] if e["service"] == "users"]
    assert [r[0] for r in rows[1:]] == [str(e["pk"]) for e in users]
    assert rows[1][10] == users[0]["created"]
    assert json.loads(rows[1][11]) == users[0]["payload"]  # sorted keys, as JSON
    assert rows[1][11].startswith('{"a":[2,"é"],"label":"=x2","z":2}')
    with pytest.raises(ValidationFailed) as caught:
        svc.export_page(params={}, after=0, limit=10, format="pdf")
    assert list(caught.value.detail) == ["format"]


def test_export_neutralises_formulas_and_renders_rows_without_lines(svc, db):
    record_events(db, [ev(1, "custom_state.created", "custom_state:-3", actor="=cmd|x",
                          payload={"a": "=1"})], b"k")
    record_events(db, [{**ev(2, "custom_state.updated"), "request_id": "@SUM(A1)"}], b"k")
    fresh = export(svc, {}, "csv")
    ndjson = export(svc, {}, "ndjson")
    with db.write() as s:  # as rows recorded before revision 0007 are
        s.execute(update(models.audit_events).values(line=None))
    assert export(svc, {}, "csv") == fresh and export(svc, {}, "ndjson") == ndjson
    rows = [dict(zip(eventlines.CSV_COLUMNS, r))
            for r in list(csv.reader(io.StringIO(fresh)))[1:]]
    assert rows[0]["actor"] == "'=cmd|x" and rows[0]["stream_id"] == "-3"
    assert rows[1]["request_id"] == "'@SUM(A1)" and json.loads(rows[0]["payload"]) == {"a": "=1"}
    assert json.loads(ndjson.splitlines()[0])["actor"] == "=cmd|x"
