"""The audit page's live view over the Server-Sent Events feed (`GET /api/events/stream/`) and
an object's state as of a time (`GET /api/events/history/`), in a real browser against the
whole stack: a new event arrives over the feed with no list request; after the gateway's
workers are killed the page reconnects with the last event's id as `Last-Event-ID` and
receives what was recorded meanwhile, once; while the gateway refuses the feed (every
listener slot taken by real listeners) the page polls the list and says so, and takes the
feed again once a slot is free; an object's state shows as of now and as of an earlier
event, and an event's payload is asked for when it is unfolded; all of it by keyboard
too."""
import os
import signal
import time
import uuid

import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN
from tests.e2e.console.test_console_browser import api, tab_to

STREAM = "**/api/events/stream/**"


def audit_page(console, path: str):
    page = console.page
    console.sign_in(*ADMIN)
    page.goto(console.url(path))
    page.locator("table.events").wait_for()
    return page


def new_code(base: str, note: str) -> int:
    r = api("POST", base, "/api/project-code/", ADMIN,
            json={"code": f"LV{uuid.uuid4().hex[:6].upper()}", "description": note})
    assert r.status_code == 201, r.text
    return r.json()["pk"]


def event_row(page, pk: int, fresh: bool = True):
    rows = page.locator("table.events tbody tr" + (".fresh" if fresh else ""))
    return rows.filter(has=page.get_by_role("link", name=f"History of project_code {pk}"))


def created_event_pk(base: str, code_pk: int) -> int:
    found = api("GET", base, f"/api/events/?stream=project_code:{code_pk}"
                "&type=project_code.created", ADMIN).json()
    assert found["count"] == 1, found
    return found["results"][0]["pk"]


def gateway_workers(stack) -> list[int]:
    """The pids of every gateway's gunicorn workers (each master's children): `gateway`
    in a stack, `gateway-<i>` in a cluster."""
    workers = []
    for name, master in stack.pids().items():
        if name == "gateway" or name.startswith("gateway-"):
            with open(f"/proc/{master}/task/{master}/children") as f:
                workers += [int(pid) for pid in f.read().split()]
    assert workers, stack.pids()
    return workers


def listener_slots(stack) -> int:
    """EVENTS_STREAM_MAX_LISTENERS (4, the default) capped at GATEWAY_THREADS - 1, for each
    gateway worker."""
    threads = int(stack.env.get("GATEWAY_THREADS", "4"))
    return min(int(stack.env.get("EVENTS_STREAM_MAX_LISTENERS", "4")), threads - 1) * len(
        gateway_workers(stack))


def wait_ready(base: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/api/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError("the gateway did not answer again")


def test_the_live_view_streams_and_resumes_after_a_drop(console, stack):
    page = audit_page(console, "/console/audit?type=project_code.*")
    asked = []  # every list request the page makes
    page.on("request", lambda r: asked.append(r.url) if "/api/events/?" in r.url else None)
    page.get_by_role("button", name="Live view").click()
    expect(page.locator("[data-live=streaming]")).to_have_text(
        "Live: new events appear as they are recorded")
    before = len(asked)

    first = new_code(console.base, "seen over the feed")
    expect(event_row(page, first)).to_be_visible(timeout=20_000)
    expect(page.get_by_role("status").filter(has_text="1 new event")).to_have_count(1)
    assert asked[before:] == []  # it came over the feed, not by asking the list

    held = []  # reconnections, held until the test lets them through
    page.route(STREAM, lambda route: held.append(route))
    killed = gateway_workers(stack)
    for pid in killed:  # the feed's connection drops with its worker
        os.kill(pid, signal.SIGKILL)
    expect(page.locator("[data-live=reconnecting]")).to_be_visible()
    wait_ready(console.base)
    second = new_code(console.base, "recorded while the page was cut off")
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert held, "the page did not reconnect"
    assert held[0].request.headers.get("last-event-id") == str(
        created_event_pk(console.base, first))
    assert len(held) == 1  # one reconnection at a time
    held[0].continue_()
    page.unroute(STREAM)
    expect(event_row(page, second)).to_be_visible(timeout=20_000)
    expect(page.locator("[data-live=streaming]")).to_be_visible()
    expect(event_row(page, first, fresh=False)).to_have_count(1)  # not sent twice
    expect(page.get_by_role("status").filter(has_text="2 new events")).to_have_count(1)
    deadline = time.monotonic() + 60  # every worker is back before the next test counts them
    while len(set(gateway_workers(stack)) - set(killed)) < len(killed):
        assert time.monotonic() < deadline, "the gateway's workers did not all come back"
        time.sleep(0.2)


def take_listener_slots(base: str, slots: int) -> list[requests.Response]:
    """Real listeners on every slot of the gateway's workers (an extra one is a 503)."""
    held, refused = [], 0
    while len(held) < slots:
        r = requests.get(base + "/api/events/stream/?type=nothing.held", auth=ADMIN,
                         stream=True, timeout=30)
        if r.status_code == 200:
            held.append(r)
        else:
            assert r.status_code == 503, r.text
            refused += 1
            r.close()
            assert refused < 100, "no listener slot came free"
            time.sleep(0.1)
    return held


def test_the_live_view_polls_while_the_feed_refuses_it(console, stack):
    page = audit_page(console, "/console/audit?type=project_code.*")
    listeners = take_listener_slots(console.base, listener_slots(stack))
    try:
        page.get_by_role("button", name="Live view").click()
        refused = page.locator("[data-live=refused]")
        expect(refused).to_contain_text("Live: asking every 2 s (the live feed refused: ")
        expect(refused).to_contain_text("EVENTS_STREAM_MAX_LISTENERS")
        pk = new_code(console.base, "seen by polling")
        expect(event_row(page, pk)).to_be_visible(timeout=20_000)
    finally:
        for r in listeners:
            r.close()
    # a slot is free again: the page takes the feed after the gateway's Retry-After
    expect(page.locator("[data-live=streaming]")).to_be_visible(timeout=30_000)
    later = new_code(console.base, "seen over the feed again")
    expect(event_row(page, later)).to_be_visible(timeout=20_000)


def test_an_objects_state_as_of_now_and_as_of_an_earlier_event(console):
    pk = new_code(console.base, "first words")
    r = api("PATCH", console.base, f"/api/project-code/{pk}/", ADMIN,
            json={"description": "second words"})
    assert r.status_code == 200, r.text
    page = audit_page(console, f"/console/audit?stream_type=project_code&stream_id={pk}")
    state = page.get_by_role("region", name="State now")
    expect(state.locator('tr[data-field="description"] td')).to_have_text("second words")
    expect(state.get_by_role("status")).to_contain_text("Version 2, from 2 events")
    rows = page.locator("table.events tbody tr")
    expect(rows).to_have_count(2, timeout=20_000)

    asked = []  # payloads are asked for one by one, when unfolded (the list has none)
    page.on("request", lambda r: asked.append(r.url) if "event_id=" in r.url else None)
    rows.nth(1).locator("summary", has_text="Payload").click()
    expect(rows.nth(1).locator("pre.payload")).to_contain_text('"description": "first words"')
    assert len(asked) == 1 and "event_id=system%3A" in asked[0], asked

    rows.nth(1).get_by_role("button", name="State after event").click()  # the created one
    earlier = page.get_by_role("region", name="State as of a time")
    expect(earlier.locator('tr[data-field="description"] td')).to_have_text("first words")
    expect(earlier.get_by_role("status")).to_contain_text("Version 1, from 1 event:")
    assert "at=" in page.url  # the time is in the address: the view can be linked to

    earlier.get_by_label("As of").fill("2001-01-01T00:00:00")
    expect(earlier.get_by_role("status")).to_contain_text("Did not exist yet as of")
    expect(earlier.locator("table.state")).to_have_count(0)
    earlier.get_by_role("button", name="Now").click()
    expect(state.locator('tr[data-field="description"] td')).to_have_text("second words")


def test_an_objects_history_by_keyboard_only(console):
    pk = new_code(console.base, "typed by nobody")
    api("PATCH", console.base, f"/api/project-code/{pk}/", ADMIN, json={"description": "later"})
    page = audit_page(console, f"/console/audit?stream_type=project_code&stream_id={pk}")
    expect(page.locator("table.events tbody tr")).to_have_count(2, timeout=20_000)
    page.get_by_role("heading", name=f"History of project_code {pk}").click()  # focus: top
    tab_to(page, "Live view", presses=40)
    page.keyboard.press("Enter")
    expect(page.locator("[data-live=streaming]")).to_be_visible()
    tab_to(page, "State after this event", presses=40)  # the newest event's
    tab_to(page, "State after this event", presses=40)  # the created one's
    page.keyboard.press("Enter")
    earlier = page.get_by_role("region", name="State as of a time")
    expect(earlier.locator('tr[data-field="description"] td')).to_have_text("typed by nobody")
    tab_to(page, "Payload", presses=40)  # the created event's, below its button
    page.keyboard.press("Enter")
    expect(page.locator("table.events tbody tr").nth(1).locator("pre.payload")).to_contain_text(
        '"description": "typed by nobody"')
