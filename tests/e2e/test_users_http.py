"""User management over HTTP: an operator gives a user exactly one permission through the
API alone, and every gateway worker sees the change on the next request."""
import requests

from tests.e2e.conftest import ADMIN


def test_one_permission_through_the_api(admin, stack):
    r = admin.post(f"{admin.base}/api/user/", timeout=10, json={
        "username": "apiuser", "first_name": "Api", "last_name": "User",
        "email": "api@example.com", "password": "Correct-horse-42"})
    assert r.status_code == 201, r.text
    user = r.json()
    assert "password" not in user and user["is_staff"] is False
    group = admin.post(f"{admin.base}/api/user/group/", timeout=10,
                       json={"name": "part-editors", "roles": {"part": ["change"]}}).json()
    assert group["roles"]["part"] == ["view", "change"]
    r = admin.patch(f"{admin.base}/api/user/{user['pk']}/", json={"groups": [group["pk"]]},
                    timeout=10)
    assert r.status_code == 200 and r.json()["groups"] == [{"pk": group["pk"], "name": "part-editors"}]
    token = requests.get(f"{stack.url}/api/user/token/", auth=("apiuser", "Correct-horse-42"),
                         timeout=10).json()["token"]
    headers = {"Authorization": f"Token {token}"}
    for _ in range(4):
        roles = requests.get(f"{stack.url}/api/user/roles/", headers=headers, timeout=10).json()
        assert roles["roles"]["part"] == ["view", "change"] and roles["roles"]["stock"] is None
    admin.patch(f"{admin.base}/api/user/group/{group['pk']}/",
                json={"roles": {"part": ["view", "delete"]}}, timeout=10)
    for _ in range(6):  # on every worker, at once
        roles = requests.get(f"{stack.url}/api/user/roles/", headers=headers, timeout=10).json()
        assert roles["roles"]["part"] == ["view", "change", "delete"]
    r = requests.patch(f"{stack.url}/api/user/me/", headers=headers, json={"is_staff": True},
                       timeout=10)
    assert r.status_code == 403
    assert r.json() == {"detail": "You do not have permission to change this user role."}
    r = requests.post(f"{stack.url}/api/user/group/", headers=headers, json={"name": "x"},
                      timeout=10)
    assert r.status_code == 403
    r = admin.post(f"{admin.base}/api/user/", json={"username": "apiuser", "first_name": "",
                                                   "last_name": "", "email": ""}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"username": ["A user with that username already exists."]}
    assert admin.delete(f"{admin.base}/api/user/{user['pk']}/", timeout=10).status_code == 204
    r = requests.get(f"{stack.url}/api/user/me/", headers=headers, timeout=10)
    assert r.status_code == 401


def test_group_permission_detail(admin):
    group = admin.post(f"{admin.base}/api/user/group/", timeout=10,
                       json={"name": "stock-viewers", "roles": {"stock": ["view"]}}).json()
    plain = admin.get(f"{admin.base}/api/user/group/{group['pk']}/", timeout=10).json()
    assert "permissions" not in plain
    detail = admin.get(f"{admin.base}/api/user/group/{group['pk']}/?permission_detail=true",
                       timeout=10).json()
    assert detail["permissions"]["stockitem"] == ["view"]


def test_user_and_group_details_without_trailing_slash(admin):
    assert admin.get(f"{admin.base}/api/user/1", timeout=10).json()["username"] == "admin"
    groups = admin.get(f"{admin.base}/api/user/group/", timeout=10).json()
    assert admin.get(f"{admin.base}/api/user/group/{groups[0]['pk']}", timeout=10).status_code == 200
    assert admin.get(f"{admin.base}/api/user/tokens/1", timeout=10).status_code == 404


def test_operator_cli_creates_a_user_with_roles(stack):
    out = stack.run_tool("-m", "services.users.cli", "create-user", "cliuser",
                         "--password", "Cli-made-pass-7", "--role", "stock:add")
    assert "created user 'cliuser'" in out
    roles = requests.get(f"{stack.url}/api/user/roles/", auth=("cliuser", "Cli-made-pass-7"),
                         timeout=10).json()
    assert roles["roles"]["stock"] == ["view", "add", "change"] and roles["is_staff"] is False


DENIED = {"detail": "You do not have permission to perform this action."}


def test_staff_cannot_take_over_a_superuser(admin, make_user, stack):
    staff = make_user("takeover", staff=True)
    for change in ({"password": "Taken-over-pass-1"}, {"email": "mine@example.com"},
                   {"is_active": False}):
        r = staff.patch(f"{stack.url}/api/user/1/", json=change, timeout=10)
        assert r.status_code == 403 and r.json() == DENIED, r.text
    r = staff.delete(f"{stack.url}/api/user/1/", timeout=10)
    assert r.status_code == 403 and r.json() == DENIED
    me = admin.get(f"{stack.url}/api/user/1/", timeout=10).json()
    assert me["email"] == "admin@example.com" and me["is_active"] is True
    assert requests.get(f"{stack.url}/api/user/me/", auth=admin.credentials,
                        timeout=10).status_code == 200


def test_other_users_emails_only_for_staff(admin, make_user, stack):
    plain = make_user("nosy")
    assert plain.patch(f"{stack.url}/api/user/me/", json={"email": "nosy@example.com"},
                       timeout=10).status_code == 200
    listed = {u["username"]: u for u in plain.get(f"{stack.url}/api/user/", timeout=10).json()}
    assert listed["admin"]["email"] == "" and listed["nosy"]["email"] == "nosy@example.com"
    assert plain.get(f"{stack.url}/api/user/1/", timeout=10).json()["email"] == ""
    listed = {u["username"]: u for u in admin.get(f"{stack.url}/api/user/", timeout=10).json()}
    assert listed["admin"]["email"] == "admin@example.com"


def test_token_with_a_host_header_that_is_not_a_host(stack):
    """The token's metadata records the server name; a malformed Host is no server error."""
    r = requests.get(f"{stack.url}/api/user/token/?name=oddhost", auth=ADMIN, timeout=10,
                     headers={"Host": "127.0.0.1:80@evil.example"})
    assert r.status_code == 200 and r.json()["name"] == "oddhost"
