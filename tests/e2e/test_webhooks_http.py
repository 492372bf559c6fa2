"""Outbound webhooks end to end: subscriptions managed through the gateway, deliveries
from the audit service to real receivers on loopback that check every signature
(tests/webhookreceiver.py). The stack retries quickly (0.2 s, doubling to 1 s), cuts an
attempt off after 1 s without an answer and parks a delivery after 4 s (conftest)."""
import json

import pytest

from tests.e2e.conftest import eventually
from tests.e2e.test_status_http import create_states
from tests.webhookreceiver import WebhookReceiver

SUBSCRIPTIONS = "/api/events/subscriptions/"


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs):
        receiver = WebhookReceiver(**kwargs)
        made.append(receiver)
        return receiver
    yield make
    for receiver in made:
        receiver.close()


def subscribe(admin, receiver, types, **extra) -> dict:
    r = admin.post(f"{admin.base}{SUBSCRIPTIONS}", timeout=10,
                   json={"target_url": receiver.url, "event_types": types, **extra})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return r.json()


def delete_states(admin, pks):
    for pk in pks:
        assert admin.delete(f"{admin.base}/api/generic/status/custom/{pk}/",
                            timeout=10).status_code == 204


def deliveries(admin, sub, **params) -> list[dict]:
    r = admin.get(f"{admin.base}{SUBSCRIPTIONS}{sub['pk']}/deliveries/", timeout=10,
                  params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def logged_ids(admin, type_, pks) -> set[str]:
    events = admin.get(f"{admin.base}/api/events/", timeout=10, params={
        "type": type_, "stream_type": "custom_state", "limit": 1000}).json()["results"]
    return {e["id"] for e in events if int(e["stream_id"]) in pks}


def test_every_event_arrives_once_signed_through_failures(admin, receivers):
    receiver = receivers(fail_first=6)
    sub = subscribe(admin, receiver, ["custom_state.*"])
    pks = create_states(admin, range(700, 712), "hook")
    delete_states(admin, pks[:4])
    assert eventually(lambda: len(receiver.accepted) == 16, 30), (
        receiver.requests, len(receiver.accepted))
    expected = (logged_ids(admin, "custom_state.created", pks)
                | logged_ids(admin, "custom_state.deleted", pks))
    assert len(expected) == 16
    ids = receiver.event_ids()
    assert sorted(ids) == sorted(expected)  # every event, once per delivery id
    assert receiver.bad_signatures == 0
    assert len(receiver.attempts) >= 16 + 6  # the first six were refused, then retried
    assert eventually(lambda: all(d["status"] == "delivered"
                                  for d in deliveries(admin, sub)), 10)
    listed = deliveries(admin, sub)
    assert len(listed) == 16 and {d["event_id"] for d in listed} == expected
    assert sum(d["attempts"] for d in listed) == len(receiver.attempts)
    assert all(d["response_code"] == 204 and d["latency_ms"] is not None
               and d["next_attempt"] is None for d in listed)
    retried = [d for d in listed if d["attempts"] > 1]
    assert retried and {d["event_type"] for d in listed} == {"custom_state.created",
                                                             "custom_state.deleted"}
    delete_states(admin, pks[4:])


def test_a_slow_receiver_is_cut_off_and_does_not_hold_back_another(admin, receivers):
    slow, fast = receivers(delay=3), receivers()
    slow_sub = subscribe(admin, slow, ["custom_state.created"])
    subscribe(admin, fast, ["custom_state.created"])
    pks = create_states(admin, range(720, 730), "hook")
    # the fast receiver has all ten while the slow one has answered none
    assert eventually(lambda: len(fast.accepted) == 10, 10)
    assert slow.accepted == {}
    slow.delay = 0  # answers in time from now on: the cut-off attempts are tried again
    assert eventually(lambda: len(slow.accepted) == 10, 20), slow.requests
    # the receiver has answered; the audit service records each outcome just after
    assert eventually(lambda: all(d["status"] == "delivered"
                                  for d in deliveries(admin, slow_sub)), 10)
    listed = deliveries(admin, slow_sub)
    assert any(d["attempts"] > 1 for d in listed)
    assert slow.bad_signatures == 0 and sorted(slow.event_ids()) == sorted(fast.event_ids())
    delete_states(admin, pks)
    for sub in (slow_sub,):
        assert admin.delete(f"{admin.base}{SUBSCRIPTIONS}{sub['pk']}/",
                            timeout=10).status_code == 204


def test_a_failing_receiver_is_parked_then_redelivered_by_api(admin, receivers):
    receiver = receivers(fail_first=10**6)
    sub = subscribe(admin, receiver, ["custom_state.created"])
    pks = create_states(admin, [740], "hook")
    assert eventually(lambda: [d["status"] for d in deliveries(admin, sub)] == ["parked"], 20)
    [parked] = deliveries(admin, sub, status="parked")
    assert parked["attempts"] >= 2 and parked["response_code"] == 503
    assert parked["last_error"].startswith("HTTP 503")
    receiver.fail_first = 0
    base = f"{admin.base}{SUBSCRIPTIONS}{sub['pk']}/deliveries/{parked['pk']}/"
    r = admin.post(f"{base}redeliver/", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    assert eventually(lambda: len(receiver.accepted) == 1, 10)
    assert admin.get(base, timeout=10).json()["status"] == "delivered"
    again = admin.post(f"{base}redeliver/", timeout=10)
    assert again.status_code == 400 and "parked" in again.json()["detail"]
    assert admin.post(f"{admin.base}{SUBSCRIPTIONS}{sub['pk']}/deliveries/999999/redeliver/",
                      timeout=10).status_code == 404
    delete_states(admin, pks)
    assert admin.delete(f"{admin.base}{SUBSCRIPTIONS}{sub['pk']}/", timeout=10).status_code == 204
    assert admin.get(base, timeout=10).status_code == 404


def test_subscriptions_crud_secret_write_only_and_bad_input(stack, admin, make_user, receivers):
    receiver = receivers()
    given = "a-secret-of-my-own-choosing"
    r = admin.post(f"{admin.base}{SUBSCRIPTIONS}", timeout=10, json={
        "target_url": receiver.url, "event_types": ["attachment.*", "*.deleted"],
        "secret": given, "description": "ops"})
    assert r.status_code == 201 and r.json()["secret"] == given, r.text
    pk = r.json()["pk"]
    url = f"{admin.base}{SUBSCRIPTIONS}{pk}/"
    shown = admin.get(url, timeout=10).json()
    assert "secret" not in shown and shown["event_types"] == ["attachment.*", "*.deleted"]
    patched = admin.patch(url, json={"active": False, "secret": "another-long-secret"},
                          timeout=10)
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert "secret" not in patched.json()
    listed = admin.get(f"{admin.base}{SUBSCRIPTIONS}", timeout=10)
    assert listed.status_code == 200 and "secret" not in listed.text
    made = admin.post(f"{admin.base}{SUBSCRIPTIONS}", timeout=10, json={
        "target_url": receiver.url, "event_types": ["*"]}).json()
    assert len(made["secret"]) == 64  # made for it, shown this once
    assert admin.delete(f"{admin.base}{SUBSCRIPTIONS}{made['pk']}/", timeout=10).status_code == 204
    # the subscription's changes are audit events, without any secret
    def trail():
        return admin.get(f"{admin.base}/api/events/", timeout=10, params={
            "service": "audit", "stream": f"webhook_subscription:{pk}"}).json()["results"]
    assert eventually(lambda: len(trail()) == 2, 10)
    text = json.dumps(trail())
    assert given not in text and "another-long-secret" not in text
    assert '"secret_replaced": true' in text
    log = stack.data_dir / "stack.log"
    if log.exists():  # the processes' logs (a cluster's are elsewhere)
        assert given not in log.read_text() and made["secret"] not in log.read_text()
    for body, field in (
            ({"target_url": "ftp://127.0.0.1/x", "event_types": ["*"]}, "target_url"),
            ({"target_url": "file:///etc/passwd", "event_types": ["*"]}, "target_url"),
            ({"target_url": "http://u:p@127.0.0.1/", "event_types": ["*"]}, "target_url"),
            ({"target_url": receiver.url, "event_types": ["Not A Type"]}, "event_types"),
            ({"target_url": receiver.url}, "event_types"),
            ({"target_url": receiver.url, "event_types": ["*"], "secret": "short"}, "secret")):
        r = admin.post(f"{admin.base}{SUBSCRIPTIONS}", json=body, timeout=10)
        assert r.status_code == 400 and field in r.json(), (body, r.text)
    assert admin.get(f"{admin.base}{SUBSCRIPTIONS}999999/", timeout=10).status_code == 404
    assert admin.get(f"{admin.base}{SUBSCRIPTIONS}999999/deliveries/",
                     timeout=10).status_code == 404
    plain = make_user("hookplain")
    assert plain.get(f"{plain.base}{SUBSCRIPTIONS}", timeout=10).status_code == 403
    assert plain.post(f"{plain.base}{SUBSCRIPTIONS}", json={}, timeout=10).status_code == 403
    assert admin.delete(url, timeout=10).status_code == 204
