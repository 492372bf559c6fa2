"""The audit trail's live feed, history and export end to end (real gunicorn gthread
workers, RabbitMQ, the audit service): a listener sees a custom state's events as they are
recorded and resumes after a dropped connection without gap or duplicate; its history
answers each state as of a time; the export streams the same selection as NDJSON and CSV."""
import csv
import io
import json
import threading
import uuid

import requests

from tests.e2e.conftest import eventually


class Listening:
    """A live-feed listener on a thread: its frames as they arrive."""

    def __init__(self, admin, query: str, last_event_id: str | None = None):
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.response = admin.get(f"{admin.base}/api/events/stream/?{query}", stream=True,
                                  timeout=30, headers=headers)
        assert self.response.status_code == 200, self.response.text
        self.frames: list[dict] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        item: dict = {}
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                if self.stopped:
                    break
                if line == "":
                    if item:
                        self.frames.append(item)
                    item = {}
                elif line.startswith(":"):
                    item["comment"] = line[1:].strip()
                else:
                    name, _, value = line.partition(": ")
                    item[name] = json.loads(value) if name == "data" else value
        except (requests.RequestException, OSError, ValueError):  # the server ended it
            pass
        finally:
            self.response.close()

    def events(self) -> list[dict]:
        return [f["data"] for f in list(self.frames) if "data" in f and "event" not in f]

    def close(self):
        """Stop reading: the reading thread closes the response at its next line, a
        heartbeat at the latest (the stack's EVENTS_STREAM_HEARTBEAT is 1 s); closing it
        from here would be a second read of its buffer."""
        self.stopped = True
        self.thread.join(10)
        assert not self.thread.is_alive()


def create_state_once_open(admin, feed: Listening, name: str, label: str) -> tuple[int, str]:
    """Once `feed` is open, a new custom state: its pk and name."""
    base = admin.base
    model = admin.get(f"{base}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    key = 500 + uuid.uuid4().int % 400
    assert eventually(lambda: feed.frames and feed.frames[0].get("event") == "open", 10)
    created = admin.post(f"{base}/api/generic/status/custom/", timeout=10, json={
        "key": key, "name": f"{name}{key}", "label": label, "logical_key": 10,
        "model": model, "reference_status": "StockStatus"})
    assert created.status_code == 201, created.text
    return created.json()["pk"], f"{name}{key}"


def test_feed_history_and_export_of_one_object(admin):
    base = admin.base
    feed = Listening(admin, "type=custom_state.*")
    try:
        pk, name = create_state_once_open(admin, feed, "feed", "Feed")
        stream = f"custom_state:{pk}"
        assert admin.patch(f"{base}/api/generic/status/custom/{pk}/", json={"label": "Fed"},
                           timeout=10).status_code == 200
        assert admin.delete(f"{base}/api/generic/status/custom/{pk}/",
                            timeout=10).status_code == 204

        def mine():
            return [e for e in feed.events() if f"{e['stream_type']}:{e['stream_id']}" == stream]
        assert eventually(lambda: len(mine()) == 3, 20), feed.frames
    finally:
        feed.close()
    events = mine()
    assert [e["type"] for e in events] == ["custom_state.created", "custom_state.updated",
                                           "custom_state.deleted"]
    pks = [e["pk"] for e in feed.events()]
    assert pks == sorted(set(pks))  # in order, each once

    # resumed after the first event: the two after it, nothing before, nothing twice
    again = Listening(admin, f"stream={stream}", str(events[0]["pk"]))
    try:
        assert eventually(lambda: len(again.events()) >= 2, 10), again.frames
    finally:
        again.close()
    assert [e["pk"] for e in again.events()] == [e["pk"] for e in events[1:]]

    def history(**params):
        return admin.get(f"{base}/api/events/history/", params={"stream": stream, **params},
                         timeout=10)
    after_update = history(at=events[1]["created"]).json()
    assert after_update["exists"] and after_update["state"]["label"] == "Fed"
    assert after_update["state"]["name"] == name and after_update["version"] == 2
    now = history().json()
    assert (now["exists"], now["deleted"], now["events"]) == (False, True, 3)
    assert history(at="2000-01-01T00:00:00Z").json()["exists"] is False
    assert history(stream="custom_state:999999999").status_code == 404
    bad = history(at="whenever")
    assert (bad.status_code, list(bad.json())) == (400, ["at"])

    ndjson = admin.get(f"{base}/api/events/export/", params={
        "format": "ndjson", "stream": stream}, timeout=30)
    assert ndjson.status_code == 200
    assert [json.loads(line)["pk"] for line in ndjson.text.splitlines()] == [
        e["pk"] for e in events]
    table = admin.get(f"{base}/api/events/export/", params={
        "format": "csv", "stream": stream, "type": "*.updated"}, timeout=30)
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["type"] for r in rows] == ["custom_state.updated"]
    assert json.loads(rows[0]["payload"]) == {"label": "Fed"}
    bad = admin.get(f"{base}/api/events/export/?format=pdf", timeout=10)
    assert (bad.status_code, list(bad.json())) == (400, ["format"])
    unknown = admin.get(f"{base}/api/events/?colour=red", timeout=10)
    assert (unknown.status_code, list(unknown.json())) == (400, ["colour"])


def test_feed_without_payloads_live_and_resumed(admin):
    """`payload=false` on the live feed, as on the list: live frames and the catch-up of a
    resumed listener leave the payload out; a value that is not a boolean is a 400 naming
    it."""
    base = admin.base
    for bad in ("maybe", "2", ""):
        refused = admin.get(f"{base}/api/events/stream/", params={"payload": bad}, timeout=10)
        assert refused.status_code == 400, refused.text
        assert refused.json() == {"payload": ["Must be a valid boolean."]}
    feed = Listening(admin, "type=custom_state.created&payload=false")
    try:
        stream_id = str(create_state_once_open(admin, feed, "bare", "Bare")[0])

        def mine():
            return [e for e in feed.events() if e["stream_id"] == stream_id]
        assert eventually(lambda: len(mine()) == 1, 20), feed.frames
    finally:
        feed.close()
    live = mine()[0]
    assert "payload" not in live and live["type"] == "custom_state.created"
    listed = admin.get(f"{base}/api/events/", timeout=10, params={
        "stream": f"custom_state:{stream_id}", "type": "custom_state.created"}).json()
    assert {k: v for k, v in listed["results"][0].items() if k != "payload"} == live
    # resumed from before it: the catch-up read from the trail leaves it out too
    resumed = Listening(admin, f"stream=custom_state:{stream_id}&payload=0",
                        str(live["pk"] - 1))
    try:
        assert eventually(lambda: len(resumed.events()) >= 1, 10), resumed.frames
    finally:
        resumed.close()
    assert resumed.events()[0] == live
