"""`GET /api/events/verify/` and `GET /api/events/catalog/` end to end: rows of the status
service's event log edited, deleted and reordered straight in its database (SQLite, and
PostgreSQL when it is reachable) are found and named through the gateway; the catalog is a
valid AsyncAPI 3.0 document. Each backend runs a stack of its own (the tampering must not
reach other tests)."""
import json
import uuid

import jsonschema
import pytest
import requests
from sqlalchemy import create_engine, text

from svckit.layout import ROOT
from tests.conftest import PG_ADMIN_URL, postgres_reachable
from tests.e2e.conftest import ADMIN, eventually, own_vhost, running_stack, token_session

ASYNCAPI_SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"
BACKENDS = ["sqlite"] + (["postgresql"] if postgres_reachable() else [])


@pytest.fixture(scope="module", params=BACKENDS)
def chained(request, rates_server, smtp, tmp_path_factory):
    """A stack whose status service keeps its database on the backend; (stack, engine of
    the status database)."""
    data = tmp_path_factory.mktemp(f"verify-{request.param}")
    overrides, database = {}, None
    if request.param == "postgresql":
        import psycopg2
        database = f"t_verify_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(PG_ADMIN_URL)
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {database}")
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
        overrides["STATUS_DATABASE_URL"] = f"{base}/{database}"
    url = overrides.get("STATUS_DATABASE_URL") or f"sqlite:///{data / 'status.sqlite3'}"
    with own_vhost() as vhost:
        with running_stack(data, vhost, rates_server, smtp, **overrides) as stack:
            engine = create_engine(url)
            yield stack, engine
            engine.dispose()
    if database:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def verify(session, **params) -> dict:
    r = session.get(f"{session.base}/api/events/verify/", params=params, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def status_log(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT id, chain_seq, payload, stream_type, stream_id, version FROM event_log "
            "ORDER BY chain_seq")).mappings()]


def tamper(engine, sql: str, **params):
    with engine.begin() as conn:
        conn.execute(text(sql), params)


def test_verify_finds_edited_deleted_and_reordered_events(chained):
    stack, engine = chained
    admin = token_session(stack, ADMIN)
    model = admin.get(f"{stack.url}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    for n in range(5):
        r = admin.post(f"{stack.url}/api/generic/status/custom/", timeout=10, json={
            "key": 200 + n, "name": f"state {n}", "label": f"State {n}", "logical_key": 10,
            "model": model, "reference_status": "StockStatus"})
        assert r.status_code == 201, r.text

    def digested():  # the relay linked and published them, the audit service digested them
        answer = verify(admin, service="status")["services"][0]
        return answer["last_digest"] and answer["last_digest"]["last_chain_seq"] == 5
    assert eventually(digested, 20), "the audit service never digested the status chain"
    log = status_log(engine)
    assert len(log) == 5 and [e["chain_seq"] for e in log] == [1, 2, 3, 4, 5]

    whole = verify(admin, service="status")
    assert whole["status"] == "intact"
    (answer,) = whole["services"]
    assert answer["service"] == "status" and answer["count"] == 5
    assert answer["last"]["id"] == f"status:{log[-1]['id']}"
    digest = answer["last_digest"]
    assert digest["signature_valid"] and digest["count"] == 5
    assert len(digest["signature"]) == 64 and answer["received_faults"] == 0

    third = log[2]
    original = json.dumps(third["payload"]) if not isinstance(third["payload"], str) \
        else third["payload"]
    forged = json.dumps({**json.loads(original), "label": "Forged"})
    tamper(engine, "UPDATE event_log SET payload = :p WHERE id = :id", p=forged, id=third["id"])
    failure = verify(admin, service="status")["services"][0]["failure"]
    assert failure["problem"] == "content" and failure["id"] == f"status:{third['id']}"
    assert failure["stream"] == f"custom_state:{third['stream_id']}"
    assert failure["version"] == third["version"]
    tamper(engine, "UPDATE event_log SET payload = :p WHERE id = :id", p=original, id=third["id"])
    assert verify(admin, service="status")["status"] == "intact"

    tamper(engine, "UPDATE event_log SET chain_seq = -1 WHERE id = :id", id=log[1]["id"])
    tamper(engine, "UPDATE event_log SET chain_seq = 2 WHERE id = :id", id=log[2]["id"])
    tamper(engine, "UPDATE event_log SET chain_seq = 3 WHERE id = :id", id=log[1]["id"])
    failure = verify(admin, service="status")["services"][0]["failure"]
    assert failure["problem"] == "order" and failure["id"] == f"status:{log[2]['id']}"
    tamper(engine, "UPDATE event_log SET chain_seq = -1 WHERE id = :id", id=log[1]["id"])
    tamper(engine, "UPDATE event_log SET chain_seq = 3 WHERE id = :id", id=log[2]["id"])
    tamper(engine, "UPDATE event_log SET chain_seq = 2 WHERE id = :id", id=log[1]["id"])
    assert verify(admin, service="status")["status"] == "intact"

    with engine.connect() as conn:
        saved = dict(conn.execute(text("SELECT * FROM event_log WHERE id = :id"),
                                  {"id": log[1]["id"]}).mappings().one())
    tamper(engine, "DELETE FROM event_log WHERE id = :id", id=log[1]["id"])
    answer = verify(admin, service="status")
    failure = answer["services"][0]["failure"]
    assert answer["status"] == "broken" and failure["problem"] == "presence"
    assert failure["id"] == f"status:{log[2]['id']}" and "position 2" in failure["detail"]

    tamper(engine, "DELETE FROM event_log WHERE chain_seq >= 2")  # the tail, head kept
    failure = verify(admin, service="status")["services"][0]["failure"]
    assert failure["problem"] == "presence" and failure["id"] == f"status:{log[0]['id']}"
    tamper(engine, "UPDATE event_chain SET seq = 1, hash = (SELECT hash FROM event_log "
                   "WHERE chain_seq = 1)")  # the head moved back too: the digest still knows
    failure = verify(admin, service="status")["services"][0]["failure"]
    assert failure["problem"] == "presence" and f"status:{log[-1]['id']}" in failure["detail"]
    assert saved["chain_seq"] == 2


def test_verify_bad_input_and_permissions(chained):
    stack, _ = chained
    admin = token_session(stack, ADMIN)
    url = f"{stack.url}/api/events/verify/"
    for params, field in (({"service": "nope"}, "service"), ({"after": "yesterday"}, "after"),
                          ({"colour": "red"}, "colour"),
                          ({"after": "2026-12-02T00:00:00Z", "before": "2026-12-01"}, "before")):
        r = admin.get(url, params=params, timeout=10)
        assert r.status_code == 400 and field in r.json(), (params, r.text)
    assert requests.get(url, timeout=10).status_code == 401
    password = f"Secret-9x-{uuid.uuid4().hex[:8]}"
    r = admin.post(f"{stack.url}/api/user/", timeout=10, json={
        "username": "plain", "first_name": "", "last_name": "", "email": "",
        "password": password, "is_staff": False})
    assert r.status_code == 201, r.text
    plain = token_session(stack, ("plain", password))
    assert plain.get(url, timeout=10).status_code == 403
    assert plain.get(f"{stack.url}/api/events/catalog/", timeout=10).status_code == 403
    # every service, and a time range
    answer = verify(admin, after="2000-01-01T00:00:00Z")
    assert {a["service"] for a in answer["services"]} >= {"users", "status", "system"}
    users = next(a for a in answer["services"] if a["service"] == "users")
    assert users["status"] == "intact" and users["count"] >= 2  # the admin, its owner, ...


def test_the_catalog_is_valid_asyncapi_3(chained):
    stack, _ = chained
    admin = token_session(stack, ADMIN)
    r = admin.get(f"{stack.url}/api/events/catalog/", timeout=30)
    assert r.status_code == 200, r.text
    doc = r.json()
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(doc)] == []
    assert {"status.events", "users.events", "importer.events", "attachments.events",
            "system.events", "audit.events", "gateway.events"} == set(doc["channels"])
    assert "custom_state.created" in doc["channels"]["status.events"]["messages"]
    assert "guest" not in json.dumps(doc["servers"])
