"""Who may do what, over HTTP, for every served operation (SEMANTICS §1.2, USERS.md, with
InvenTree 264's holes closed): anonymous, a plain user, a user with one role permission,
staff, and the superuser. Each case states the persona's expected status class."""
import pytest
import requests

from tests.e2e.conftest import ADMIN

A, U, R, S, SU = "anon", "user", "role", "staff", "super"
OK, DENY, NOAUTH = "ok", 403, 401


def persona_sessions(stack, make_user):
    anon = requests.Session()
    anon.base = stack.url
    su = requests.Session()
    su.base = stack.url
    su.headers["Authorization"] = "Token " + requests.get(
        f"{stack.url}/api/user/token/", auth=ADMIN, timeout=10).json()["token"]
    return {A: anon, U: make_user("perm_plain"), R: make_user("perm_role", "part:change"),
            S: make_user("perm_staff", staff=True), SU: su}


# (method, path, body, {persona: expected}); "ok" means any answer but 401/403
READ_ANY = {A: NOAUTH, U: OK, R: OK, S: OK, SU: OK}
OPEN = {A: OK, U: OK, R: OK, S: OK, SU: OK}
STAFF_ONLY = {A: NOAUTH, U: DENY, R: DENY, S: OK, SU: OK}
SUPER_ONLY = {A: NOAUTH, U: DENY, R: DENY, S: DENY, SU: OK}

CASES = [
    ("GET", "/api/", None, OPEN),
    ("GET", "/api/flags/", None, OPEN),
    ("GET", "/api/icons/", None, OPEN),
    ("GET", "/api/web/ui_preference/", None, OPEN),
    ("POST", "/api/email/generate/", {"email": "x@example.com"}, OPEN),
    ("GET", "/api/user/me/", None, READ_ANY),
    ("GET", "/api/user/roles/", None, READ_ANY),
    ("GET", "/api/user/", None, READ_ANY),
    ("POST", "/api/user/", {"username": "permmade", "first_name": "", "last_name": "",
                           "email": ""}, SUPER_ONLY),
    ("GET", "/api/user/group/", None, READ_ANY),
    ("POST", "/api/user/group/", {"name": "perm-group-{p}"}, STAFF_ONLY),
    ("GET", "/api/user/owner/", None, READ_ANY),
    ("GET", "/api/user/tokens/", None, READ_ANY),
    ("GET", "/api/generic/status/", None, READ_ANY),
    ("GET", "/api/generic/status/custom/", None, READ_ANY),
    ("POST", "/api/generic/status/custom/", {"key": 0}, STAFF_ONLY),
    ("GET", "/api/contenttype/", None, READ_ANY),
    ("GET", "/api/project-code/", None, READ_ANY),
    ("POST", "/api/project-code/", {"code": "PERM-{p}"}, STAFF_ONLY),
    ("GET", "/api/units/", None, READ_ANY),
    ("GET", "/api/units/all/", None, READ_ANY),
    ("POST", "/api/units/", {"name": "permunit_{p}", "definition": "2 * meter"}, STAFF_ONLY),
    ("GET", "/api/currency/exchange/", None, READ_ANY),
    ("POST", "/api/currency/refresh/", {}, STAFF_ONLY),
    ("GET", "/api/error-report/", None, STAFF_ONLY),
    ("GET", "/api/news/", None, STAFF_ONLY),
    ("GET", "/api/notifications/", None, READ_ANY),
    ("GET", "/api/version/", None, STAFF_ONLY),
    ("GET", "/api/version-text", None, STAFF_ONLY),
    ("GET", "/api/license/", None, READ_ANY),
    ("GET", "/api/admin/config/", None, SUPER_ONLY),
    ("GET", "/api/events/", None, STAFF_ONLY),
    ("POST", "/api/action/", {"action": "x"}, READ_ANY),
    ("POST", "/api/generate/batch-code/", {}, READ_ANY),
    ("POST", "/api/generate/serial-number/", {"part": 900}, READ_ANY),
    ("POST", "/api/search/", {"search": "x"}, READ_ANY),
]


@pytest.fixture(scope="module")
def personas(stack, make_user):
    return persona_sessions(stack, make_user)


@pytest.mark.parametrize("method, path, body, expected", CASES,
                         ids=[f"{m} {p}" for m, p, _, _ in CASES])
def test_permission_matrix(personas, method, path, body, expected):
    wrong = []
    for persona, want in expected.items():
        session = personas[persona]
        data = None
        if body is not None:
            data = {k: (v.format(p=persona) if isinstance(v, str) else v) for k, v in body.items()}
        r = session.request(method, f"{session.base}{path}", json=data, timeout=20)
        got = r.status_code
        if (want == OK and got in (401, 403)) or (want != OK and got != want):
            wrong.append(f"{persona}: expected {want}, got {got} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_metadata_writes_need_a_superuser(personas):
    su, staff = personas[SU], personas[S]
    pk = su.post(f"{su.base}/api/project-code/", json={"code": "PERM-META"}, timeout=10).json()["pk"]
    url = f"/api/project-code/{pk}/metadata/"
    assert staff.get(f"{staff.base}{url}", timeout=10).status_code == 200
    assert staff.patch(f"{staff.base}{url}", json={"metadata": {}}, timeout=10).status_code == 403
    assert su.patch(f"{su.base}{url}", json={"metadata": {"x": 1}}, timeout=10).status_code == 200


def test_users_edit_only_themselves_unless_staff(personas):
    plain, staff = personas[U], personas[S]
    other = staff.get(f"{staff.base}/api/user/?search=perm_role", timeout=10).json()[0]
    r = plain.patch(f"{plain.base}/api/user/{other['pk']}/", json={"first_name": "x"}, timeout=10)
    assert r.status_code == 403
    assert plain.delete(f"{plain.base}/api/user/{other['pk']}/", timeout=10).status_code == 403
    r = staff.patch(f"{staff.base}/api/user/{other['pk']}/", json={"first_name": "Rolf"}, timeout=10)
    assert r.status_code == 200
    r = staff.patch(f"{staff.base}/api/user/{other['pk']}/", json={"is_staff": True}, timeout=10)
    assert r.status_code == 403
