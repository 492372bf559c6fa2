"""Who may do what, over HTTP, for every served operation (SEMANTICS §1.2, USERS.md, with
InvenTree 264's holes closed): anonymous, a plain user, a user with one role permission,
staff, and the superuser. Each case states the exact status each persona gets (a 500 never
passes)."""
import base64
import time

import pytest
import requests

from tests.e2e.conftest import ADMIN

A, U, R, S, SU = "anon", "user", "role", "staff", "super"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJ"
       "RU5ErkJggg==")  # a 1x1 image
DENY, NOAUTH = 403, 401


def persona_sessions(stack, make_user):
    anon = requests.Session()
    anon.base = stack.url
    su = requests.Session()
    su.base = stack.url
    su.headers["Authorization"] = "Token " + requests.get(
        f"{stack.url}/api/user/token/", auth=ADMIN, timeout=10).json()["token"]
    return {A: anon, U: make_user("perm_plain"), R: make_user("perm_role", "part:change"),
            S: make_user("perm_staff", staff=True), SU: su}


# (method, path, body, {persona: the exact status}); personas are asked in this order, so
# a staff DELETE leaves the superuser a 404. `ok` is the allowed personas' status: 2xx, or
# the 4xx an allowed caller gets for what the case asks (an unknown plugin, a missing file);
# a 500 never passes.
def read_any(ok=200):
    return {A: NOAUTH, U: ok, R: ok, S: ok, SU: ok}


def open_to_all(ok=200):
    return {A: ok, U: ok, R: ok, S: ok, SU: ok}


def staff_only(ok=200, then=None):
    """`then`: the superuser's status after staff acted (e.g. 404 once staff deleted it)."""
    return {A: NOAUTH, U: DENY, R: DENY, S: ok, SU: ok if then is None else then}


def super_only(ok=200):
    return {A: NOAUTH, U: DENY, R: DENY, S: DENY, SU: ok}


# attachments: the target model's role (the role persona holds part:change; staff no roles)
PART_CHANGE = {A: NOAUTH, U: DENY, R: 201, S: DENY, SU: 201}
ROLE_DENIED = super_only(201)


def part_view(ok=200):
    """An existing part attachment: invisible (404) without a role granting part's view."""
    return {A: NOAUTH, U: 404, R: ok, S: 404, SU: ok}


def part_view_role_denied(ok=200):
    return {A: NOAUTH, U: 404, R: DENY, S: 404, SU: ok}


BULK_DENIED = {A: NOAUTH, U: 400, R: 400, S: 400, SU: 204}  # 400, as InvenTree
# import sessions (the superuser's here) exist only for their owner and staff
NOT_OWNER = {A: NOAUTH, U: 404, R: 404, S: 200, SU: 200}
NOT_OWNER_BULK = {A: NOAUTH, U: 400, R: 400, S: 204, SU: 400}  # "No items found to delete"
NOTHING_TO_DELETE = 400  # a bulk delete of pks that do not exist

CASES = [
    ("GET", "/api/", None, open_to_all()),
    ("GET", "/api/flags/", None, open_to_all()),
    ("GET", "/api/icons/", None, open_to_all()),
    ("GET", "/api/web/ui_preference/", None, open_to_all()),
    ("POST", "/api/email/generate/", {"email": "x@example.com"}, open_to_all()),
    ("GET", "/api/user/me/", None, read_any()),
    ("GET", "/api/user/roles/", None, read_any()),
    ("GET", "/api/user/", None, read_any()),
    ("POST", "/api/user/", {"username": "permmade", "first_name": "", "last_name": "",
                           "email": ""}, super_only(201)),
    ("GET", "/api/user/group/", None, read_any()),
    ("POST", "/api/user/group/", {"name": "perm-group-{p}"}, staff_only(201)),
    ("GET", "/api/user/owner/", None, read_any()),
    ("GET", "/api/user/tokens/", None, read_any()),
    ("GET", "/api/generic/status/", None, read_any()),
    ("GET", "/api/generic/status/custom/", None, read_any()),
    ("POST", "/api/generic/status/custom/", {
        "key": "{n}", "name": "perm-{p}", "label": "P", "logical_key": 10,
        "model": "{stockitem}", "reference_status": "StockStatus"}, staff_only(201)),
    ("GET", "/api/contenttype/", None, read_any()),
    ("GET", "/api/project-code/", None, read_any()),
    ("POST", "/api/project-code/", {"code": "PERM-{p}"}, staff_only(201)),
    ("GET", "/api/units/", None, read_any()),
    ("GET", "/api/units/all/", None, read_any()),
    ("POST", "/api/units/", {"name": "permunit_{p}", "definition": "2 * meter"}, staff_only(201)),
    ("GET", "/api/currency/exchange/", None, read_any()),
    ("POST", "/api/currency/refresh/", {}, staff_only()),
    ("GET", "/api/error-report/", None, staff_only()),
    ("GET", "/api/news/", None, staff_only()),
    ("GET", "/api/notifications/", None, read_any()),
    ("GET", "/api/version/", None, staff_only()),
    ("GET", "/api/version-text", None, staff_only()),
    ("GET", "/api/license/", None, read_any()),
    ("GET", "/api/admin/config/", None, super_only()),
    ("GET", "/api/events/", None, staff_only()),
    ("GET", "/api/events/export/?format=ndjson&service=none", None, staff_only()),
    ("GET", "/api/events/history/?stream=nothing:1", None, staff_only(404)),
    ("GET", "/api/events/stream/?colour=red", None, staff_only(400)),  # checked before filters
    ("POST", "/api/action/", {"action": "x"}, read_any()),
    ("POST", "/api/generate/batch-code/", {}, read_any(201)),
    ("POST", "/api/generate/serial-number/", {"part": 900}, read_any(201)),
    ("POST", "/api/search/", {"search": "x"}, read_any()),
    ("POST", "/api/locate/", {"plugin": "x"}, read_any(400)),  # no such plugin
    ("GET", "/api/test-statistics/by-part/1/", None, read_any(404)),  # no stock here
    ("GET", "/api/test-statistics/by-build/1/", None, read_any(404)),
    ("GET", "/api/generic/status/StockStatus/", None, read_any()),
    ("GET", "/api/generic/status/custom/{custom_state}/", None, read_any()),
    ("OPTIONS", "/api/generic/status/custom/", None, read_any()),
    ("PATCH", "/api/generic/status/custom/{custom_state}/", {"label": "L"}, staff_only()),
    ("DELETE", "/api/generic/status/custom/{custom_state}/", None, staff_only(204, then=404)),
    ("GET", "/api/contenttype/1/", None, read_any()),
    ("GET", "/api/contenttype/model/part/", None, read_any()),
    ("GET", "/api/project-code/{project_code}/", None, read_any()),
    ("PATCH", "/api/project-code/{project_code}/", {"description": "d"}, staff_only()),
    ("GET", "/api/project-code/{project_code}/metadata/", None, read_any()),
    ("PATCH", "/api/project-code/{project_code}/metadata/", {"metadata": {}}, super_only()),
    ("DELETE", "/api/project-code/{project_code}/", None, staff_only(204, then=404)),
    ("GET", "/api/units/{unit}/", None, read_any()),
    ("PATCH", "/api/units/{unit}/", {"symbol": ""}, staff_only()),
    ("DELETE", "/api/units/{unit}/", None, staff_only(204, then=404)),
    ("DELETE", "/api/error-report/", {"items": [999999]}, staff_only(NOTHING_TO_DELETE)),
    ("GET", "/api/error-report/999999/", None, staff_only(404)),
    ("DELETE", "/api/news/", {"items": [999999]}, staff_only(NOTHING_TO_DELETE)),
    ("GET", "/api/news/999999/", None, staff_only(404)),
    ("DELETE", "/api/notifications/", {"items": [999999]}, read_any(NOTHING_TO_DELETE)),
    ("GET", "/api/notifications/readall/", None, read_any()),
    ("GET", "/api/flags/NEXT_GEN/", None, open_to_all()),
    ("GET", "/api/admin/config/AMQP_URI/", None, super_only()),
    ("GET", "/api/user/owner/1/", None, read_any()),
    ("GET", "/api/user/1/", None, read_any()),
    ("PATCH", "/api/user/1/", {"first_name": ""}, super_only()),  # user 1: the superuser
    ("POST", "/api/webhook/unknown/", {}, open_to_all(404)),  # no such endpoint
    ("GET", "/api/auth/user/", None, read_any()),
    ("GET", "/api/attachment/", None, read_any()),
    ("OPTIONS", "/api/attachment/", None, read_any()),
    ("POST", "/api/attachment/", {"model_type": "part", "model_id": 1,
                                  "link": "https://example.com/{p}"}, PART_CHANGE),
    ("POST", "/api/attachment/", {"model_type": "salesorder", "model_id": 1,
                                  "link": "https://example.com/{p}"}, ROLE_DENIED),
    ("GET", "/api/attachment/{attachment}/", None, part_view()),
    ("PATCH", "/api/attachment/{attachment}/", {"comment": "c"}, part_view()),
    ("PATCH", "/api/attachment/{moved}/", {"model_type": "build"}, part_view_role_denied()),
    ("GET", "/api/attachment/{attachment}/metadata/", None, part_view()),
    ("PATCH", "/api/attachment/{attachment}/metadata/", {"metadata": {}}, super_only()),
    ("DELETE", "/api/attachment/", {"items": ["{doomed}"]}, BULK_DENIED),
    ("DELETE", "/api/attachment/{attachment}/", None, part_view_role_denied(204)),
    ("GET", "/api/notes-image-upload/", None, read_any()),
    ("DELETE", "/api/notes-image-upload/{notes_image}/", None,
     staff_only(204, then=404)),  # or the uploader
    ("GET", "/media/attachments/part/1/missing.pdf", None, read_any(404)),
    ("GET", "/media/attachments/part/1/perm-plan.txt", None, part_view()),
    # importer: InvenTree 264's list views need a login only; the rest needs Django model
    # permissions that no role grants (superusers); sessions are their owner's and staff's
    ("GET", "/api/importer/models/", None, read_any()),
    ("GET", "/api/importer/session/", None, read_any()),
    ("OPTIONS", "/api/importer/session/", None, read_any()),
    ("POST", "/api/importer/session/", {"model_type": "projectcode"}, read_any(400)),  # no file
    ("POST", "/api/importer/session/", "{upload}", read_any(201)),
    ("GET", "/api/importer/session/{import_session}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/session/{import_session}/", {"field_filters": {}}, super_only()),
    ("POST", "/api/importer/session/{fields_session}/accept_fields/", None, NOT_OWNER),
    ("GET", "/api/importer/column-mapping/", None, read_any()),
    ("GET", "/api/importer/column-mapping/{import_mapping}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/column-mapping/{import_mapping}/", {"column": "code"},
     super_only()),
    ("GET", "/api/importer/row/", None, read_any()),
    ("GET", "/api/importer/row/{import_row}/", None, NOT_OWNER),
    ("PATCH", "/api/importer/row/{import_row}/", {"data": {"code": "PERM-ROW"}}, super_only()),
    ("POST", "/api/importer/session/{import_session}/accept_rows/", {"rows": ["{import_row}"]},
     super_only(201)),
    ("DELETE", "/api/importer/row/", {"items": ["{doomed_row}"]}, super_only(204)),
    ("DELETE", "/api/importer/row/{doomed_row2}/", None, super_only(204)),
    ("GET", "/media/import/perm.csv", None, NOT_OWNER),
    ("DELETE", "/api/importer/session/", {"items": ["{doomed_session}"]}, NOT_OWNER_BULK),
    ("DELETE", "/api/importer/session/{doomed_session2}/", None, super_only(204)),
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
        "stockitem": model,
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


PERSONA_NUMBER = {A: 401, U: 402, R: 403, S: 404, SU: 405}


def fill(value, persona, objects):
    """A body value with `{p}` (the persona), `{n}` (a number of the persona's own) and
    `{<object>}` (a pk) filled in."""
    if value == "{n}":
        return PERSONA_NUMBER[persona]
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
        sent = {"json": None}
        if body == "{upload}":  # a data file, as multipart
            sent = {"data": {"model_type": "projectcode"},
                    "files": {"data_file": (f"perm-{persona}.csv", b"code\nPERM-UP\n")}}
        elif body is not None:
            sent = {"json": {k: fill(v, persona, objects) for k, v in body.items()}}
        r = session.request(method, f"{session.base}{path}", timeout=20, **sent)
        if r.status_code != want:
            wrong.append(f"{persona}: expected {want}, got {r.status_code} {r.text[:120]}")
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
