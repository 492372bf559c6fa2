"""Generic statuses, custom states and content types over HTTP."""
import csv
import io
import time

import requests


def stockitem(session):
    return session.get(f"{session.base}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]


def state(session, **over):
    data = {"key": 11, "name": "OK - advanced", "label": "OK (advanced)",
            "logical_key": 10, "model": stockitem(session), "reference_status": "StockStatus"}
    data.update(over)
    return data


def create_states(admin, keys, name: str = "state") -> list[int]:
    """Custom states with these keys (named `<name><key>`), created over HTTP: their pks."""
    pks = []
    for key in keys:
        r = admin.post(f"{admin.base}/api/generic/status/custom/", timeout=10,
                       json=state(admin, key=key, name=f"{name}{key}"))
        assert r.status_code == 201, r.text
        pks.append(r.json()["pk"])
    return pks


def test_statuses_etag_and_304(admin):
    r = admin.get(f"{admin.base}/api/generic/status/", timeout=10)
    assert r.status_code == 200 and len(r.json()) == 10
    etag = r.headers["ETag"]
    again = admin.get(f"{admin.base}/api/generic/status/",
                      headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""


def test_status_class_lookup(admin):
    r = admin.get(f"{admin.base}/api/generic/status/BuildStatus/", timeout=10)
    assert r.status_code == 200 and r.json()["class"] == "BuildStatus"
    assert len(r.json()["values"]) == 5
    r = admin.get(f"{admin.base}/api/generic/status/NoSuchStatus/", timeout=10)
    assert r.status_code == 404


def shown_everywhere(admin, check, seconds=10.0) -> bool:
    """True once `check(GET /api/generic/status/)` holds for 6 answers in a row: the stack's
    2 gateway workers (a cluster's 2 gateways) each answer some of them from their own read
    model, which the worker that forwarded a write drops at once and the others when the
    write's event reaches them (README: read models)."""
    deadline = time.monotonic() + seconds
    while True:
        docs = [requests.get(f"{admin.base}/api/generic/status/", headers=admin.headers,
                             timeout=10).json() for _ in range(6)]
        if all(check(doc["StockStatus"]["values"]) for doc in docs):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_custom_state_lifecycle_visible_on_every_worker(admin):
    created = admin.post(f"{admin.base}/api/generic/status/custom/?format=json",
                         json=state(admin, key=21, name="Shiny"), timeout=10)
    assert created.status_code == 201, created.text
    pk = created.json()["pk"]
    assert created.json()["model_name"] == "Stock Item"
    assert shown_everywhere(admin, lambda values: values.get("SHINY", {}).get("key") == 21)
    patched = admin.patch(f"{admin.base}/api/generic/status/custom/{pk}/",
                          json={"label": "Very shiny"}, timeout=10)
    assert patched.status_code == 200 and patched.json()["label"] == "Very shiny"
    assert shown_everywhere(admin,
                            lambda values: values.get("SHINY", {}).get("label") == "Very shiny")
    assert admin.delete(f"{admin.base}/api/generic/status/custom/{pk}/", timeout=10).status_code == 204
    assert shown_everywhere(admin, lambda values: "SHINY" not in values)
    assert admin.get(f"{admin.base}/api/generic/status/custom/{pk}/", timeout=10).status_code == 404


def test_custom_state_validation_and_permissions(admin, make_user):
    bad = admin.post(f"{admin.base}/api/generic/status/custom/", json=state(admin, key=10),
                     timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"key": ["Key must be different from logical key"]}
    html = admin.post(f"{admin.base}/api/generic/status/custom/",
                      json=state(admin, key=31, name="<b>x</b>"), timeout=10)
    assert html.status_code == 400 and html.json() == {"name": ["Remove HTML tags from this value"]}
    plain = make_user("plainstatus")
    denied = plain.post(f"{plain.base}/api/generic/status/custom/", json=state(admin, key=32),
                        timeout=10)
    assert denied.status_code == 403
    assert denied.json() == {"detail": "You do not have permission to perform this action."}
    assert plain.get(f"{plain.base}/api/generic/status/custom/", timeout=10).status_code == 200
    staff_opts = admin.options(f"{admin.base}/api/generic/status/custom/", timeout=10).json()
    assert staff_opts["actions"]["POST"]["reference_status"]["type"] == "choice"
    plain_opts = plain.options(f"{plain.base}/api/generic/status/custom/", timeout=10).json()
    assert "actions" not in plain_opts


def test_paging_envelope_and_export(admin):
    for key in (41, 42, 43):
        r = admin.post(f"{admin.base}/api/generic/status/custom/",
                       json=state(admin, key=key, name=f"page{key}", label=f"Page {key}"),
                       timeout=10)
        assert r.status_code == 201
    page = admin.get(f"{admin.base}/api/generic/status/custom/?limit=1&offset=1&search=page&ordering=key",
                     timeout=10).json()
    assert page["count"] == 3 and [r["key"] for r in page["results"]] == [42]
    assert page["next"] == f"{admin.base}/api/generic/status/custom/?limit=1&offset=2&search=page&ordering=key"
    assert page["previous"] == f"{admin.base}/api/generic/status/custom/?limit=1&search=page&ordering=key"
    bare = admin.get(f"{admin.base}/api/generic/status/custom/?search=page", timeout=10).json()
    assert isinstance(bare, list) and len(bare) == 3
    export = admin.get(f"{admin.base}/api/generic/status/custom/?export=csv&search=page",
                       timeout=10)
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith(
        'attachment; filename="InvenTree_InvenTreeCustomUserStateModel_')
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["ID", "Key", "Name"] and len(rows) == 4
    bad = admin.get(f"{admin.base}/api/generic/status/custom/?export=pdf", timeout=10)
    assert bad.status_code == 400 and bad.json() == {"export": ["Invalid export format"]}


def test_content_types(admin):
    rows = admin.get(f"{admin.base}/api/contenttype/", timeout=10).json()
    assert len(rows) == 99  # a fresh InvenTree 264 database
    one = admin.get(f"{admin.base}/api/contenttype/{rows[0]['pk']}/", timeout=10).json()
    assert one == rows[0]
    assert admin.get(f"{admin.base}/api/contenttype/model/nonexistent/", timeout=10).status_code == 404


def test_replay_rebuilds_identical_api_output(stack, admin):
    r = admin.post(f"{admin.base}/api/generic/status/custom/",
                   json=state(admin, key=51, name="replayed"), timeout=10)
    assert r.status_code == 201
    before = admin.get(f"{admin.base}/api/generic/status/custom/", timeout=10).json()
    assert before
    import sqlalchemy
    url = stack.env.get("STATUS_DATABASE_URL") or f"sqlite:///{stack.data_dir / 'status.sqlite3'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM custom_state"))
        conn.execute(sqlalchemy.text("DELETE FROM import_receipt"))
    engine.dispose()
    fresh = {"Cache-Control": "no-cache"}  # past the gateway's read model, to the service
    assert admin.get(f"{admin.base}/api/generic/status/custom/", headers=fresh,
                     timeout=10).json() == []
    out = stack.run_tool("-m", "svckit.replay", "status")
    assert "replayed" in out
    assert admin.get(f"{admin.base}/api/generic/status/custom/", headers=fresh,
                     timeout=10).json() == before


def test_events_endpoint(admin, make_user):
    r = admin.post(f"{admin.base}/api/generic/status/custom/",
                   json=state(admin, key=61, name="audited"), timeout=10)
    pk = r.json()["pk"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = admin.get(f"{admin.base}/api/events/?service=status&type=custom_state.created"
                           f"&stream=custom_state:{pk}", timeout=10).json()["results"]
        if events:
            break
        time.sleep(0.2)
    assert len(events) == 1
    assert events[0]["payload"]["name"] == "audited" and events[0]["actor"] == "admin"
    paged = admin.get(f"{admin.base}/api/events/?limit=2", timeout=10).json()
    assert paged["count"] >= 2 and len(paged["results"]) == 2
    # the same page without payloads, and one event's payload by its id
    bare = admin.get(f"{admin.base}/api/events/?limit=2&payload=false", timeout=10).json()
    assert bare["results"] == [{k: v for k, v in e.items() if k != "payload"}
                               for e in paged["results"]]
    one = admin.get(f"{admin.base}/api/events/?event_id={events[0]['id']}", timeout=10).json()
    assert one["results"][0]["payload"] == events[0]["payload"]
    r = admin.get(f"{admin.base}/api/events/?payload=perhaps", timeout=10)
    assert (r.status_code, r.json()) == (400, {"payload": ["Must be a valid boolean."]})
    plain = make_user("plainevents")
    assert plain.get(f"{plain.base}/api/events/", timeout=10).status_code == 403


def test_service_that_does_not_answer_gives_503(stack, admin):
    import signal
    replicas = [p for n, p in stack.procs.items() if n.startswith("status")]
    for proc in replicas:  # every replica: another would answer
        proc.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        r = admin.get(f"{admin.base}/api/generic/status/custom/", timeout=20)
        assert r.status_code == 503 and "did not answer" in r.json()["detail"]
        assert time.monotonic() - started < 18  # the stack's RPC_TIMEOUT (10 s), not a hang
    finally:
        for proc in replicas:
            proc.send_signal(signal.SIGCONT)
    assert admin.get(f"{admin.base}/api/generic/status/custom/", timeout=10).status_code == 200


def test_form_and_multipart_bodies(admin):
    data = {k: str(v) for k, v in state(admin, key=81, name="formed").items()}
    r = admin.post(f"{admin.base}/api/generic/status/custom/", data=data, timeout=10)
    assert r.status_code == 201, r.text
    data = {k: str(v) for k, v in state(admin, key=82, name="multi").items()}
    r = admin.post(f"{admin.base}/api/generic/status/custom/",
                   files={k: (None, v) for k, v in data.items()}, timeout=10)
    assert r.status_code == 201, r.text
    assert r.json()["key"] == 82 and r.json()["name"] == "multi"


def test_options_without_fields(admin):
    r = admin.options(f"{admin.base}/api/user/me/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.json()["renders"] == ["application/json"]
