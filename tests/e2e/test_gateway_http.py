"""The gateway's HTTP contract, through gunicorn, RabbitMQ and the real services."""
import base64

import pytest
import requests

from tests.e2e.conftest import ADMIN, TOPOLOGY, eventually


def test_root_document_without_auth(stack):
    r = requests.get(f"{stack.url}/api/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["server"] == "InvenTree" and doc["apiVersion"] == 264
    assert doc["instance"] == "InvenTree" and doc["version"] == "0.17.0 dev"
    for key in ("worker_running", "worker_pending_tasks", "plugins_enabled", "active_plugins",
                "email_configured", "debug_mode", "docker_mode", "default_locale"):
        assert key in doc
    assert doc["database"] is None and doc["system_health"] is None  # not staff


def test_root_document_for_staff(admin):
    doc = admin.get(f"{admin.base}/api/", timeout=10).json()
    assert doc["database"] == ("postgresql" if TOPOLOGY == "cluster" else "sqlite3")
    assert doc["system_health"] is True
    assert doc["platform"]


def test_missing_credentials(stack):
    r = requests.get(f"{stack.url}/api/user/me/", timeout=10)
    assert r.status_code == 401
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    assert r.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header, message", [
    ("Token inv-0000000000000000000000000000000000000000-20240101", "Invalid token."),
    ("Token", "Invalid token header. No credentials provided."),
    ("Token a b", "Invalid token header. Token string should not contain spaces."),
    ("Basic " + base64.b64encode(b"admin:wrong").decode(), "Invalid username/password."),
])
def test_bad_credentials(stack, header, message):
    r = requests.get(f"{stack.url}/api/generic/status/", headers={"Authorization": header},
                     timeout=10)
    assert r.status_code == 401 and r.json() == {"detail": message}


def test_bearer_is_not_accepted_by_the_api(stack):
    r = requests.get(f"{stack.url}/api/user/me/", headers={"Authorization": "Bearer x"},
                     timeout=10)
    assert r.status_code == 401
    assert r.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/nope/", "/api/user/me", "/api/generic/status/custom"])
def test_unknown_api_path(admin, method, path):
    r = admin.request(method, f"{admin.base}{path}", timeout=10)
    assert r.status_code == 404
    assert r.json() == {"detail": "API endpoint not found", "url": f"{admin.base}{path}"}


def test_method_not_allowed(admin):
    r = admin.post(f"{admin.base}/api/user/me/?format=json", json={}, timeout=10)
    assert r.status_code == 405 and r.json() == {"detail": 'Method "POST" not allowed.'}


def test_me_token_roles(stack):
    me = requests.get(f"{stack.url}/api/user/me/?format=json", auth=ADMIN, timeout=10)
    assert me.headers["Content-Type"] == "application/json"
    assert me.json()["username"] == "admin" and me.json()["is_superuser"] is True
    first = requests.get(f"{stack.url}/api/user/token/?name=e2e", auth=ADMIN, timeout=10).json()
    again = requests.get(f"{stack.url}/api/user/token/?name=e2e", auth=ADMIN, timeout=10).json()
    assert first == again and first["name"] == "e2e"
    roles = requests.get(f"{stack.url}/api/user/roles/",
                         headers={"Authorization": f"Token {first['token']}"}, timeout=10).json()
    assert roles["roles"]["part"] == ["view", "add", "change", "delete"]


def test_role_user(make_user):
    user = make_user("rolly", "part:change")
    roles = user.get(f"{user.base}/api/user/roles/", timeout=10).json()
    assert roles["roles"]["part"] == ["view", "change"]
    assert roles["roles"]["stock"] is None and roles["is_staff"] is False


def test_malformed_json_is_a_400(admin):
    r = admin.post(f"{admin.base}/api/generic/status/custom/", data=b"{nope",
                   headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error")


def test_non_integer_id_is_a_404(admin):
    r = admin.get(f"{admin.base}/api/generic/status/custom/abc/", timeout=10)
    assert r.status_code == 404


def test_absurd_page_size(admin):
    r = admin.get(f"{admin.base}/api/contenttype/?limit=99999999", timeout=10)
    assert r.status_code == 400 and "limit" in r.json()


def test_schema_lists_served_paths(stack):
    r = requests.get(f"{stack.url}/api/schema/", timeout=10)
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/generic/status/", "/api/generic/status/custom/{id}/",
                 "/api/contenttype/model/{model}/", "/api/user/me/", "/api/events/"):
        assert path in paths


def test_revoked_token_is_refused_on_the_next_request_on_every_worker(stack, make_user):
    user = make_user("revoker")
    second = requests.get(f"{stack.url}/api/user/token/?name=second", auth=user.credentials,
                          timeout=10).json()["token"]
    headers = {"Authorization": f"Token {second}"}
    for _ in range(6):  # cached on both gateway workers now
        assert requests.get(f"{stack.url}/api/user/me/", headers=headers, timeout=10).ok
    listed = user.get(f"{stack.url}/api/user/tokens/", timeout=10).json()
    assert [t["in_use"] for t in listed] == [True, False]
    assert all("*" in t["token"] and t["token"] != second for t in listed)
    target = next(t for t in listed if t["name"] == "second")
    assert user.delete(f"{stack.url}/api/user/tokens/{target['id']}/", timeout=10).status_code == 204

    def refused_everywhere():  # by every gateway worker: 6 answers in a row
        answers = [requests.get(f"{stack.url}/api/user/me/", headers=headers, timeout=10)
                   for _ in range(6)]
        return all(r.status_code == 401 and r.json() == {"detail": "Token has been revoked"}
                   for r in answers)
    assert eventually(refused_everywhere)
    again = user.get(f"{stack.url}/api/user/tokens/", timeout=10).json()
    assert [t["revoked"] for t in again] == [False, True]
    other = make_user("notmine")
    assert other.delete(f"{stack.url}/api/user/tokens/{target['id']}/", timeout=10).status_code == 404


def test_oversized_body_is_refused(admin):
    r = admin.post(f"{admin.base}/api/generic/status/custom/", data=b"x" * (10 * 1024 * 1024 + 1),
                   headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413 and "exceeds" in r.json()["detail"]
    # the body was not read: gunicorn must say it closes, or the next request on this
    # connection is lost (behind HAProxy, the proxy decides about the client's connection)
    if TOPOLOGY == "stack":
        assert r.headers["Connection"] == "close"
    assert admin.get(f"{admin.base}/api/generic/status/", timeout=10).status_code == 200


def test_refusing_a_large_unread_body_closes_the_connection(admin):
    url = f"{admin.base}/api/generic/status/custom/"
    anonymous = requests.post(url, data=b"x" * (1024 * 1024), timeout=30,
                              headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401
    assert TOPOLOGY == "cluster" or anonymous.headers["Connection"] == "close"
    small = admin.post(url, data=b'{"key": ', headers={"Content-Type": "application/json"},
                       timeout=10)
    assert small.status_code == 400
    assert TOPOLOGY == "cluster" or small.headers["Connection"] == "keep-alive"


def test_json_that_is_not_an_object(admin):
    r = admin.post(f"{admin.base}/api/generic/status/custom/", json=[1, 2], timeout=10)
    assert r.status_code == 400 and "non_field_errors" in r.json()
