"""`python -m svckit.subscribe` against the running stack: it catches up from the audit log
(`--from` a time, or an event id) while new events keep coming, and switches to its own
durable queue with no gap and no duplicate (with E2E_TOPOLOGY=cluster too, where a
service's event ids commit out of order)."""
import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

from svckit.layout import ROOT
from tests.e2e.test_status_http import create_states


def subscribe(stack, admin, *args) -> subprocess.Popen:
    env = {**stack.env, "SUBSCRIBE_API_URL": stack.url,
           "SUBSCRIBE_API_TOKEN": admin.headers["Authorization"].split()[1]}
    return subprocess.Popen([sys.executable, "-m", "svckit.subscribe", "--types",
                             "custom_state.created", "--services", "status", "--settle", "0.5",
                             "--idle-exit", "1.5", "--delete-queue", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def lines(proc) -> list[dict]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return [json.loads(row) for row in out.splitlines()]


def recorded(admin, pks) -> list[str]:
    events = admin.get(f"{admin.base}/api/events/", timeout=10, params={
        "service": "status", "type": "custom_state.created", "limit": 1000}).json()["results"]
    return sorted((e["id"] for e in events if int(e["stream_id"]) in pks), key=by_seq)


def by_seq(event_id: str) -> int:
    return int(event_id.split(":")[1])


def test_catch_up_then_live_without_gap_or_duplicate(stack, admin):
    start = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    before = create_states(admin, range(760, 766), "tail")
    proc = subscribe(stack, admin, "--from", start)
    during: list[int] = []
    writer = threading.Thread(target=lambda: [  # across the switch-over
        (during.extend(create_states(admin, [key], "tail")), time.sleep(0.15))
        for key in range(766, 778)])
    writer.start()
    writer.join()
    printed = lines(proc)
    ids = [e["id"] for e in printed]
    assert len(ids) == len(set(ids))  # no duplicate
    ours = before + during
    mine = sorted((e["id"] for e in printed if int(e["stream_id"]) in ours), key=by_seq)
    assert mine == recorded(admin, ours) and len(mine) == 18  # no gap
    assert all(e["type"] == "custom_state.created" and e["service"] == "status"
               for e in printed)
    assert set(printed[0]) == {"id", "service", "seq", "stream_type", "stream_id", "version",
                               "type", "payload", "actor", "request_id", "created"}

    # from an event id: every event after it
    third = recorded(admin, before)[2]
    proc = subscribe(stack, admin, "--from", third)
    after = sorted((e["id"] for e in lines(proc) if int(e["stream_id"]) in ours), key=by_seq)
    assert after == recorded(admin, ours)[3:]
    for pk in ours:
        admin.delete(f"{admin.base}/api/generic/status/custom/{pk}/", timeout=10)


def test_bad_arguments_are_refused(stack, admin):
    proc = subprocess.run([sys.executable, "-m", "svckit.subscribe", "--types", "Bad Type"],
                          cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not an event type pattern" in proc.stderr
    proc = subscribe(stack, admin, "--from", "yesterday")
    assert proc.wait(120) == 2 and "neither an event id" in proc.stderr.read()
