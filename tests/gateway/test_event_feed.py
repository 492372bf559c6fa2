"""The audit trail's history, export and live feed through the gateway, over a fake audit
service that pages an in-memory trail by keyset as the real one does (services.audit.feed):
the export pulls pages by `after`, never by offset, and neutralises formulas in CSV; the
live feed resumes from Last-Event-ID without gap or duplicate, cuts off a listener whose
buffer overflows (telling it where to resume), caps its listeners, and refuses bad input."""
import csv
import io
import json
import threading
import time

import pytest

from gateway.resources import eventfeed
from services.audit import eventlines
from svckit import eventfilter
from svckit.errors import NotFound
from tests.gateway.fakerpc import PLAIN, FakeRpc, make_app, request


class Trail:
    """An audit trail in memory, answering `events_after`, `export_page` (its text rendered
    as the audit service renders it, services.audit.eventlines) and `latest_event_id`."""

    def __init__(self, count=0):
        self.rows: list[dict] = []
        self.lock = threading.Lock()
        self.add(count)

    def add(self, count, **fields):
        with self.lock:
            for _ in range(count):
                pk = len(self.rows) + 1
                self.rows.append({"pk": pk, "id": f"status:{pk}", "service": "status",
                                  "seq": pk, "stream_type": "custom_state",
                                  "stream_id": str(pk), "version": 1,
                                  "type": "custom_state.created", "payload": {"n": pk},
                                  "actor": "admin", "request_id": "r",
                                  "created": "2026-11-28T10:00:00Z", **fields})

    def events_after(self, params, after, limit):
        selection = eventfilter.parse(params)
        with self.lock:
            rows = [r for r in self.rows if r["pk"] > after and selection.matches(r)]
        page = rows[:limit]
        return {"results": page, "last": page[-1]["pk"] if page else after,
                "more": len(rows) > limit}

    def export_page(self, params, after, limit, format):
        page = self.events_after(params, after, limit)
        rows = [(*(r[n] for n in eventlines.CSV_COLUMNS[:-2]), eventlines.line(r))
                for r in page["results"]]
        if format == "ndjson":
            text = eventlines.ndjson([(row[0], row[-1]) for row in rows])
        else:
            text = (eventlines.CSV_HEADER if after == 0 else "") + eventlines.csv_rows(rows)
        return {"text": text, "events": len(rows), "last": page["last"], "more": page["more"]}

    def latest_event_id(self):
        with self.lock:
            return len(self.rows)


@pytest.fixture
def gateway(tmp_path):
    def make(trail, caller=None, **settings):
        rpc = FakeRpc({"events_after": trail.events_after, "export_page": trail.export_page,
                       "latest_event_id": trail.latest_event_id}, caller)
        return make_app(rpc, tmp_path / "media", **settings), rpc
    return make


def test_history_is_the_audit_services_answer(tmp_path):
    rpc = FakeRpc({"event_history": lambda params: {"stream": params["stream"], "state": {}}})
    app = make_app(rpc, tmp_path)
    answer = request(app, "GET", "/api/events/history/?stream=custom_state:1&at=2026-11-28")
    assert answer.status == 200 and answer.json["stream"] == "custom_state:1"
    assert rpc.calls[-1] == ("audit", "event_history", {
        "params": {"stream": "custom_state:1", "at": "2026-11-28"}})
    rpc.answers["event_history"] = NotFound({"detail": "No events recorded for x:1."})
    assert request(app, "GET", "/api/events/history/?stream=x:1").status == 404
    plain = make_app(FakeRpc(caller=PLAIN), tmp_path)
    assert request(plain, "GET", "/api/events/history/?stream=x:1").status == 403


def test_export_pages_by_keyset_in_either_format(gateway):
    trail = Trail(7)
    trail.add(2, type="token.seen", service="users")
    app, rpc = gateway(trail, EVENTS_EXPORT_PAGE=3)
    answer = request(app, "GET", "/api/events/export/?format=ndjson&type=custom_state.*")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    assert "attachment" in answer.headers["content-disposition"]
    lines = [json.loads(line) for line in answer.body.decode().splitlines()]
    assert [e["pk"] for e in lines] == [1, 2, 3, 4, 5, 6, 7]
    assert [c[2]["after"] for c in rpc.calls] == [0, 3, 6]  # keyset, one page at a time
    assert all(c[2]["params"] == {"type": "custom_state.*"} for c in rpc.calls)

    table = request(app, "GET", "/api/events/export/?format=csv&service=users")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(table.body.decode())))
    assert rows[0] == ["pk", "id", "service", "seq", "stream_type", "stream_id", "version",
                       "type", "actor", "request_id", "created", "payload"]
    assert len(rows) == 3 and rows[1][:4] == ["8", "status:8", "users", "8"]
    assert rows[1][10] == "2026-11-28T10:00:00Z"
    assert json.loads(rows[1][-1]) == {"n": 8}
    empty = request(app, "GET", "/api/events/export/?format=csv&service=none")
    assert empty.body.decode() == ",".join(rows[0]) + "\r\n"


def test_export_neutralises_formulas_in_csv(gateway):
    trail = Trail()
    trail.add(1, actor="=HYPERLINK(\"http://x\")", request_id="+1+2", stream_id="-3",
              type="@SUM(A1)", payload={"a": "=1"})
    app, _ = gateway(trail)
    rows = list(csv.reader(io.StringIO(request(
        app, "GET", "/api/events/export/?format=csv").body.decode())))
    row = dict(zip(rows[0], rows[1]))
    assert row["actor"] == "'=HYPERLINK(\"http://x\")"
    assert row["request_id"] == "'+1+2" and row["type"] == "'@SUM(A1)"
    assert row["stream_id"] == "-3"  # a plain number stays one
    ndjson = request(app, "GET", "/api/events/export/?format=ndjson").body
    assert json.loads(ndjson)["actor"] == "=HYPERLINK(\"http://x\")"  # JSON is not a sheet


@pytest.mark.parametrize("query,status,field", [
    ("format=xml", 400, "format"), ("", 400, "format"), ("format=csv&colour=red", 400, "colour"),
    ("format=csv&after=noon", 400, "after"), ("format=csv&limit=5", 400, "limit")])
def test_export_bad_input(gateway, query, status, field):
    app, rpc = gateway(Trail(1))
    answer = request(app, "GET", f"/api/events/export/?{query}")
    assert (answer.status, list(answer.json)) == (status, [field])
    assert rpc.calls == []


def test_export_and_feed_are_staff_only(gateway):
    app, rpc = gateway(Trail(1), caller=PLAIN)
    assert request(app, "GET", "/api/events/export/?format=csv").status == 403
    assert request(app, "GET", "/api/events/stream/").status == 403
    assert rpc.calls == []


def frames(body: bytes) -> list[dict]:
    """The SSE answer as a list of frames: {"id", "event", "data"} or {"comment"}."""
    out = []
    for block in body.decode().split("\n\n"):
        if not block:
            continue
        item: dict = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                item["comment"] = line[1:].strip()
            else:
                name, _, value = line.partition(": ")
                item[name] = json.loads(value) if name == "data" else value
        out.append(item)
    return out


def events_of(items) -> list[int]:
    return [int(f["id"]) for f in items if "data" in f and "event" not in f]


def test_feed_resumes_without_gap_or_duplicate(gateway):
    trail = Trail(5)
    app, _ = gateway(trail, EVENTS_STREAM_MAX_SECONDS=1.0, EVENTS_STREAM_POLL=0.02,
                     EVENTS_STREAM_HEARTBEAT=0.3)
    adder = threading.Timer(0.3, lambda: trail.add(3))
    adder.start()
    answer = request(app, "GET", "/api/events/stream/", headers={"Last-Event-ID": "2"})
    adder.join()
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    items = frames(answer.body)
    assert items[0]["event"] == "open" and items[0]["id"] == "2"
    assert events_of(items) == [3, 4, 5, 6, 7, 8]
    assert {"comment": "heartbeat"} in items
    assert items[-1]["event"] == "end" and items[-1]["data"]["last_event_id"] == 8
    # filtered, and started from now: only what comes after, of the accepted type
    adder = threading.Timer(0.2, lambda: (trail.add(2, type="token.seen"), trail.add(1)))
    adder.start()
    later = frames(request(app, "GET", "/api/events/stream/?type=custom_state.*").body)
    adder.join()
    assert later[0]["id"] == "8" and events_of(later) == [11]


def test_a_slow_listener_is_cut_off_and_resumes(gateway):
    trail = Trail(0)
    app, _ = gateway(trail, EVENTS_STREAM_BUFFER=3, EVENTS_STREAM_MAX_SECONDS=1.0,
                     EVENTS_STREAM_POLL=0.02)
    feed = eventfeed.feed_of(app.api)
    listener, head = feed.subscribe(eventfilter.parse({}))  # a listener that never reads
    trail.add(5)
    deadline = time.monotonic() + 5
    while not listener.overflowed and time.monotonic() < deadline:
        time.sleep(0.01)
    stream = eventfeed.Stream(app.api).stream(listener, head, None, None, True)
    items = frames(b"".join(stream))
    assert events_of(items) == [1, 2, 3]
    assert items[-1]["event"] == "overflow"
    assert "EVENTS_STREAM_BUFFER" in items[-1]["data"]["detail"]
    feed.unsubscribe(listener)
    resumed = frames(request(app, "GET", "/api/events/stream/",
                             headers={"Last-Event-ID": "3"}).body)
    assert events_of(resumed) == [4, 5]


def test_listeners_are_capped_per_process(gateway):
    trail = Trail(0)
    app, _ = gateway(trail, EVENTS_STREAM_MAX_LISTENERS=1, EVENTS_STREAM_MAX_SECONDS=0.6)
    first = threading.Thread(target=request, args=(app, "GET", "/api/events/stream/"))
    first.start()
    feed = eventfeed.feed_of(app.api)
    deadline = time.monotonic() + 5
    while feed.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = request(app, "GET", "/api/events/stream/")
    first.join()
    assert busy.status == 503 and busy.headers["retry-after"] == "5"
    assert "EVENTS_STREAM_MAX_LISTENERS" in busy.json["detail"]
    assert feed.count() == 0
    # never every thread of a worker
    assert eventfeed.max_listeners(app.api.settings.model_copy(
        update={"EVENTS_STREAM_MAX_LISTENERS": 50, "GATEWAY_THREADS": 8})) == 7


@pytest.mark.parametrize("query,headers,field", [
    ("colour=red", {}, "colour"), ("before=later", {}, "before"),
    ("", {"Last-Event-ID": "abc"}, "Last-Event-ID"), ("last_event_id=-1", {}, "last_event_id")])
def test_feed_bad_input(gateway, query, headers, field):
    app, rpc = gateway(Trail(1))
    answer = request(app, "GET", f"/api/events/stream/?{query}", headers=headers)
    assert (answer.status, list(answer.json)) == (400, [field])
    assert eventfeed.feed_of(app.api).count() == 0


def test_an_answer_closed_before_it_started_ends_its_listener(gateway):
    """A client gone before the first frame: the server closes the answer unstarted."""
    from falcon import testing
    app, _ = gateway(Trail(1))
    env = testing.create_environ(path="/api/events/stream/", headers={"Authorization": "Token t"})
    answer = app(env, testing.StartResponseMock())
    feed = eventfeed.feed_of(app.api)
    assert feed.count() == 1
    answer.close()
    assert feed.count() == 0
