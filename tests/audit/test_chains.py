"""The audit service checks the hash chain of every service's events as they arrive and
signs an hourly digest of each chain (HMAC-SHA256, services.audit.chains)."""
import hashlib
import hmac

import pytest
from sqlalchemy import select

from services.audit import chains, models as audit_models
from services.audit.service import Service, record_events
from services.status import models as status_models
from svckit import chainlog
from svckit.events import wire_event
from svckit.hashchain import canonical_json, wire_hash
from tests.helpers import STAFF, USER, worker_factory

KEY = b"digest-key-for-tests"


def state(n: int) -> dict:
    return {"key": 100 + n, "name": f"state {n}", "label": f"State {n}", "color": "success",
            "logical_key": 10, "model": 7, "reference_status": "StockStatus"}


@pytest.fixture
def dbs(make_db):
    """A status log with 5 chained events, and the audit trail's database."""
    status = make_db(status_models.metadata)
    for n in range(5):
        with status.write() as s:
            status_models.store.record(s, "custom_state", n + 1, "custom_state.created",
                                       state(n), version=1)
    with status.write() as s:  # as the relay does before it publishes
        chainlog.chain_pending(status_models.store, s)
    audit = make_db(audit_models.metadata)
    return status, audit


def published(status) -> list[dict]:
    events = status_models.store.events
    with status.read() as s:
        return [wire_event("status", dict(r)) for r in
                s.execute(select(events).order_by(events.c.chain_seq)).mappings()]


def trail(audit) -> list[dict]:
    with audit.read() as s:
        return [dict(r) for r in s.execute(select(audit_models.audit_events)
                                           .order_by(audit_models.audit_events.c.seq)).mappings()]


def test_received_chains_are_checked_and_digested(dbs):
    status, audit = dbs
    events = published(status)
    record_events(audit, events[:2], KEY)
    record_events(audit, events[2:] + events[:1], KEY)  # with a redelivery
    recorded = trail(audit)
    assert [r["chain_fault"] for r in recorded] == [None] * 5
    assert [r["chain_seq"] for r in recorded] == [1, 2, 3, 4, 5]
    with audit.read() as s:
        answer = chains.last_digest(s, KEY, "status")
    digest = answer["digest"]
    assert answer["received_faults"] == 0
    assert digest["count"] == 5 and digest["last_chain_seq"] == 5
    assert digest["last_seq"] == events[-1]["seq"] and digest["last_hash"] == events[-1]["hash"]
    assert digest["signature_valid"] is True
    body = {"service": "status", "count": 5, "first_seq": events[0]["seq"],
            "last_seq": events[-1]["seq"], "last_chain_seq": 5,
            "last_hash": events[-1]["hash"], "hour": digest["hour"].removesuffix("Z")}
    assert digest["signature"] == hmac.new(KEY, canonical_json(body),
                                           hashlib.sha256).hexdigest()
    with audit.read() as s:  # another key does not vouch for it
        assert chains.last_digest(s, b"another key", "status")["digest"]["signature_valid"] is False


def test_an_event_altered_on_the_way_or_out_of_its_chain_is_marked(dbs):
    status, audit = dbs
    events = published(status)
    forged = {**events[1], "payload": {**events[1]["payload"], "label": "Forged"}}
    record_events(audit, [events[0], forged], KEY)
    stranger = {**events[2], "prev_hash": "f" * 64}  # rehashed, but linked to no one
    stranger["hash"] = wire_hash(stranger)
    record_events(audit, [stranger], KEY)
    faults = {r["chain_seq"]: r["chain_fault"] for r in trail(audit)}
    assert faults == {1: None, 2: "content", 3: "order"}
    with audit.read() as s:
        assert chains.last_digest(s, KEY, "status")["received_faults"] == 2


def test_events_without_a_chain_are_recorded_unchecked(dbs):
    _, audit = dbs
    event = {"id": "gateway:1", "service": "gateway", "seq": 1, "stream_type": "error",
             "stream_id": "r1", "version": 1, "type": "error.logged",
             "payload": {"kind": "E", "info": "", "data": "", "path": "/", "service": "gateway"},
             "actor": "", "request_id": "r1", "created": "2026-12-01T10:00:00Z"}
    record_events(audit, [event], KEY)
    assert trail(audit)[0]["chain_fault"] is None
    with audit.read() as s:
        assert chains.last_digest(s, KEY, "gateway")["digest"] is None


def test_digests_are_for_staff(dbs, monkeypatch):
    status, audit = dbs
    record_events(audit, published(status), KEY)
    monkeypatch.setenv("AUDIT_DIGEST_KEY", KEY.decode())
    staff = worker_factory(Service, db=audit, caller=STAFF)
    answer = staff.chain_digests(services=["status", "users"])
    assert answer["status"]["digest"]["count"] == 5
    assert answer["users"] == {"digest": None, "received_faults": 0}
    from svckit.errors import PermissionDenied
    with pytest.raises(PermissionDenied):
        worker_factory(Service, db=audit, caller=USER).chain_digests(services=["status"])
