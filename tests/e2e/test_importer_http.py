"""The importer over HTTP: gunicorn, RabbitMQ, the importer service and its targets (the
system and status services), real data files; and an import that survives kill -9 of the
importer and of the target service."""
import io
import os
import threading
import time

import pytest
import requests
from openpyxl import Workbook

from tests.e2e.conftest import ADMIN, own_vhost, running_stack, token_session
from tests.importer.xlsxbombs import shared_strings_xlsx


def new_session(session, text, name="codes.csv", model_type="projectcode", **fields):
    body = text.encode() if isinstance(text, str) else text
    # a workbook is scanned while the session is created: minutes on a loaded machine
    return session.post(f"{session.base}/api/importer/session/", timeout=180,
                        data={"model_type": model_type, **fields},
                        files={"data_file": (name, body)})


def wait_status(session, pk, status, seconds=60) -> dict:
    """The session once it reaches `status`. A 503 (the importer restarting after a kill,
    slower on a loaded machine) is waited out like any other state on the way."""
    deadline = time.monotonic() + seconds
    while True:
        answer = session.get(f"{session.base}/api/importer/session/{pk}/", timeout=10)
        found = answer.json()
        if answer.status_code != 503 and found["status"] == status:
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def row_pks(session, pk, **filters) -> list[int]:
    found = session.get(f"{session.base}/api/importer/row/", timeout=30,
                        params={"session": pk, **filters}).json()
    return [r["pk"] for r in found]


@pytest.fixture(scope="module")
def plain(make_user):
    return make_user("importer-plain")


def test_models_lists_what_this_deployment_imports(admin):
    r = admin.get(f"{admin.base}/api/importer/models/", timeout=10)
    assert r.status_code == 200
    assert sorted(r.json(), key=lambda m: m["model_type"]) == [
        {"serializer": "CustomUnitSerializer", "model_type": "customunit", "api_url": None},
        {"serializer": "CustomStateSerializer", "model_type": "inventreecustomuserstatemodel",
         "api_url": None},
        {"serializer": "ProjectCodeSerializer", "model_type": "projectcode",
         "api_url": "/api/project-code/"}]


def test_project_codes_end_to_end(admin):
    text = "Project Code,Description,Ignored\nIMP-1,One,x\nIMP-2,Two,y\n\nIMP-3,,z\n"
    r = new_session(admin, text, field_defaults='{"description": "none given"}')
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == 10 and made["columns"] == ["Project Code", "Description", "Ignored"]
    mappings = {m["field"]: m for m in made["column_mappings"]}
    assert mappings["code"]["column"] == "Project Code"  # by label
    assert mappings["description"]["column"] == "Description"
    pk = made["pk"]

    download = admin.get(admin.base + made["data_file"], timeout=10)
    assert download.status_code == 200 and download.content == text.encode()

    r = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_fields/", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == 20
    done = wait_status(admin, pk, 30)
    assert done["row_count"] == 3
    rows = admin.get(f"{admin.base}/api/importer/row/", timeout=10,
                     params={"session": pk, "limit": 2}).json()
    assert rows["count"] == 3 and len(rows["results"]) == 2
    assert rows["results"][0]["data"] == {"code": "IMP-1", "description": "One"}
    pks = row_pks(admin, pk, valid="true")
    r = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_rows/", json={"rows": pks},
                   timeout=30)
    assert r.status_code == 201 and r.json() == {"rows": pks}
    final = wait_status(admin, pk, 40)
    assert final["completed_row_count"] == 3
    codes = {c["code"]: c["description"] for c in
             admin.get(f"{admin.base}/api/project-code/", timeout=10).json()}
    assert {k: v for k, v in codes.items() if k.startswith("IMP-")} == {
        "IMP-1": "One", "IMP-2": "Two", "IMP-3": "none given"}


def test_defaults_changed_after_reading_apply_to_rows_and_creation(admin):
    """As InvenTree: a session's JSON fields are null until set, and defaults/overrides set
    after the rows were read show in every row's `data` and in what is created."""
    r = new_session(admin, "code,description\nLATE-1,One\nLATE-2,\n")
    made = r.json()
    assert [made[f] for f in ("field_defaults", "field_overrides", "field_filters")] == [
        None, None, None]
    pk = made["pk"]
    admin.post(f"{admin.base}/api/importer/session/{pk}/accept_fields/", timeout=10)
    wait_status(admin, pk, 30)
    r = admin.patch(f"{admin.base}/api/importer/session/{pk}/", timeout=30,
                    json={"field_defaults": {"description": "given later"}})
    assert r.status_code == 200 and r.json()["field_overrides"] is None
    rows = admin.get(f"{admin.base}/api/importer/row/", params={"session": pk},
                     timeout=10).json()
    assert [x["data"]["description"] for x in rows] == ["One", "given later"]
    r = admin.patch(f"{admin.base}/api/importer/session/{pk}/", timeout=30,
                    json={"field_filters": [1]})
    assert r.status_code == 400
    assert admin.get(f"{admin.base}/api/importer/session/{pk}/",
                     timeout=10).json()["field_filters"] is None
    r = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_rows/", timeout=30,
                   json={"rows": [x["pk"] for x in rows]})
    assert r.status_code == 201
    wait_status(admin, pk, 40)
    codes = {c["code"]: c["description"] for c in
             admin.get(f"{admin.base}/api/project-code/", timeout=10).json()}
    assert codes["LATE-1"] == "One" and codes["LATE-2"] == "given later"


def test_xlsx_formulas_stay_text(admin):
    book = Workbook()
    sheet = book.active
    sheet.append(["code", "description"])
    sheet.append(["XL-1", "=1+2"])
    out = io.BytesIO()
    book.save(out)
    r = new_session(admin, out.getvalue(), name="codes.xlsx")
    assert r.status_code == 201, r.text
    pk = r.json()["pk"]
    admin.post(f"{admin.base}/api/importer/session/{pk}/accept_fields/", timeout=10)
    wait_status(admin, pk, 30)
    row = admin.get(f"{admin.base}/api/importer/row/", params={"session": pk},
                    timeout=10).json()[0]
    assert row["row_data"] == {"code": "XL-1", "description": "=1+2"}


@pytest.mark.parametrize("name, body, fields, detail", [
    ("codes.txt", "code\nA\n", {}, {"data_file": [
        "File extension “txt” is not allowed. Allowed extensions are: csv, xlsx, tsv, json."]}),
    ("codes.csv", "", {}, {"data_file": ["Data file contains no headers"]}),
    ("codes.csv", "code,code\nA,B\n", {}, {"data_file": [
        "Data file contains duplicate column 'code'"]}),
    ("codes.csv", "code\nA,B\n", {}, {"data_file": ["Invalid data file dimensions"]}),
    ("codes.csv", b"code\n\xff\xfe\n", {}, {"data_file": [
        "Data file is not UTF-8 text (invalid byte at offset 5)"]}),
    ("codes.csv", "code\nA\n", {"model_type": "stockitem"}, {"model_type": [
        "Model type 'stockitem' cannot be imported here: no running service of this "
        "deployment serves it"]}),
    ("codes.csv", "code\nA\n", {"field_overrides": "[1, 2]"}, {"field_overrides": [
        "Value must be a valid dictionary object"]}),
])
def test_bad_files_are_refused_and_leave_nothing(admin, name, body, fields, detail):
    before = admin.get(f"{admin.base}/api/importer/session/", timeout=10).json()
    r = new_session(admin, body, name=name, **fields)
    assert r.status_code == 400, r.text
    assert r.json() == detail
    assert admin.get(f"{admin.base}/api/importer/session/", timeout=10).json() == before


def test_permissions_as_inventree_264(admin, plain):
    r = new_session(plain, "code,description\nPERM-1,x\n")
    assert r.status_code == 201  # any user may start an import
    pk = r.json()["pk"]
    assert plain.post(f"{plain.base}/api/importer/session/{pk}/accept_fields/",
                      timeout=10).status_code == 200
    wait_status(plain, pk, 30)
    pks = row_pks(plain, pk)
    r = plain.post(f"{plain.base}/api/importer/session/{pk}/accept_rows/", json={"rows": pks},
                   timeout=10)
    assert r.status_code == 403  # model permissions: superusers only at v264
    assert plain.patch(f"{plain.base}/api/importer/session/{pk}/", json={"field_defaults": {}},
                       timeout=10).status_code == 403
    assert requests.get(f"{plain.base}/api/importer/session/", timeout=10).status_code == 401
    r = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_rows/",
                   json={"rows": pks + [10 ** 9]}, timeout=10)
    assert r.status_code == 400
    assert r.json() == {"rows": [f'Invalid pk "{10 ** 9}" - object does not exist.']}


def test_sessions_belong_to_their_user(admin, make_user):
    """Another plain user gets 404 for a session, its mappings, rows and data file, sees
    none of them in lists and cannot bulk delete them; staff see everything; a finished
    session refuses accept_fields."""
    alice, bob = make_user("importer-alice"), make_user("importer-bob")
    staff = make_user("importer-staff", staff=True)
    text = "code,description\nOWN-1,a\nOWN-2,b\n"
    made = new_session(alice, text, name="alice.csv").json()
    pk = made["pk"]
    assert alice.post(f"{alice.base}/api/importer/session/{pk}/accept_fields/",
                      timeout=10).status_code == 200
    wait_status(alice, pk, 30)
    rows = row_pks(alice, pk)
    mapping = made["column_mappings"][0]["pk"]
    details = [f"/api/importer/session/{pk}/", f"/api/importer/column-mapping/{mapping}/",
               f"/api/importer/row/{rows[0]}/", made["data_file"]]
    for path in details:
        assert bob.get(bob.base + path, timeout=10).status_code == 404, path
        for who in (alice, staff, admin):
            assert who.get(who.base + path, timeout=10).status_code == 200, path
    assert alice.get(alice.base + made["data_file"], timeout=10).content == text.encode()
    assert bob.get(bob.base + made["data_file"], headers={"Range": "bytes=0-3"},
                   timeout=10).status_code == 404
    assert bob.post(f"{bob.base}/api/importer/session/{pk}/accept_fields/",
                    timeout=10).status_code == 404
    for path in ("session/", "column-mapping/", "row/"):
        found = bob.get(f"{bob.base}/api/importer/{path}", params={"session": pk},
                        timeout=10).json()
        assert pk not in [x.get("session", x["pk"]) for x in found], path
    assert pk in [x["pk"] for x in staff.get(f"{staff.base}/api/importer/session/",
                                             timeout=10).json()]
    r = bob.delete(f"{bob.base}/api/importer/session/", json={"items": [pk]}, timeout=10)
    assert r.status_code == 400 and r.json() == {"non_field_errors": "No items found to delete"}
    r = bob.delete(f"{bob.base}/api/importer/session/", timeout=10,
                   json={"filters": {"model_type": "projectcode"}})
    assert r.status_code == 400
    assert alice.get(f"{alice.base}/api/importer/session/{pk}/", timeout=10).status_code == 200

    r = admin.post(f"{admin.base}/api/importer/session/{pk}/accept_rows/", json={"rows": rows},
                   timeout=30)
    assert r.status_code == 201, r.text
    wait_status(alice, pk, 40)
    r = alice.post(f"{alice.base}/api/importer/session/{pk}/accept_fields/", timeout=10)
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Import session is already complete"]}
    assert wait_status(alice, pk, 40)["completed_row_count"] == 2
    r = staff.delete(f"{staff.base}/api/importer/session/", json={"items": [pk]}, timeout=10)
    assert r.status_code == 204
    assert alice.get(alice.base + made["data_file"], timeout=10).status_code == 404


def peak_rss_kb(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def importer_pids(stack) -> list[int]:
    """Every importer replica (one in a stack, two in a cluster)."""
    return [proc.pid for name, proc in stack.procs.items() if name.startswith("importer-")]


def children_of(*pids: int) -> set[int]:
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) in pids:
                    found.add(int(entry))
        except (OSError, ValueError, IndexError):
            pass  # gone meanwhile
    return found


def test_hostile_files_are_refused_and_the_importer_stays_small(admin, stack):
    """Deeply nested JSON (48 KB here: the 400 KB file of the report took 23 GB, growing
    with the square of the depth) and a workbook of a million zipped shared strings are
    400s, and the importer process itself never reads them."""
    importers = importer_pids(stack)
    before = {pid: peak_rss_kb(pid) for pid in importers}
    r = new_session(admin, b"[" * 48_000, name="deep.json")
    assert r.status_code == 400, r.text
    assert r.json() == {"data_file": ["Data file is nested too deeply (more than 32 levels)"]}
    r = new_session(admin, shared_strings_xlsx(1_000_000), name="strings.xlsx")
    assert r.status_code == 400, r.text
    assert r.json() == {"data_file": [
        "Data file contains too many shared strings (more than 250000)"]}
    assert all(peak_rss_kb(pid) - before[pid] < 64 * 1024 for pid in importers)


def test_importer_answers_while_a_file_is_scanned(admin, stack):
    """A slow workbook is scanned by a child process; the importer answers other calls
    meanwhile (they answered 503 while it parsed in its own event loop)."""
    importers = importer_pids(stack)
    idle = children_of(*importers)
    answers = []
    creating = threading.Thread(target=lambda: answers.append(
        new_session(admin, shared_strings_xlsx(200_000), name="slow.xlsx")))
    creating.start()
    deadline = time.monotonic() + 60
    while not children_of(*importers) - idle and creating.is_alive() \
            and time.monotonic() < deadline:
        time.sleep(0.005)
    scanning = children_of(*importers) - idle
    assert scanning, "no scanner process was started"
    r = admin.get(f"{admin.base}/api/importer/session/", params={"limit": 1}, timeout=10)
    assert r.status_code == 200, r.text
    assert scanning & children_of(*importers)  # it answered while the scan was still running
    creating.join()
    assert answers[0].status_code == 201, answers[0].text
    assert answers[0].json()["columns"] == ["code"]


def test_import_survives_kill_9_of_importer_and_target(tmp_path, rates_server, smtp):
    """kill -9 the importer while it parses and the system service while it creates: after
    restarts every row is imported exactly once."""
    total = 3000
    text = "code,description\n" + "".join(f"K-{i:05d},row {i}\n" for i in range(total))
    with own_vhost() as vhost, running_stack(tmp_path, vhost, rates_server, smtp,
                                             IMPORT_BATCH_ROWS="100", IMPORT_CREATE_BATCH_ROWS="100",
                                             IMPORT_LEASE_SECONDS="2",
                                             IMPORT_POLL_SECONDS="0.5") as stack:
        admin = token_session(stack, ADMIN)
        pk = new_session(admin, text).json()["pk"]
        admin.post(f"{admin.base}/api/importer/session/{pk}/accept_fields/", timeout=10)
        at_kill = _kill_when(stack, "importer-0", admin, pk, "row_count", 500)
        assert at_kill["status"] == 20 and at_kill["row_count"] < total  # mid-parse
        done = wait_status(admin, pk, 30, seconds=120)
        assert done["row_count"] == total
        indexes = [r["row_index"] for r in admin.get(
            f"{admin.base}/api/importer/row/", params={"session": pk}, timeout=60).json()]
        assert sorted(indexes) == list(range(total))  # each file row exactly once

        pks = row_pks(admin, pk)
        answers = []
        accepting = threading.Thread(target=lambda: answers.append(admin.post(
            f"{admin.base}/api/importer/session/{pk}/accept_rows/", json={"rows": pks},
            timeout=120)))
        accepting.start()
        at_kill = _kill_when(stack, "system-0", admin, pk, "completed_row_count", 300)
        assert at_kill["completed_row_count"] < total  # mid-creation
        accepting.join()
        assert answers[0].status_code == 201, answers[0].text
        final = wait_status(admin, pk, 40, seconds=180)
        assert final["completed_row_count"] == total
        codes = [c["code"] for c in admin.get(f"{admin.base}/api/project-code/",
                                              timeout=60).json()]
        imported = [c for c in codes if c.startswith("K-")]
        assert len(imported) == total and len(set(imported)) == total


def _kill_when(stack, name, admin, pk, counter, threshold, wait=60) -> dict:
    """kill -9 process `name` once the session's `counter` reaches `threshold`, then start
    it again; returns the session as it was just before the kill."""
    deadline = time.monotonic() + wait
    while True:
        answer = admin.get(f"{admin.base}/api/importer/session/{pk}/", timeout=10)
        if answer.status_code != 503:  # a loaded machine's slow answer: ask again
            seen = answer.json()
            if seen[counter] >= threshold:
                break
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.02)
    stack.kill(name)
    time.sleep(0.5)
    assert name in stack.restart_dead()
    return seen
