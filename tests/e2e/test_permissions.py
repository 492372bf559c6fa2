"""Who may do what, over HTTP, for every served operation (SEMANTICS §1.2, USERS.md, with
InvenTree 264's holes closed): anonymous, a plain user, a user with one role permission,
staff, and the superuser. Each case states the persona's expected status class."""
import base64
import time

import pytest
import requests

from tests.e2e.conftest import ADMIN

A, U, R, S, SU = "anon", "user", "role", "staff", "super"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
       "RU5ErkJggg==")  # a 1x1 image
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
# attachments: the target model's role (the role persona holds part:change; staff no roles)
PART_CHANGE = {A: NOAUTH, U: DENY, R: OK, S: DENY, SU: OK}
ROLE_DENIED = {A: NOAUTH, U: DENY, R: DENY, S: DENY, SU: OK}
# an existing part attachment: invisible (404) without a role granting part's view
PART_VIEW = {A: NOAUTH, U: 404, R: OK, S: 404, SU: OK}
PART_VIEW_ROLE_DENIED = {A: NOAUTH, U: 404, R: DENY, S: 404, SU: OK}
BULK_DENIED = {A: NOAUTH, U: 400, R: 400, S: 400, SU: OK}  # 400, as InvenTree
# import sessions (the superuser's here) exist only for their owner and staff
NOT_OWNER = {A: NOAUTH, U: 404, R: 404, S: OK, SU: OK}
NOT_OWNER_BULK = {A: NOAUTH, U: 400, R: 400, S: OK, SU: OK}  # "No items found to delete"

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
    ("POST", "/api/locate/", {"plugin": "x"}, READ_ANY),
    ("GET", "/api/test-statistics/by-part/1/", None, READ_ANY),
    ("GET", "/api/test-statistics/by-build/1/", None, READ_ANY),
    ("GET", "/api/generic/status/StockStatus/", None, READ_ANY),
    ("GET", "/api/generic/status/custom/{custom_state}/", None, READ_ANY),
    ("OPTIONS", "/api/generic/status/custom/", None, READ_ANY),
    ("PATCH", "/api/generic/status/custom/{custom_state}/", {"label": "L"}, STAFF_ONLY),
    ("DELETE", "/api/generic/status/custom/{custom_state}/", None, STAFF_ONLY),
    ("GET", "/api/contenttype/1/", None, READ_ANY),
    ("GET", "/api/contenttype/model/part/", None, READ_ANY),
    ("GET", "/api/project-code/{project_code}/", None, READ_ANY),
    ("PATCH", "/api/project-code/{project_code}/", {"description": "d"}, STAFF_ONLY),
    ("GET", "/api/project-code/{project_code}/metadata/", None, READ_ANY),
    ("PATCH", "/api/project-code/{project_code}/metadata/", {"metadata": {}}, SUPER_ONLY),
    ("DELETE", "/api/project-code/{project_code}/", None, STAFF_ONLY),
    ("GET", "/api/units/{unit}/", None, READ_ANY),
    ("PATCH", "/api/units/{unit}/", {"symbol": ""}, STAFF_ONLY),
    ("DELETE", "/api/units/{unit}/", None, STAFF_ONLY),
    ("DELETE", "/api/error-report/", {"items": [999999]}, STAFF_ONLY),
    ("GET", "/api/error-report/999999/", None, STAFF_ONLY),
    ("DELETE", "/api/news/", {"items": [999999]}, STAFF_ONLY),
    ("GET", "/api/news/999999/", None, STAFF_ONLY),
    ("DELETE", "/api/notifications/", {"items": [999999]}, READ_ANY),
    ("GET", "/api/notifications/readall/", None, READ_ANY),
    ("GET", "/api/flags/NEXT_GEN/", None, OPEN),
    ("GET", "/api/admin/config/AMQP_URI/", None, SUPER_ONLY),
    ("GET", "/api/user/owner/1/", None, READ_ANY),
    ("GET", "/api/user/1/", None, READ_ANY),
    ("PATCH", "/api/user/1/", {"first_name": ""}, SUPER_ONLY),  # user 1: the superuser
    ("POST", "/api/webhook/unknown/", {}, OPEN),
    ("GET", "/api/auth/user/", None, READ_ANY),
    ("GET", "/api/attachment/", None, READ_ANY),
    ("OPTIONS", "/api/attachment/", None, READ_ANY),
    ("POST", "/api/attachment/", {"model_type": "part", "model_id": 1,
                                  "link": "https://example.com/{p}"}, PART_CHANGE),
    ("POST", "/api/attachment/", {"model_type": "salesorder", "model_id": 1,
                                  "link": "https://example.com/{p}"}, ROLE_DENIED),
    ("GET", "/api/attachment/{attachment}/", None, PART_VIEW),
    ("PATCH", "/api/attachment/{attachment}/", {"comment": "c"}, PART_VIEW),
    ("PATCH", "/api/attachment/{moved}/", {"model_type": "build"}, PART_VIEW_ROLE_DENIED),
    ("GET", "/api/attachment/{attachment}/metadata/", None, PART_VIEW),
    ("PATCH", "/api/attachment/{attachment}/metadata/", {"metadata": {}}, SUPER_ONLY),
    ("DELETE", "/api/attachment/", {"items": ["{doomed}"]}, BULK_DENIED),
    ("DELETE", "/api/attachment/{attachment}/", None, PART_VIEW_ROLE_DENIED),
    ("GET", "/api/notes-image-upload/", None, READ_ANY),
    ("DELETE", "/api/notes-image-upload/{notes_image}/", None, STAFF_ONLY),  # or the uploader
    ("GET", "/media/attachments/part/1/missing.pdf", None, READ_ANY),
    ("GET", "/media/attachments/part/1/perm-plan.txt", None, PART_VIEW),
    # importer: InvenTree 264's list views need a login only; the rest needs Django model
    # permissions that no role grants (superusers); sessions are their owner's and staff's
    ("GET", "/api/importer/models/", None, READ_ANY),
    ("GET", "/api/importer/session/", None, READ_ANY),
    ("OPTIONS", "/api/importer/session/", None, READ_ANY),
    ("POST", "/api/importer/session/", {"model_type": "projectcode"}, READ_ANY),
    ("GET", "/api/importer/session/{import_session}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/session/{import_session}/", {"field_filters": {}}, SUPER_ONLY),
    ("POST", "/api/importer/session/{fields_session}/accept_fields/", None, NOT_OWNER),
    ("GET", "/api/importer/column-mapping/", None, READ_ANY),
    ("GET", "/api/importer/column-mapping/{import_mapping}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/column-mapping/{import_mapping}/", {"column": "description"},
     SUPER_ONLY),
    ("GET", "/api/importer/row/", None, READ_ANY),
    ("GET", "/api/importer/row/{import_row}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/row/{import_row}/", {"data": {"code": "PERM-ROW"}}, SUPER_ONLY),
    ("POST", "/api/importer/session/{import_session}/accept_rows/", {"rows": ["{import_row}"]},
     SUPER_ONLY),
    ("DELETE", "/api/importer/row/", {"items": ["{doomed_row}"]}, SUPER_ONLY),
    ("DELETE", "/api/importer/row/{doomed_row2}/", None, SUPER_ONLY),
    ("GET", "/media/import/perm.csv", None, NOT_OWNER),
    ("DELETE", "/api/importer/session/", {"items": ["{doomed_session}"]}, NOT_OWNER_BULK),
    ("DELETE", "/api/importer/session/{doomed_session2}/", None, SUPER_ONLY),
]


@pytest.fixture(scope="module")
def personas(stack, make_user):
    return persona_sessions(stack, make_user)


@pytest.fixture(scope="module")
def objects(admin):
    """Rows the detail cases act on (a staff persona may delete them; later callers then
    get 404, which is not a refusal)."""
    base = admin.base
    model = admin.get(f"{base}/api/contenttype/model/stockitem/", timeout=10).json()["pk"]
    def attachment(comment):
        return admin.post(f"{base}/api/attachment/", timeout=10, json={
            "model_type": "part", "model_id": 1, "link": "https://example.com/",
            "comment": comment}).json()["pk"]

    def import_session(name="perm.csv"):
        text = "code,description\nPERM-I1,a\nPERM-I2,b\nPERM-I3,c\n"
        made = admin.post(f"{base}/api/importer/session/", timeout=30,
                          data={"model_type": "projectcode"},
                          files={"data_file": (name, text.encode())}).json()
        admin.post(f"{base}/api/importer/session/{made['pk']}/accept_fields/", timeout=10)
        deadline = time.monotonic() + 30
        while admin.get(f"{base}/api/importer/session/{made['pk']}/",
                        timeout=10).json()["status"] != 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        rows = admin.get(f"{base}/api/importer/row/", params={"session": made["pk"]},
                         timeout=10).json()
        return made, [r["pk"] for r in rows]

    session, rows = import_session()
    return {
        "import_session": session["pk"], "import_row": rows[0], "doomed_row": rows[1],
        "doomed_row2": rows[2], "import_mapping": session["column_mappings"][0]["pk"],
        "fields_session": import_session("perm2.csv")[0]["pk"],
        "doomed_session": import_session("perm3.csv")[0]["pk"],
        "doomed_session2": import_session("perm4.csv")[0]["pk"],
        "attachment": attachment("acted on"), "doomed": attachment("bulk deleted"),
        "moved": attachment("moved to build"),
        "notes_image": admin.post(f"{base}/api/notes-image-upload/", timeout=10, files={
            "image": ("perm.png", base64.b64decode(PNG))}).json()["pk"],
        "file": admin.post(f"{base}/api/attachment/", timeout=10,
                           data={"model_type": "part", "model_id": 1},
                           files={"attachment": ("perm-plan.txt", b"plan")}).json()["pk"],
        "project_code": admin.post(f"{base}/api/project-code/", json={"code": "PERM-OBJ"},
                                   timeout=10).json()["pk"],
        "unit": admin.post(f"{base}/api/units/", json={"name": "permobj", "definition": "meter"},
                           timeout=10).json()["pk"],
        "custom_state": admin.post(f"{base}/api/generic/status/custom/", timeout=10, json={
            "key": 301, "name": "permobj", "label": "P", "logical_key": 10, "model": model,
            "reference_status": "StockStatus"}).json()["pk"],
    }


def fill(value, persona, objects):
    """A body value with `{p}` (the persona) and `{<object>}` (a pk) filled in."""
    if isinstance(value, list):
        return [fill(v, persona, objects) for v in value]
    if not isinstance(value, str):
        return value
    if value.startswith("{") and value.strip("{}") in objects:
        return objects[value.strip("{}")]
    return value.format(p=persona)


@pytest.mark.parametrize("method, path, body, expected", CASES,
                         ids=[f"{m} {p}" for m, p, _, _ in CASES])
def test_permission_matrix(personas, objects, method, path, body, expected):
    path = path.format(**objects)
    wrong = []
    for persona, want in expected.items():
        session = personas[persona]
        data = None
        if body is not None:
            data = {k: fill(v, persona, objects) for k, v in body.items()}
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
