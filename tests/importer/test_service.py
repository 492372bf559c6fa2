"""The importer service's rules against real databases and a real target: the system
service's import-target entrypoints, called in-process instead of over RabbitMQ."""
import json
import os
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.importer import models
from services.importer.processing import Processor
from services.importer.service import Service
from services.importer.settings import ImporterSettings
from services.importer.targets import KNOWN_MODELS
from services.system import models as system_models
from services.system.service import Service as SystemService
from svckit.blobstore import LocalBlobStore
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ServiceUnavailable, ValidationFailed
from tests.helpers import STAFF, USER, sqlite_database, worker_factory


class Users:
    def owners(self, pks):
        return {}


class InProcessTargets:
    """The TargetClient interface, answered by a real system service worker."""

    def __init__(self, system_db):
        self.system_db = system_db
        self.down = False
        self.calls = []
        self.created: list[int] = []  # rows of each import_create call

    def models(self):
        return {m: {"serializer": KNOWN_MODELS[m], "model_type": m, "service": "system",
                    "api_url": "/api/project-code/" if m == "projectcode" else None,
                    "label": m} for m in ("customunit", "projectcode")}

    def service_for(self, model_type):
        from services.importer.targets import TargetClient
        return TargetClient.service_for(self, model_type)

    def call(self, service, method, caller=None, timeout=None, **kwargs):
        if self.down:
            raise ServiceUnavailable({"detail": "The system service is not running"})
        self.calls.append(method)
        if method == "import_create":
            self.created.append(len(kwargs["rows"]))
        worker = worker_factory(SystemService, db=self.system_db, caller=caller or STAFF,
                                users=Users())
        return getattr(worker, method)(**kwargs)


@pytest.fixture
def system_db(tmp_path):
    with sqlite_database(tmp_path / "system.sqlite3", system_models.metadata) as db:
        yield db


@pytest.fixture
def env(make_db, system_db, tmp_path):
    # `accept_rows` would wait IMPORT_ACCEPT_WAIT_SECONDS for rows that only `work()` creates
    def settings_with(**more):
        return ImporterSettings(**{"IMPORT_ACCEPT_WAIT_SECONDS": 0,
                                   "INVENTREE_DATA_DIR": str(tmp_path), **more})

    settings = settings_with()
    db = make_db(models.metadata)
    blobs = LocalBlobStore(tmp_path / "media")
    targets = InProcessTargets(system_db)

    class Wake:
        def __call__(self):
            pass

        @staticmethod
        def stopping():
            return False

    def svc(caller=STAFF, **more):
        return worker_factory(Service, db=db, caller=caller, blobs=blobs, targets=targets,
                              wake=Wake(), settings=settings_with(**more))

    def work():
        while Processor(db, blobs, targets, "test", settings).run():
            pass

    def upload(text: str, name="codes.csv") -> dict:
        key = f"incoming/{uuid.uuid4().hex}"
        info = blobs.write(key, [text.encode()])
        return {"key": key, "name": name, "size": info.size, "sha256": info.sha256}

    class Env:
        pass

    e = Env()
    e.db, e.blobs, e.targets, e.svc, e.work, e.upload = db, blobs, targets, svc, work, upload
    e.system_db, e.settings, e.settings_with = system_db, settings, settings_with
    return e


CODES = "Code,Description,Extra\nPRJ-1,First,x\nPRJ-2,Second,y\n,,\nPRJ-3,Third,z\n"


def project_codes(system_db) -> list[tuple]:
    with system_db.read() as s:
        return sorted(s.execute(select(system_models.project_codes.c.code,
                                       system_models.project_codes.c.description)).all())


def test_create_maps_columns_and_keeps_the_file(env):
    made = env.svc().create_session(data={"model_type": "projectcode"},
                                    upload=env.upload(CODES))
    assert made["status"] == 10 and made["model_type"] == "projectcode"
    assert made["columns"] == ["Code", "Description", "Extra"]
    assert made["data_file"] == "/media/import/codes.csv"
    assert {m["field"]: m["column"] for m in made["column_mappings"]} == {
        "code": "Code", "description": "Description", "responsible": ""}
    assert made["user"] == STAFF.user_id and made["user_detail"]["username"] == "admin"
    assert made["row_count"] == 0 and made["completed_row_count"] == 0
    assert [k for k, _ in env.blobs.list("")] == ["import/codes.csv"]  # incoming is gone


def test_full_flow_to_complete(env):
    svc = env.svc()
    session = svc.create_session(data={"model_type": "projectcode",
                                       "field_defaults": '{"description": "dflt"}'},
                                 upload=env.upload(CODES))
    pk = session["pk"]
    assert svc.accept_fields(pk)["status"] == 20
    env.work()
    session = svc.get_session(pk)
    assert session["status"] == 30 and session["row_count"] == 3
    found = svc.list_rows(params={"session": pk})["results"]
    assert [r["row_index"] for r in found] == [0, 1, 3]  # the empty row is skipped, counted
    assert found[0]["row_data"] == {"Code": "PRJ-1", "Description": "First", "Extra": "x"}
    assert found[0]["data"] == {"code": "PRJ-1", "description": "First"}
    assert all(r["valid"] and r["errors"] is None for r in found)
    svc.accept_rows(pk, {"rows": [r["pk"] for r in found[:2]]})
    env.work()
    assert svc.get_session(pk)["completed_row_count"] == 2
    assert svc.get_session(pk)["status"] == 30
    svc.accept_rows(pk, {"rows": [found[2]["pk"]]})
    env.work()
    done = svc.get_session(pk)
    assert done["status"] == 40 and done["completed_row_count"] == 3
    assert project_codes(env.system_db) == [("PRJ-1", "First"), ("PRJ-2", "Second"),
                                            ("PRJ-3", "Third")]
    with pytest.raises(ValidationFailed) as exc:
        svc.accept_rows(pk, {"rows": [found[0]["pk"]]})
    assert exc.value.detail == {"rows": ["Row has already been completed"]}


def test_invalid_rows_and_row_edits(env):
    svc = env.svc()
    text = "code,description\nDUP,a\nDUP,b\n" + "L" * 60 + ",too long\n"
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(text))["pk"]
    svc.accept_fields(pk)
    env.work()
    found = svc.list_rows(params={"session": pk})["results"]
    assert [r["valid"] for r in found] == [True, True, False]
    assert "code" in found[2]["errors"]
    with pytest.raises(ValidationFailed) as exc:
        svc.accept_rows(pk, {"rows": [found[2]["pk"]]})
    assert exc.value.detail == {"rows": ["Row contains invalid data"]}
    fixed = svc.update_row(found[2]["pk"], {"data": {"code": "SHORT"}}, partial=True)
    assert fixed["valid"] and fixed["errors"] is None and fixed["data"] == {"code": "SHORT"}
    # both DUP rows validate alone; the second fails when created, and says so
    svc.accept_rows(pk, {"rows": [r["pk"] for r in found]})
    env.work()
    rows = {r["pk"]: r for r in svc.list_rows(params={"session": pk})["results"]}
    assert rows[found[0]["pk"]]["complete"] and rows[found[2]["pk"]]["complete"]
    second = rows[found[1]["pk"]]
    assert not second["complete"] and not second["valid"] and "code" in second["errors"]
    assert svc.get_session(pk)["status"] == 30
    svc.delete_row(second["pk"])  # the rest is complete now
    assert svc.get_session(pk)["status"] == 40


def test_creation_is_exactly_once_when_a_batch_is_retried(env):
    """The target created the rows but the importer died before recording it: the retried
    batch gets the same pks back and creates nothing twice."""
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.work()
    ids = [r["pk"] for r in svc.list_rows(params={"session": pk})["results"]]
    svc.accept_rows(pk, {"rows": ids})
    processor = Processor(env.db, env.blobs, env.targets, "test", env.settings)
    original = processor.targets.call

    def call_then_crash(service, method, **kwargs):
        answer = original(service, method, **kwargs)
        if method == "import_create":
            raise KeyboardInterrupt("killed after the target committed")
        return answer

    processor.targets = type("T", (), {"call": staticmethod(call_then_crash),
                                       "service_for": env.targets.service_for})()
    with pytest.raises(KeyboardInterrupt):
        processor.run()
    assert len(project_codes(env.system_db)) == 3
    assert svc.get_session(pk)["completed_row_count"] == 0
    env.work()  # a restarted process takes the (released or expired) lease over
    assert svc.get_session(pk)["status"] == 40
    assert len(project_codes(env.system_db)) == 3


def test_target_down_leaves_the_session_resumable(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.targets.down = True
    with pytest.raises(ServiceUnavailable):
        Processor(env.db, env.blobs, env.targets, "test", env.settings).run()
    assert svc.get_session(pk)["status"] == 20
    env.targets.down = False
    env.work()
    assert svc.get_session(pk)["status"] == 30 and svc.get_session(pk)["row_count"] == 3


def test_parsing_resumes_after_the_last_committed_batch(env):
    svc = env.svc()
    text = "code\n" + "".join(f"C{i}\n" for i in range(7))
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(text))["pk"]
    svc.accept_fields(pk)
    stops = iter([False, False, True])  # stop after the second batch, as a shutdown would
    Processor(env.db, env.blobs, env.targets, "a", env.settings_with(IMPORT_BATCH_ROWS=2),
              lambda: next(stops, True)).run()
    assert svc.get_session(pk)["row_count"] == 4 and svc.get_session(pk)["status"] == 20
    env.work()
    found = svc.list_rows(params={"session": pk})["results"]
    assert [r["row_data"]["code"] for r in found] == [f"C{i}" for i in range(7)]
    assert svc.get_session(pk)["status"] == 30


def test_rows_are_created_in_batches_of_their_own_size(env):
    """Creation batches are IMPORT_CREATE_BATCH_ROWS rows, not the reading batches'
    IMPORT_BATCH_ROWS: each is one transaction in the target that holds the model's id
    counter until it commits, so a user's own create of that model waits for one batch at
    most (a 1,000-row batch kept project codes waiting past the gateway's RPC deadline)."""
    svc = env.svc()
    text = "code\n" + "".join(f"B{i}\n" for i in range(7))
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(text))["pk"]
    svc.accept_fields(pk)
    settings = env.settings_with(IMPORT_BATCH_ROWS=5, IMPORT_CREATE_BATCH_ROWS=2)
    while Processor(env.db, env.blobs, env.targets, "a", settings).run():
        pass
    found = svc.list_rows(params={"session": pk})["results"]
    svc.accept_rows(pk, {"rows": [r["pk"] for r in found]})
    while Processor(env.db, env.blobs, env.targets, "a", settings).run():
        pass
    assert env.targets.created == [2, 2, 2, 1]
    assert svc.get_session(pk)["completed_row_count"] == 7
    assert [c for c, _ in project_codes(env.system_db)] == sorted(f"B{i}" for i in range(7))


def test_lease_keeps_a_second_process_away(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    first = Processor(env.db, env.blobs, env.targets, "first", env.settings)
    assert first._take_lease(pk)
    assert not Processor(env.db, env.blobs, env.targets, "second", env.settings).run()
    assert svc.get_session(pk)["status"] == 20
    first._release_lease(pk)
    env.work()
    assert svc.get_session(pk)["status"] == 30


@pytest.mark.parametrize("data, name, text, detail", [
    ({"model_type": "projectcode"}, "codes.txt", CODES, {"data_file": [
        "File extension “txt” is not allowed. Allowed extensions are: csv, xlsx, tsv, json."]}),
    ({"model_type": "projectcode"}, "codes.csv", "", {"data_file": [
        "Data file contains no headers"]}),
    ({"model_type": "nonsense"}, "codes.csv", CODES, {"model_type": [
        '"nonsense" is not a valid choice.']}),
    ({"model_type": "part"}, "codes.csv", CODES, {"model_type": [
        "Model type 'part' cannot be imported here: no running service of this deployment "
        "serves it"]}),
    ({"model_type": "projectcode", "field_defaults": "[1, 2]"}, "codes.csv", CODES,
     {"field_defaults": ["Value must be a valid dictionary object"]}),
    ({"model_type": "projectcode", "field_overrides": "{bad"}, "codes.csv", CODES,
     {"field_overrides": ["Value must be a valid dictionary object"]}),
])
def test_bad_sessions_leave_nothing(env, data, name, text, detail):
    with pytest.raises(ValidationFailed) as exc:
        env.svc().create_session(data=data, upload=env.upload(text, name))
    assert exc.value.detail == detail
    assert [k for k, _ in env.blobs.list("import/")] == []
    assert env.svc().list_sessions(params={})["results"] == []


def test_accept_fields_needs_required_fields(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"},
                            upload=env.upload("name,other\nA,B\n"))["pk"]
    with pytest.raises(ValidationFailed) as exc:
        svc.accept_fields(pk)
    assert exc.value.detail == {"error": ["Some required fields have not been mapped"],
                                "fields": ["code"]}
    mapping = next(m for m in svc.get_session(pk)["column_mappings"] if m["field"] == "code")
    with pytest.raises(ValidationFailed) as exc:
        svc.update_column_mapping(mapping["pk"], {"column": "nope"}, partial=True)
    assert exc.value.detail == {"column": ["Column does not exist in the data file"]}
    assert svc.update_column_mapping(mapping["pk"], {"column": "name"}, True)["column"] == "name"
    assert svc.accept_fields(pk)["status"] == 20


def test_overrides_and_booleans(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "customunit",
                                  "field_overrides": {"symbol": "Q"}},
                            upload=env.upload("name,definition\nqux,10 m\n"))["pk"]
    assert "symbol" not in {m["field"] for m in svc.get_session(pk)["column_mappings"]}
    svc.accept_fields(pk)
    env.work()
    row = svc.list_rows(params={"session": pk})["results"][0]
    assert row["data"] == {"name": "qux", "definition": "10 m"} and row["valid"]


def test_permissions(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    plain = env.svc(USER)
    for call in (lambda: plain.update_session(pk, {"field_defaults": {}}, True),
                 lambda: plain.delete_session(pk),
                 lambda: plain.accept_rows(pk, {"rows": [1]})):
        with pytest.raises(PermissionDenied):
            call()
    anonymous = env.svc(Caller())
    with pytest.raises(Exception) as exc:
        anonymous.list_sessions(params={})
    assert type(exc.value).__name__ == "NotAuthenticated"


OTHER = Caller(user_id=3, username="other")
STAFF_ONLY = Caller(user_id=4, username="staffer", is_staff=True)


def test_sessions_belong_to_their_user(env):
    """Sessions, mappings, rows and data files are the owner's and staff's; to anyone else
    they do not exist."""
    owner = env.svc(USER)
    made = owner.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))
    pk, key = made["pk"], made["data_file"].removeprefix("/media/")
    mapping = made["column_mappings"][0]["pk"]
    owner.accept_fields(pk)
    env.work()
    row = owner.list_rows(params={"session": pk})["results"][0]["pk"]
    theirs = env.svc().create_session(data={"model_type": "projectcode"},
                                      upload=env.upload(CODES, "admin.csv"))["pk"]

    other = env.svc(OTHER)
    for call in (lambda: other.get_session(pk), lambda: other.accept_fields(pk),
                 lambda: other.get_column_mapping(mapping), lambda: other.get_row(row),
                 lambda: other.media_file(key)):
        with pytest.raises(NotFound):
            call()
    assert other.list_sessions(params={})["results"] == []
    assert other.list_sessions(params={"user": USER.user_id, "limit": 5}) == {
        "count": 0, "results": [], "limit": 5, "offset": 0}
    assert other.list_column_mappings(params={"session": pk})["results"] == []
    assert other.list_rows(params={})["results"] == []
    for body in ({"items": [pk, theirs]}, {"filters": {"model_type": "projectcode"}}):
        with pytest.raises(ValidationFailed) as exc:
            other.bulk_delete_sessions(body)
        assert exc.value.detail == {"non_field_errors": "No items found to delete"}

    assert [x["pk"] for x in owner.list_sessions(params={})["results"]] == [pk]
    assert owner.get_row(row)["session"] == pk and owner.media_file(key)["size"] > 0
    assert owner.get_column_mapping(mapping)["session"] == pk
    assert owner.bulk_delete_sessions({"filters": {"model_type": "projectcode"}}) == 1
    assert [x["pk"] for x in env.svc().list_sessions(params={})["results"]] == [theirs]

    staff = env.svc(STAFF_ONLY)  # staff see (and bulk delete) every session
    assert staff.get_session(theirs)["pk"] == theirs
    assert staff.media_file("import/admin.csv")["size"] > 0
    assert staff.bulk_delete_sessions({"items": [theirs]}) == 1


def test_accept_fields_refuses_a_session_with_created_rows(env):
    """Reading the file again would create every row a second time."""
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.work()
    found = [r["pk"] for r in svc.list_rows(params={"session": pk})["results"]]
    svc.accept_rows(pk, {"rows": found[:1]})
    env.work()
    with pytest.raises(ValidationFailed) as exc:
        svc.accept_fields(pk)
    assert exc.value.detail == {"non_field_errors": [
        "Rows of this import session have already been imported"]}
    svc.accept_rows(pk, {"rows": found[1:]})
    env.work()
    assert svc.get_session(pk)["status"] == 40
    with pytest.raises(ValidationFailed) as exc:
        svc.accept_fields(pk)
    assert exc.value.detail == {"non_field_errors": ["Import session is already complete"]}
    env.work()
    assert svc.get_session(pk)["status"] == 40
    assert len(project_codes(env.system_db)) == 3


def test_changed_defaults_and_overrides_recompute_every_row(env):
    """Defaults and overrides set after the rows were read apply to every row's `data`
    (recomputed from its cells and validated again) and to what is created."""
    svc = env.svc(IMPORT_ACCEPT_WAIT_SECONDS=5)  # the PATCH recomputes while it may
    text = "code,description\nPRJ-1,First\nPRJ-2,\n,Nameless\n"
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(text))["pk"]
    svc.accept_fields(pk)
    env.work()

    def rows():
        return [(r["data"], r["valid"]) for r in svc.list_rows(params={"session": pk})["results"]]

    assert rows() == [({"code": "PRJ-1", "description": "First"}, True),
                      ({"code": "PRJ-2", "description": ""}, True),
                      ({"code": "", "description": "Nameless"}, False)]
    svc.update_session(pk, {"field_defaults": {"description": "later", "code": "PRJ-9"}}, True)
    assert rows() == [({"code": "PRJ-1", "description": "First"}, True),
                      ({"code": "PRJ-2", "description": "later"}, True),
                      ({"code": "PRJ-9", "description": "Nameless"}, True)]
    svc.update_session(pk, {"field_overrides": {"description": "forced"}}, True)
    assert [d["description"] for d, _ in rows()] == ["forced"] * 3
    svc = env.svc()  # waits for nothing: rows are created by env.work()
    svc.accept_rows(pk, {"rows": [r["pk"] for r in svc.list_rows(params={"session": pk})[
        "results"]]})
    env.work()
    assert svc.get_session(pk)["status"] == 40
    assert project_codes(env.system_db) == [("PRJ-1", "forced"), ("PRJ-2", "forced"),
                                            ("PRJ-9", "forced")]
    svc.update_session(pk, {"field_overrides": None}, True)  # complete rows stay as created
    assert [d["description"] for d, _ in rows()] == ["forced"] * 3


def test_recompute_left_to_the_worker_busy_with_the_session(env):
    """While another process holds the session, the PATCH answers at once and that
    process recomputes the rows before it creates any."""
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.work()
    ids = [r["pk"] for r in svc.list_rows(params={"session": pk})["results"]]
    busy = Processor(env.db, env.blobs, env.targets, "busy", env.settings)
    assert busy._take_lease(pk)
    svc.update_session(pk, {"field_overrides": {"description": "late"}}, True)
    svc.accept_rows(pk, {"rows": ids})
    assert [r["data"]["description"] for r in svc.list_rows(params={"session": pk})[
        "results"]] == ["First", "Second", "Third"]
    busy._release_lease(pk)
    env.work()
    assert svc.get_session(pk)["status"] == 40
    assert project_codes(env.system_db) == [("PRJ-1", "late"), ("PRJ-2", "late"),
                                            ("PRJ-3", "late")]
    assert [r["data"]["description"] for r in svc.list_rows(params={"session": pk})[
        "results"]] == ["late"] * 3
    before = svc.list_rows(params={})
    with env.db.write() as s:
        models.store.replay(s)
    assert svc.list_rows(params={}) == before


def test_session_updates(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    made = svc.update_session(pk, {"field_defaults": '{"description": "d"}'}, partial=True)
    assert made["field_defaults"] == {"description": "d"} and made["field_overrides"] is None
    with pytest.raises(ValidationFailed) as exc:
        svc.update_session(pk, {}, partial=True, upload=env.upload(CODES))
    assert "data_file" in exc.value.detail
    with pytest.raises(ValidationFailed) as exc:
        svc.update_session(pk, {"field_filters": "5"}, partial=True)
    assert exc.value.detail == {"field_filters": ["Value must be a valid dictionary object"]}


def test_json_fields_are_null_until_set(env):
    """InvenTree's nullable JSONFields: null on a new session, after a refused PATCH, and
    when set to null again; an object once set."""
    svc = env.svc()
    made = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))
    pk = made["pk"]
    assert [made[f] for f in ("field_defaults", "field_overrides", "field_filters")] == [
        None, None, None]
    with pytest.raises(ValidationFailed):
        svc.update_session(pk, {"field_defaults": "[1]", "field_filters": {}}, partial=True)
    found = svc.get_session(pk)
    assert [found[f] for f in ("field_defaults", "field_overrides", "field_filters")] == [
        None, None, None]
    made = svc.update_session(pk, {"field_filters": {}}, partial=True)
    assert made["field_filters"] == {} and made["field_defaults"] is None
    made = svc.update_session(pk, {"field_filters": None}, partial=True)
    assert made["field_filters"] is None
    svc.accept_fields(pk)  # null defaults and overrides work through the whole flow
    env.work()
    assert svc.get_session(pk)["row_count"] == 3


def test_delete_session_removes_rows_and_file(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.work()
    assert svc.bulk_delete_sessions({"filters": {"model_type": "projectcode"}}) == 1
    with pytest.raises(NotFound):
        svc.get_session(pk)
    assert svc.list_rows(params={"session": pk})["results"] == []
    assert list(env.blobs.list("import/")) == []


def test_replay_rebuilds_identical_output(env):
    svc = env.svc()
    pk = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    svc.accept_fields(pk)
    env.work()
    found = svc.list_rows(params={"session": pk})["results"]
    svc.update_row(found[1]["pk"], {"data": {"code": "NEW", "description": "n"}}, True)
    svc.accept_rows(pk, {"rows": [found[0]["pk"]]})
    env.work()
    svc.delete_row(found[2]["pk"])
    before = (svc.list_sessions(params={}), svc.list_rows(params={}),
              svc.list_column_mappings(params={}))
    with env.db.write() as s:
        models.store.replay(s)
    after = (svc.list_sessions(params={}), svc.list_rows(params={}),
             svc.list_column_mappings(params={}))
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_sweep_deletes_old_sessions_and_orphaned_files(env):
    svc = env.svc()
    old = svc.create_session(data={"model_type": "projectcode"}, upload=env.upload(CODES))["pk"]
    kept = svc.create_session(data={"model_type": "projectcode"},
                              upload=env.upload(CODES, "kept.csv"))["pk"]
    with env.db.write() as s:  # created six days ago
        s.execute(update(models.sessions).where(models.sessions.c.id == old).values(
            timestamp=models.sessions.c.timestamp - timedelta(days=6)))
    env.blobs.write("import/orphan.csv", [b"x"])  # placed, then the process died
    env.blobs.write("import/fresh.csv", [b"x"])  # being placed right now
    env.blobs.write("incoming/abandoned", [b"x"])  # a request that never finished
    env.blobs.write("incoming/in-flight", [b"x"])
    hours_ago = time.time() - 7200
    for key in ("import/orphan.csv", "import/kept.csv", "incoming/abandoned"):
        os.utime(env.blobs.local_path(key), (hours_ago, hours_ago))
    assert svc.sweep() == {"sessions": 1, "files": 1, "incoming": 1}
    assert [k for k, _ in env.blobs.list("incoming/")] == ["incoming/in-flight"]
    assert [s["pk"] for s in svc.list_sessions(params={})["results"]] == [kept]
    assert sorted(k for k, _ in env.blobs.list("import/")) == ["import/fresh.csv",
                                                                "import/kept.csv"]


def test_an_upload_gone_or_outside_incoming_is_a_400_and_stores_nothing(env):
    """svckit.claimcheck decides, for the importer as for attachments."""
    gone = env.upload(CODES)
    env.blobs.delete(gone["key"])
    env.blobs.write("import/someone-elses.csv", [CODES.encode()])
    for upload, message in ((gone, "The uploaded file is gone; send it again"),
                            ({**gone, "key": "import/someone-elses.csv"},
                             "Invalid upload reference"),
                            ({**gone, "key": "incoming/.."}, "Invalid upload reference")):
        with pytest.raises(ValidationFailed) as refused:
            env.svc().create_session(data={"model_type": "projectcode"}, upload=upload)
        assert refused.value.detail == {"data_file": [message]}
    assert [k for k, _ in env.blobs.list("")] == ["import/someone-elses.csv"]
    assert env.svc().list_sessions(params={})["results"] == []
