"""Each service's event log is a hash chain (svckit.hashchain, svckit.chainlog): extended at
commit in commit order, linear with concurrent writers, and a walk of it names the first event
whose content, order or presence does not match. On SQLite and PostgreSQL."""
import threading

import pytest
from hypothesis import given, settings, strategies as st
from sqlalchemy import delete, func, insert, select, update

from services.status import models
from svckit import chainlog
from svckit.events import wire_event
from svckit.hashchain import GENESIS, canonical_text, row_hash, wire_hash

STORE = models.store
EVENTS = STORE.events


def state(n: int) -> dict:
    return {"key": 100 + n, "name": f"state {n}", "label": f"State {n}", "color": "success",
            "logical_key": 10, "model": 7, "reference_status": "StockStatus"}


def add_states(db, count: int, per_transaction: int = 1):
    for first in range(0, count, per_transaction):
        with db.write() as s:
            for _ in range(first, min(first + per_transaction, count)):
                pk = STORE.next_stream_id(s, "custom_state")
                STORE.record(s, "custom_state", pk, "custom_state.created", state(pk),
                             version=1)


def link(db, limit: int | None = None) -> int:
    """What the relay does before it publishes: link the events committed since."""
    with db.write() as s:
        return chainlog.chain_pending(STORE, s, limit)


def rows(db) -> list[dict]:
    link(db)
    with db.read() as s:
        return [dict(r) for r in s.execute(select(EVENTS).order_by(EVENTS.c.chain_seq))
                .mappings()]


def verify(db, **kwargs) -> dict:
    link(db)  # as the verify_event_log entrypoint does
    with db.read() as s:
        return chainlog.verify(STORE, s, **kwargs)


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


def test_committed_events_form_a_chain_and_verify_intact(db):
    add_states(db, 3)
    add_states(db, 4, per_transaction=4)
    log = rows(db)
    assert [r["chain_seq"] for r in log] == list(range(1, 8))
    assert log[0]["prev_hash"] == GENESIS
    for before, after in zip(log, log[1:]):
        assert after["prev_hash"] == before["hash"]
    assert all(r["hash"] == row_hash("status", r, r["prev_hash"]) for r in log)
    answer = verify(db)
    assert answer["status"] == "intact" and answer["count"] == 7
    assert answer["last"]["id"] == f"status:{log[-1]['id']}" and answer["failure"] is None
    # a published event carries what a subscriber needs to check its hash
    assert wire_hash(wire_event("status", log[3])) == log[3]["hash"]


def test_a_rolled_back_transaction_leaves_the_chain_alone(db):
    add_states(db, 2)
    with pytest.raises(RuntimeError):
        with db.write() as s:
            STORE.record(s, "custom_state", 99, "custom_state.created", state(99), version=1)
            raise RuntimeError("no")
    with db.write() as s:  # a write without events on the same pooled connection
        s.execute(insert(models.custom_states).values(
            id=500, key=1, name="x", label="x", color="x", logical_key=1, model=1,
            reference_status="x"))
    add_states(db, 1)
    assert [r["chain_seq"] for r in rows(db)] == [1, 2, 3]
    assert verify(db)["status"] == "intact"


def test_an_edited_event_is_named_by_its_content(db):
    add_states(db, 5)
    third = rows(db)[2]
    with db.write() as s:
        s.execute(update(EVENTS).where(EVENTS.c.id == third["id"]).values(
            payload={**third["payload"], "label": "Forged"}))
    answer = verify(db)
    assert answer["status"] == "broken" and answer["count"] == 2
    failure = answer["failure"]
    assert failure["problem"] == "content" and failure["id"] == f"status:{third['id']}"
    assert failure["stream"] == f"custom_state:{third['stream_id']}" and failure["version"] == 1


def test_a_deleted_event_is_named_by_presence(db):
    add_states(db, 5)
    log = rows(db)
    with db.write() as s:
        s.execute(delete(EVENTS).where(EVENTS.c.id == log[1]["id"]))
    failure = verify(db)["failure"]
    assert failure["problem"] == "presence" and failure["id"] == f"status:{log[2]['id']}"
    assert "position 2" in failure["detail"]


def test_the_last_event_deleted_is_noticed_by_the_head(db):
    add_states(db, 4)
    log = rows(db)
    with db.write() as s:
        s.execute(delete(EVENTS).where(EVENTS.c.id == log[-1]["id"]))
    answer = verify(db)
    assert answer["failure"]["problem"] == "presence"
    assert answer["failure"]["id"] == f"status:{log[-2]['id']}"
    assert "head is at 4" in answer["failure"]["detail"]


def test_reordered_events_are_named_by_order(db):
    add_states(db, 5)
    log = rows(db)
    second, third = log[1], log[2]
    with db.write() as s:  # swap their places in the chain
        s.execute(update(EVENTS).where(EVENTS.c.id == second["id"]).values(chain_seq=-1))
        s.execute(update(EVENTS).where(EVENTS.c.id == third["id"]).values(chain_seq=2))
        s.execute(update(EVENTS).where(EVENTS.c.id == second["id"]).values(chain_seq=3))
    failure = verify(db)["failure"]
    assert failure["problem"] == "order" and failure["id"] == f"status:{third['id']}"


def test_the_audit_digest_notices_a_log_cut_short_with_its_head(db):
    add_states(db, 4)
    log = rows(db)
    digest = {"last_seq": log[-1]["id"], "last_hash": log[-1]["hash"]}
    assert verify(db, digest=digest)["status"] == "intact"
    with db.write() as s:  # cut the last event and move the head back over it
        s.execute(delete(EVENTS).where(EVENTS.c.id == log[-1]["id"]))
        s.execute(update(STORE.chain).values(seq=3, hash=log[-2]["hash"]))
    assert verify(db)["status"] == "intact"  # the log alone cannot tell
    failure = verify(db, digest=digest)["failure"]
    assert failure["problem"] == "presence" and f"status:{log[-1]['id']}" in failure["detail"]


def test_a_time_range_walks_only_its_events(db):
    add_states(db, 6)
    log = rows(db)
    answer = verify(db, after=log[2]["created"], before=log[5]["created"])
    assert answer["status"] == "intact" and answer["count"] == 3
    assert answer["last"]["id"] == f"status:{log[4]['id']}"
    with db.write() as s:  # a broken event outside the range is not the range's business
        s.execute(update(EVENTS).where(EVENTS.c.id == log[0]["id"]).values(actor="mallory"))
    assert verify(db, after=log[2]["created"])["status"] == "intact"
    assert verify(db)["failure"]["problem"] == "content"


def test_concurrent_writers_keep_the_chain_linear(db):
    """Writers in 6 threads (6 connections) append at once, each also linking after its
    writes, as relays whose leases overlap and verifications would; on PostgreSQL the chain
    lock serialises the linkers, so the chain has no fork and no gap."""
    threads, writes, errors = 6, 10, []
    start = threading.Barrier(threads)

    def work(t):
        start.wait()
        for n in range(writes):
            try:
                with db.write() as s:
                    pk = STORE.next_stream_id(s, "custom_state")
                    STORE.record(s, "custom_state", pk, "custom_state.created",
                                 state(t * 100 + n), version=1)
                    STORE.record(s, "custom_state", pk, "custom_state.updated",
                                 {"label": f"again {t} {n}"}, version=2)
                link(db, limit=3)
            except Exception as exc:  # noqa: BLE001  (every error is a failure)
                errors.append(repr(exc))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    log = rows(db)
    assert [r["chain_seq"] for r in log] == list(range(1, threads * writes * 2 + 1))
    answer = verify(db)
    assert answer["status"] == "intact" and answer["count"] == threads * writes * 2
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(EVENTS).where(
            EVENTS.c.chain_seq.is_(None))).scalar() == 0


def test_a_write_leaves_its_events_for_the_relay_to_link(db):
    """Writes pay nothing for the chain: their events wait unlinked until the relay's next
    pass (or a verification) links them, the oldest first, at most `limit` at a time."""
    add_states(db, 3)
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(EVENTS).where(
            EVENTS.c.chain_seq.is_(None))).scalar() == 3
    assert link(db, limit=2) == 2
    assert link(db) == 1
    assert link(db) == 0
    assert [r["chain_seq"] for r in rows(db)] == [1, 2, 3]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(), lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(), inner, max_size=4), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(text=st.text(), payload=st.dictionaries(st.text(), json_values, max_size=6),
       seq=st.integers(min_value=1, max_value=2**62))
def test_a_hash_from_the_payloads_text_is_the_hash(text, payload, seq):
    """The audit service hashes a received event around its payload's canonical text
    (made once, also stored): the same bytes as the whole event's canonical form, whatever
    the text fields hold (quotes, `,"prev":`, any character)."""
    event = {"service": "status", "seq": seq, "stream_type": text, "stream_id": text,
             "version": 1, "type": f'{text},"prev":"x"', "schema_version": 2,
             "payload": payload, "actor": text, "request_id": f'"{text}\\',
             "created": "2026-12-03T18:00:00.123456Z", "prev_hash": GENESIS,
             "secrets": text}
    assert wire_hash(event, canonical_text(payload)) == wire_hash(event)
