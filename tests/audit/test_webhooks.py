"""Webhook subscriptions and deliveries inside the audit service, on SQLite and PostgreSQL:
checks of what is written, deliveries made once per subscription and event, leases,
backoff, parking and redelivery; the URL and address rules; signatures. The HTTP side runs
end to end in tests/e2e/test_webhooks_http.py."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.audit import deliveries, models
from services.audit.service import Service, record_events
from services.audit.settings import AuditSettings
from svckit import eventtypes, outbound, webhook_signature
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from svckit.events import utcnow
from tests.helpers import STAFF, USER, worker_factory


def event(n, type_="attachment.uploaded", service="attachments"):
    return {"id": f"{service}:{n}", "service": service, "seq": n, "stream_type": "attachment",
            "stream_id": str(n), "version": 1, "type": type_, "payload": {"n": n},
            "actor": "admin", "request_id": f"r{n}", "created": "2026-11-28T10:00:00Z"}


SETTINGS = AuditSettings(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_BACKOFF_BASE_SECONDS=10,
                         WEBHOOK_BACKOFF_MAX_SECONDS=40, WEBHOOK_RETRY_FOR_SECONDS=30)
RECEIVER = "http://127.0.0.1:9/hook"
SECRET = "s" * 32


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF, settings=SETTINGS: worker_factory(
        Service, db=db, caller=caller, settings=settings)


def subscribe(svc, types=("attachment.*",), **data):
    return svc().create_webhook_subscription(data={
        "target_url": RECEIVER, "event_types": list(types), "secret": SECRET, **data})


def test_subscriptions_are_events_without_their_secret(svc, db):
    sub = subscribe(svc, description="ops")
    assert "secret" not in sub and sub["active"] is True and sub["event_types"] == ["attachment.*"]
    svc().update_webhook_subscription(pk=sub["pk"], data={"secret": "t" * 20, "active": False},
                                      partial=True)
    assert svc().get_webhook_subscription(pk=sub["pk"])["active"] is False
    assert "secret" not in svc().list_webhook_subscriptions(params={})["results"][0]
    svc().delete_webhook_subscription(pk=sub["pk"])
    with db.read() as s:
        logged = s.execute(select(models.store.events)).mappings().all()
        assert s.execute(select(models.webhook_secrets)).first() is None
    assert [e["type"] for e in logged] == ["webhook_subscription.created",
                                          "webhook_subscription.updated",
                                          "webhook_subscription.deleted"]
    assert logged[1]["payload"] == {"active": False, "secret_replaced": True}
    assert SECRET not in json.dumps([dict(e["payload"]) for e in logged])
    assert "t" * 20 not in json.dumps([dict(e["payload"]) for e in logged])
    with pytest.raises(NotFound):
        svc().get_webhook_subscription(pk=sub["pk"])


@pytest.mark.parametrize("data, field", [
    ({"target_url": "ftp://127.0.0.1/x"}, "target_url"),
    ({"target_url": "javascript:alert(1)"}, "target_url"),
    ({"target_url": "http://user:pw@127.0.0.1/"}, "target_url"),
    ({"target_url": "http://127.0.0.1:99999/"}, "target_url"),
    ({"target_url": "http://no-such-host.invalid/"}, "target_url"),
    ({"event_types": []}, "event_types"),
    ({"event_types": "attachment.*"}, "event_types"),
    ({"event_types": ["Attachment.*"]}, "event_types"),
    ({"event_types": ["attachment..x"]}, "event_types"),
    ({"secret": "short"}, "secret"),
    ({"active": "maybe"}, "active"),
])
def test_bad_subscriptions_name_the_field(svc, data, field):
    body = {"target_url": RECEIVER, "event_types": ["*"], "secret": SECRET, **data}
    with pytest.raises(ValidationFailed) as failed:
        svc().create_webhook_subscription(data=body)
    assert list(failed.value.detail) == [field]


def test_hosts_outside_the_allow_list_and_private_addresses_are_refused(svc):
    strict = AuditSettings(WEBHOOK_ALLOWED_HOSTS="hooks.example.com,*.example.org")
    for url in ("http://127.0.0.1/", "http://localhost/", "http://10.1.2.3/",
                "http://[::1]/", "http://169.254.169.254/latest/", "http://0.0.0.0/"):
        with pytest.raises(outbound.RefusedTarget):
            outbound.resolve(outbound.parse_target(url, ["*"]), allow_private=False)
    with pytest.raises(ValidationFailed) as failed:
        svc(settings=strict).create_webhook_subscription(data={
            "target_url": "http://evil.example.net/", "event_types": ["*"], "secret": SECRET})
    assert "WEBHOOK_ALLOWED_HOSTS" in failed.value.detail["target_url"][0]
    with pytest.raises(ValidationFailed):  # allowed host, loopback address: refused
        svc(settings=AuditSettings()).create_webhook_subscription(data={
            "target_url": RECEIVER, "event_types": ["*"], "secret": SECRET})
    assert outbound.host_allowed("a.b.example.org", strict.webhook_hosts())
    assert not outbound.host_allowed("example.org", strict.webhook_hosts())


def test_only_staff_manage_subscriptions(svc):
    with pytest.raises(PermissionDenied):
        svc(USER).list_webhook_subscriptions(params={})
    with pytest.raises(PermissionDenied):
        svc(USER).create_webhook_subscription(data={})


def test_a_delivery_per_matching_subscription_and_event_once(svc, db):
    a = subscribe(svc)["pk"]
    b = subscribe(svc, types=["*.deleted", "status.*"])["pk"]
    subscribe(svc, active=False)
    batch = [event(1), event(2, "attachment.deleted"), event(3, "token.revoked", "users")]
    record_events(db, batch, b"key")
    record_events(db, batch, b"key")  # redelivered by the broker: nothing new
    with db.read() as s:
        made = sorted((r.subscription_id, r.event_id) for r in s.execute(
            select(models.webhook_deliveries)))
    assert made == [(a, "attachments:1"), (a, "attachments:2"), (b, "attachments:2")]


def test_claims_lease_deliveries_to_one_sender(svc, db):
    sub = subscribe(svc)["pk"]
    record_events(db, [event(n) for n in range(1, 6)], b"key")
    jobs = deliveries.Deliveries(Service_policy())
    assert jobs.due_keys(db) == [sub]
    first, second = jobs.claim(db, sub, 3), jobs.claim(db, sub, 3)
    assert [j.id for j in first] == [1, 2, 3] and [j.id for j in second] == [4, 5]
    assert jobs.claim(db, sub, 3) == [] and jobs.due_keys(db) == []
    body = json.loads(first[0].body)
    assert body["id"] == "attachments:1" and body["type"] == "attachment.uploaded"
    assert first[0].secret == SECRET


def Service_policy(**changes):
    from services.audit.service import delivery_policy
    return delivery_policy(SETTINGS.model_copy(update=changes))


def test_failures_back_off_then_park_and_redelivery_starts_again(svc, db):
    sub = subscribe(svc)["pk"]
    record_events(db, [event(1)], b"key")
    jobs = deliveries.Deliveries(Service_policy(), rand=lambda: 1.0)
    [job] = jobs.claim(db, sub, 1)
    before = utcnow()
    assert jobs.record(db, [(job, outbound.Answer(503, "", 12.5, "busy"))]) == ["pending"]
    row = svc().get_webhook_delivery(subscription=sub, pk=job.id)
    assert row["attempts"] == 1 and row["response_code"] == 503 and row["latency_ms"] == 12.5
    assert row["last_error"] == "HTTP 503: busy" and row["next_attempt"]
    with db.read() as s:
        due = s.execute(select(models.webhook_deliveries.c.next_attempt)).scalar()
    assert timedelta(seconds=9) < due - before < timedelta(seconds=11)  # base 10 s
    assert jobs.claim(db, sub, 1) == []  # not due yet
    # the 2nd failure waits 20 s, within the 30 s window; the 3rd would wait 40 s: parked
    statuses = []
    for _ in range(2):
        with db.write() as s:
            s.execute(update(models.webhook_deliveries).values(next_attempt=utcnow()))
        [job] = jobs.claim(db, sub, 1)
        statuses += jobs.record(db, [(job, outbound.Answer(None, "refused", 1.0))])
    assert statuses == ["pending", "parked"]
    parked = svc().list_webhook_deliveries(subscription=sub, params={"status": "parked"})
    assert parked["count"] == 1 and parked["results"][0]["next_attempt"] is None
    with pytest.raises(ValidationFailed):
        svc().list_webhook_deliveries(subscription=sub, params={"status": "lost"})
    again = svc().redeliver_webhook(subscription=sub, pk=job.id)
    assert again["status"] == "pending" and again["attempts"] == 3
    with pytest.raises(ValidationFailed) as failed:  # only a parked one
        svc().redeliver_webhook(subscription=sub, pk=job.id)
    assert "parked" in failed.value.detail["detail"]
    [job] = jobs.claim(db, sub, 1)
    assert jobs.record(db, [(job, outbound.Answer(204, "", 3.0))]) == ["delivered"]
    with pytest.raises(NotFound):
        svc().redeliver_webhook(subscription=sub + 1, pk=job.id)
    with db.read() as s:
        types = list(s.execute(select(models.store.events.c.type)).scalars())
    assert types[-1] == "webhook_delivery.redelivered"


def test_a_stale_claim_records_nothing(svc, db):
    sub = subscribe(svc)["pk"]
    record_events(db, [event(1)], b"key")
    jobs = deliveries.Deliveries(Service_policy())
    [job] = jobs.claim(db, sub, 1)
    with db.write() as s:  # its lease ran out and another sender took it
        s.execute(update(models.webhook_deliveries).values(claim="other"))
    jobs.record(db, [(job, outbound.Answer(200, "", 1.0))])
    assert svc().get_webhook_delivery(subscription=sub, pk=job.id)["status"] == "pending"


def test_backoff_grows_to_its_maximum_with_jitter():
    assert [deliveries.backoff(n, 1, 8, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        1, 2, 4, 8, 8]
    assert deliveries.backoff(3, 1, 8, rand=lambda: 0.0) == 2  # half of 4


def test_patterns():
    assert eventtypes.matches(["attachment.*"], "attachment.uploaded")
    assert not eventtypes.matches(["attachment.*"], "notes_image.uploaded")
    assert eventtypes.matches(["*.deleted"], "import_row.deleted")
    assert eventtypes.topic_bindings(["attachment.*", "user.created"]) == [
        "attachment.*", "user.created"]
    assert eventtypes.topic_bindings(["*.deleted"]) == ["*.deleted"]
    assert eventtypes.topic_bindings(["import_*.deleted"]) == ["#"]
    assert eventtypes.pattern_problems(["ok.*", "Bad"]) != []


def test_signatures_verify_and_refuse_replays_and_tampering():
    body = b'{"id":"status:1"}'
    headers = webhook_signature.signed_headers(SECRET, "42", body, now=1_000_000)
    assert headers["Webhook-Id"] == "42"
    assert webhook_signature.verify(SECRET, headers, body, now=1_000_100)
    assert not webhook_signature.verify(SECRET, headers, body, now=1_000_400)  # a replay
    assert not webhook_signature.verify(SECRET, headers, body + b" ", now=1_000_000)
    assert not webhook_signature.verify("x" * 32, headers, body, now=1_000_000)
    assert not webhook_signature.verify(SECRET, {}, body)


def test_replay_rebuilds_subscriptions_and_keeps_their_secrets(svc, db):
    sub = subscribe(svc, description="kept")
    svc().update_webhook_subscription(pk=sub["pk"], data={"event_types": ["*.deleted"]},
                                      partial=True)
    gone = subscribe(svc)["pk"]
    svc().delete_webhook_subscription(pk=gone)
    before = svc().list_webhook_subscriptions(params={})
    with db.write() as s:
        assert models.store.replay(s) == 4
    assert svc().list_webhook_subscriptions(params={}) == before
    with db.read() as s:
        assert s.execute(select(models.webhook_secrets.c.secret)).scalars().all() == [SECRET]
