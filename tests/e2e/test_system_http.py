"""System service endpoints over HTTP: project codes, flags, icons, version, admin config."""
import json
from pathlib import Path

import requests

from tests.e2e.conftest import ADMIN


def test_project_codes_with_owner_and_client(admin, make_user):
    owners = admin.get(f"{admin.base}/api/user/owner/?search=admin", timeout=10).json()
    assert owners[0]["label"] == "user" and owners[0]["name"] == "admin"
    r = admin.post(f"{admin.base}/api/project-code/", timeout=10,
                   json={"code": "E2E-1", "description": "end to end",
                         "responsible": owners[0]["pk"]})
    assert r.status_code == 201, r.text
    assert r.json()["responsible_detail"] == owners[0]
    dup = admin.post(f"{admin.base}/api/project-code/", json={"code": "E2E-1"}, timeout=10)
    assert dup.status_code == 400
    assert dup.json() == {"code": ["Project Code with this Project Code already exists."]}
    plain = make_user("plaincodes")
    assert plain.post(f"{plain.base}/api/project-code/", json={"code": "NO"},
                      timeout=10).status_code == 403
    paged = plain.get(f"{plain.base}/api/project-code/?limit=1", timeout=10).json()
    assert paged["count"] >= 1
    pk = r.json()["pk"]
    meta = admin.patch(f"{admin.base}/api/project-code/{pk}/metadata/",
                       json={"metadata": {"a": 1}}, timeout=10)
    assert meta.status_code == 200 and meta.json() == {"metadata": {"a": 1}}
    export = admin.get(f"{admin.base}/api/project-code/?export=tsv", timeout=10)
    assert export.headers["Content-Disposition"].startswith(
        'attachment; filename="InvenTree_ProjectCode_')
    assert export.text.splitlines()[0].split("\t")[:2] == ["ID", "Project Code"]


def test_official_client_project_codes(stack):
    from inventree.api import InvenTreeAPI
    from inventree.project_code import ProjectCode
    api = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    before = ProjectCode.count(api)
    ProjectCode.create(api, {"code": "CLIENT-1", "description": "from the client"})
    assert ProjectCode.count(api) == before + 1
    assert "CLIENT-1" in [p.code for p in ProjectCode.list(api)]
    try:
        ProjectCode.create(api, {"code": "CLIENT-1"})
        raise AssertionError("a duplicate code must fail")
    except requests.HTTPError:
        pass


def test_flags_without_auth(stack):
    flags = requests.get(f"{stack.url}/api/flags/", timeout=10).json()
    assert [f["key"] for f in flags] == ["EXPERIMENTAL", "NEXT_GEN"]
    on = requests.get(f"{stack.url}/api/flags/NEXT_GEN/?ngen=", timeout=10).json()
    assert on == {"key": "NEXT_GEN", "state": True}
    assert requests.get(f"{stack.url}/api/flags/NOPE/", timeout=10).status_code == 404


def test_icons(stack):
    r = requests.get(f"{stack.url}/api/icons/", timeout=10)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "public, max-age=86400"
    packs = r.json()
    assert packs[0]["prefix"] == "ti" and len(packs[0]["icons"]) == 4744
    again = requests.get(f"{stack.url}/api/icons/", headers={"If-None-Match": r.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304
    raw = requests.get(f"{stack.url}/api/icons/", headers={"Accept-Encoding": "identity"},
                       timeout=10, stream=True)
    assert "Content-Encoding" not in raw.headers and json.loads(raw.raw.read()) == packs


def test_version_license_and_admin_config(admin, make_user):
    version = admin.get(f"{admin.base}/api/version/", timeout=10).json()
    assert version["version"]["api"] == 264
    text = admin.get(f"{admin.base}/api/version-text", timeout=10).json()
    assert len(text) == 10
    licenses = admin.get(f"{admin.base}/api/license/", timeout=10).json()
    assert licenses["backend"] and licenses["frontend"] == []
    config = admin.get(f"{admin.base}/api/admin/config/", timeout=10).json()
    keys = {item["key"] for item in config}
    assert {"AMQP_URI", "RPC_TIMEOUT", "STATUS_DATABASE_URL"} <= keys
    item = admin.get(f"{admin.base}/api/admin/config/AMQP_URI/", timeout=10).json()
    assert item["source"] == "env" and "value" not in item and "amqp://" not in json.dumps(item)
    assert admin.get(f"{admin.base}/api/admin/config/NOPE/", timeout=10).status_code == 404
    staff = make_user("staffonly", staff=True)
    assert staff.get(f"{staff.base}/api/admin/config/", timeout=10).status_code == 403
    assert staff.get(f"{staff.base}/api/version/", timeout=10).status_code == 200
    plain = make_user("plainversion")
    assert plain.get(f"{plain.base}/api/version/", timeout=10).status_code == 403


def test_error_events_become_reports_and_staff_notifications(stack, admin, make_user):
    import time

    from gateway.bus import EventBus
    EventBus(stack.env["AMQP_URI"]).publish(
        "error.logged", {"kind": "KeyError", "info": "'boom'", "data": "Traceback: boom",
                         "path": "/api/e2e/"}, actor="admin", request_id="e2e-err")
    deadline = time.monotonic() + 10
    reports = []
    while not reports and time.monotonic() < deadline:
        reports = admin.get(f"{admin.base}/api/error-report/?search=boom", timeout=10).json()
        time.sleep(0.1)
    assert len(reports) == 1 and reports[0]["path"] == "/api/e2e/"
    notes = admin.get(f"{admin.base}/api/notifications/?category=inventree.error_log",
                      timeout=10).json()
    assert notes and notes[-1]["name"] == "Server Error"
    plain = make_user("plainreports")
    assert plain.get(f"{plain.base}/api/error-report/", timeout=10).status_code == 403
    assert plain.get(f"{plain.base}/api/notifications/{notes[-1]['pk']}/",
                     timeout=10).status_code == 403
    assert plain.post(f"{plain.base}/api/notifications/", json={}, timeout=10).status_code == 405
    assert admin.get(f"{admin.base}/api/notifications/readall/", timeout=10).json() == {"status": "ok"}
    r = admin.delete(f"{admin.base}/api/error-report/", json={"items": [reports[0]["pk"]]},
                     timeout=10)
    assert r.status_code == 204
    r = admin.delete(f"{admin.base}/api/error-report/", json={"items": [reports[0]["pk"]]},
                     timeout=10)
    assert r.status_code == 400 and r.json() == {"non_field_errors": "No items found to delete"}
    assert requests.get(f"{stack.url}/api/notifications/readall/", timeout=10).status_code == 401


def test_units_and_generators(admin, make_user):
    r = admin.post(f"{admin.base}/api/units/", json={"name": "e2e_unit", "symbol": "e2u",
                                                     "definition": "3 * meter"}, timeout=10)
    assert r.status_code == 201, r.text
    bad = admin.post(f"{admin.base}/api/units/", json={"name": "abc-def", "definition": "meter"},
                     timeout=10)
    assert bad.status_code == 400 and bad.json() == {"name": ["Unit name must be a valid identifier"]}
    plain = make_user("plainunits")
    for _ in range(4):  # every gateway worker and service process sees the new unit
        everything = plain.get(f"{plain.base}/api/units/all/", timeout=20).json()
        assert "e2e_unit" in everything["available_units"]
    assert plain.patch(f"{plain.base}/api/units/{r.json()['pk']}/", json={"symbol": "x"},
                       timeout=10).status_code == 403
    batch = plain.post(f"{plain.base}/api/generate/batch-code/", json={}, timeout=10)
    assert batch.status_code == 201 and batch.json() == {"batch_code": ""}
    first = plain.post(f"{plain.base}/api/generate/serial-number/", json={"part": 42, "quantity": 3},
                       timeout=10)
    assert first.status_code == 201 and first.json() == {"serial_number": "1,2,3"}
    again = plain.post(f"{plain.base}/api/generate/serial-number/", json={"part": 42}, timeout=10)
    assert again.json() == {"serial_number": "4"}
    bad = plain.post(f"{plain.base}/api/generate/serial-number/", json={"part": 42, "quantity": "abc"},
                     timeout=10)
    assert bad.status_code == 400 and bad.json() == {"quantity": ["A valid integer is required."]}


def test_search_and_test_statistics_answer_honestly(admin):
    r = admin.post(f"{admin.base}/api/search/", json={}, timeout=10)
    assert r.status_code == 400 and r.json() == {"search": "Search term must be provided"}
    r = admin.post(f"{admin.base}/api/search/", json={"search": "x", "part": {}, "stockitem": {}},
                   timeout=10)
    assert r.status_code == 200
    assert set(r.json()) == {"part", "stockitem"} and "not served" in r.json()["part"]["error"]
    r = admin.get(f"{admin.base}/api/test-statistics/by-part/1/", timeout=10)
    assert r.status_code == 404 and "test results" in r.json()["detail"]


def test_action_without_plugins(admin):
    r = admin.post(f"{admin.base}/api/action/?format=json", json={"action": "simple"}, timeout=10)
    assert r.status_code == 200
    assert r.json() == {"error": "No matching action found", "action": "simple"}
    r = admin.post(f"{admin.base}/api/locate/", json={"plugin": "x", "item": 1}, timeout=10)
    assert r.status_code == 400


def test_webhook_over_http(stack):
    out = stack.run_tool("-m", "services.system.cli", "create-webhook", "e2e")
    path = out.splitlines()[0].split(": ")[1]
    token = out.splitlines()[1].split(": ")[1]
    r = requests.post(f"{stack.url}{path}", json={"hello": "world"}, headers={"Token": token},
                      timeout=10)
    assert r.status_code == 200 and r.text == "Message was received."
    r = requests.post(f"{stack.url}{path}", json={}, headers={"Token": "bad"}, timeout=10)
    assert r.status_code == 403 and r.json() == {"detail": "Incorrect token in header."}
    r = requests.post(f"{stack.url}{path}", data=b"{nope", headers={"Token": token}, timeout=10)
    assert r.status_code == 406
    r = requests.post(f"{stack.url}{path}", data=b"x" * (300 * 1024), headers={"Token": token},
                      timeout=10)
    assert r.status_code == 413
    assert requests.get(f"{stack.url}{path}", timeout=10).status_code == 405
    assert requests.post(f"{stack.url}/api/webhook/nope/", json={}, timeout=10).status_code == 404


def test_currency_with_the_official_client(stack):
    from inventree.api import InvenTreeAPI
    from inventree.currency import CurrencyManager
    api = InvenTreeAPI(stack.url, username=ADMIN[0], password=ADMIN[1], timeout=10)
    manager = CurrencyManager(api)
    manager.refreshExchangeRates()
    assert manager.getBaseCurrency() == "USD"
    assert manager.getExchangeRates()["EUR"] == 0.92
    assert round(manager.convertCurrency(100, "EUR", "GBP"), 4) == round(100 / 0.92 * 0.79, 4)


def test_news_is_for_staff(admin, make_user):
    assert admin.get(f"{admin.base}/api/news/", timeout=10).json() == []
    plain = make_user("plainnews")
    assert plain.get(f"{plain.base}/api/news/", timeout=10).status_code == 403


LIVE = Path(__file__).resolve().parents[1] / "data" / "live"


def test_admin_config_keys_are_inventree_s(admin):
    """Entries of settings InvenTree 264 also reads carry its `env_var` and `config_key`."""
    live = {e["key"]: e for e in json.loads((LIVE / "admin-config-keys.json").read_text())}
    admin.get(f"{admin.base}/api/flags/", timeout=10)  # reads INVENTREE_DEBUG and _FLAGS
    admin.get(f"{admin.base}/api/", timeout=10)  # INVENTREE_EMAIL_HOST, INVENTREE_DOCKER
    entries = admin.get(f"{admin.base}/api/admin/config/", timeout=10).json()
    shared = {e["key"]: {k: e[k] for k in ("key", "env_var", "config_key")}
              for e in entries if e["key"] in live}
    assert {"INVENTREE_DEBUG", "INVENTREE_FLAGS", "INVENTREE_EMAIL_HOST",
            "INVENTREE_DOCKER"} <= set(shared)
    assert shared == {key: live[key] for key in shared}
    debug = admin.get(f"{admin.base}/api/admin/config/INVENTREE_DEBUG/", timeout=10).json()
    assert (debug["key"], debug["env_var"], debug["config_key"]) == (
        "INVENTREE_DEBUG", "INVENTREE_DEBUG", "debug")
    ours = {e["key"]: e["config_key"] for e in entries}
    assert ours["AMQP_URI"] == "amqp_uri" and ours["RPC_TIMEOUT"] == "rpc_timeout"
    assert ours["GATEWAY_WORKERS"] == "gateway_workers"  # read by gunicorn's master
