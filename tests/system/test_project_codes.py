"""Project codes, flags and the about documents through the system service's entrypoints."""
import pytest

from services.system import about, models
from services.system.service import Service
from svckit.context import Caller
from svckit.errors import NotFound, PermissionDenied, ValidationFailed
from tests.helpers import ANON, STAFF, USER, worker_factory

SUPER = STAFF
STAFF_ONLY = Caller(user_id=3, username="staffer", is_staff=True)


class Users:
    """The users service's `owners` answer for two known owners (the real service is
    exercised end to end in tests/e2e)."""
    known = {"1": {"pk": 1, "owner_id": 1, "name": "admin", "label": "user"},
             "2": {"pk": 2, "owner_id": 1, "name": "makers", "label": "group"}}

    def owners(self, pks):
        return {str(p): self.known[str(p)] for p in pks if str(p) in self.known}


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller, users=Users())


def test_create_list_and_owner_detail(svc):
    made = svc().create_project_code(data={"code": "PRJ-1", "description": "First",
                                           "responsible": 2})
    assert made == {"pk": 1, "code": "PRJ-1", "description": "First", "responsible": 2,
                    "responsible_detail": Users.known["2"]}
    plain = svc().create_project_code(data={"code": "PRJ-2"})
    assert plain["description"] == "" and plain["responsible_detail"] is None
    listed = svc(USER).list_project_codes(params={"search": "first"})["results"]
    assert [r["code"] for r in listed] == ["PRJ-1"]
    assert [r["code"] for r in svc(USER).list_project_codes(
        params={"ordering": "-code"})["results"]] == ["PRJ-2", "PRJ-1"]


def test_validation(svc):
    svc().create_project_code(data={"code": "DUP"})
    cases = [({"code": "DUP"}, {"code": ["Project Code with this Project Code already exists."]}),
             ({}, {"code": ["This field is required."]}),
             ({"code": "x" * 51}, {"code": ["Ensure this field has no more than 50 characters."]}),
             ({"code": "OK", "responsible": 9}, {"responsible": ['Invalid pk "9" - object does not exist.']}),
             ({"code": "OK", "responsible": "abc"},
              {"responsible": ["Incorrect type. Expected pk value, received str."]})]
    for data, expected in cases:
        with pytest.raises(ValidationFailed) as info:
            svc().create_project_code(data=data)
        assert info.value.detail == expected, data
    assert len(svc(USER).list_project_codes(params={})["results"]) == 1


def test_permissions(svc):
    with pytest.raises(PermissionDenied):
        svc(USER).create_project_code(data={"code": "NOPE"})
    pk = svc(STAFF_ONLY).create_project_code(data={"code": "STAFF"})["pk"]
    with pytest.raises(PermissionDenied):
        svc(USER).update_project_code(pk=pk, data={"code": "X"}, partial=True)
    assert svc(STAFF_ONLY).update_project_code(pk=pk, data={"description": "d"},
                                               partial=True)["description"] == "d"
    with pytest.raises(PermissionDenied):
        svc(USER).delete_project_code(pk=pk)
    svc(STAFF_ONLY).delete_project_code(pk=pk)
    with pytest.raises(NotFound):
        svc(USER).get_project_code(pk=pk)


def test_metadata_merge_replace_and_superuser_only(svc):
    pk = svc().create_project_code(data={"code": "META"})["pk"]
    assert svc(USER).project_code_metadata(pk=pk) == {"metadata": {}}
    svc(SUPER).set_project_code_metadata(pk=pk, body={"metadata": {"foo": "bar"}}, partial=False)
    svc(SUPER).set_project_code_metadata(pk=pk, body={"metadata": {"hello": "world"}}, partial=True)
    merged = svc(SUPER).set_project_code_metadata(pk=pk, body={"metadata": {"foo": "rab"}},
                                                  partial=True)
    assert merged == {"metadata": {"foo": "rab", "hello": "world"}}
    with pytest.raises(ValidationFailed) as info:
        svc(SUPER).set_project_code_metadata(pk=pk, body={"metadata": [1]}, partial=True)
    assert info.value.detail == {"metadata": ["Metadata must be a python dict object"]}
    with pytest.raises(ValidationFailed):
        svc(SUPER).set_project_code_metadata(pk=pk, body={}, partial=False)
    with pytest.raises(PermissionDenied):
        svc(STAFF_ONLY).set_project_code_metadata(pk=pk, body={"metadata": {}}, partial=True)


def test_import_target_protocol(svc):
    rows = [{"row": 0, "data": {"code": "IMP-1", "responsible": 1}, "key": "s:0"},
            {"row": 1, "data": {"code": "IMP-2", "responsible": 7}, "key": "s:1"}]
    checked = svc().import_validate(model_type="projectcode", rows=rows)
    assert checked[0]["errors"] is None and "responsible" in checked[1]["errors"]
    first = svc().import_create(model_type="projectcode", rows=rows)
    assert svc().import_create(model_type="projectcode", rows=rows) == first
    assert first[0]["pk"] == 1 and first[1]["pk"] is None
    with pytest.raises(PermissionDenied):
        svc(USER).import_create(model_type="projectcode", rows=rows)


def test_batch_import_answers_as_one_by_one_creation(svc, db, monkeypatch):
    """The batch path (one query, one executemany) gives the answers and rows that creating
    the rows one after another gives."""
    svc().create_project_code(data={"code": "TAKEN"})
    rows = [{"row": 10, "data": {"code": "B-1", "description": "one"}, "key": "b:10"},
            {"row": 11, "data": {"code": "TAKEN"}, "key": "b:11"},
            {"row": 12, "data": {"code": "B-1"}, "key": "b:12"},
            {"row": 13, "data": {"code": "B-3", "responsible": 2}, "key": "b:13"},
            {"row": 14, "data": {"description": "no code"}, "key": "b:14"}]
    batch = svc().import_create(model_type="projectcode", rows=rows)
    listed = svc().list_project_codes(params={})
    with db.write() as s:  # start again, and create one by one
        for table in models.projector.tables:
            s.execute(table.delete())
        s.execute(models.store.events.delete())
        s.execute(models.store.sequence.delete())
    svc().create_project_code(data={"code": "TAKEN"})
    adapter = Service.IMPORTS.adapters["projectcode"]
    monkeypatch.setattr(adapter, "create_batch", None)
    single = svc().import_create(model_type="projectcode", rows=rows)
    assert batch == single
    assert [r["row"] for r in batch] == [10, 11, 12, 13, 14]
    assert [r["pk"] is not None for r in batch] == [True, False, False, True, False]
    assert batch[1]["errors"] == {"code": ["Project Code with this Project Code already exists."]}
    assert svc().list_project_codes(params={}) == listed
    assert svc().import_create(model_type="projectcode", rows=rows) == single  # idempotent


def test_batch_validation_answers_as_row_by_row_validation(svc, monkeypatch):
    """`import_validate` checks a batch in one query and answers what checking each row on
    its own answers: a code taken in the database is refused, a code repeated within the
    batch is not (each row is judged alone)."""
    svc().create_project_code(data={"code": "TAKEN"})
    rows = [{"row": 0, "data": {"code": "V-1"}, "key": ""},
            {"row": 1, "data": {"code": "TAKEN"}, "key": ""},
            {"row": 2, "data": {"code": "V-1"}, "key": ""},
            {"row": 3, "data": {"code": "V-3", "responsible": 7}, "key": ""},
            {"row": 4, "data": {"description": "no code"}, "key": ""}]
    batch = svc().import_validate(model_type="projectcode", rows=rows)
    monkeypatch.setattr(Service.IMPORTS.adapters["projectcode"], "check_batch", None)
    assert batch == svc().import_validate(model_type="projectcode", rows=rows)
    assert [r["errors"] is None for r in batch] == [True, False, True, False, False]


def test_replay(svc, db):
    svc().create_project_code(data={"code": "A", "responsible": 1})
    pk = svc().create_project_code(data={"code": "B"})["pk"]
    svc().update_project_code(pk=pk, data={"description": "bee"}, partial=True)
    svc(SUPER).set_project_code_metadata(pk=pk, body={"metadata": {"k": 1}}, partial=True)
    before = svc(USER).list_project_codes(params={}), svc(USER).project_code_metadata(pk=pk)
    with db.write() as s:
        for table in models.projector.tables:
            s.execute(table.delete())
        models.store.replay(s)
    assert (svc(USER).list_project_codes(params={}), svc(USER).project_code_metadata(pk=pk)) == before


def test_flags(svc):
    flags = svc(ANON).flags(query={})
    assert [f["key"] for f in flags][:2] == ["EXPERIMENTAL", "NEXT_GEN"]
    assert "conditions" not in flags[0]
    assert svc(ANON).flag(key="NEXT_GEN", query={})["state"] is False
    assert svc(ANON).flag(key="NEXT_GEN", query={"ngen": ""})["state"] is True
    detail = svc(SUPER).flag(key="NEXT_GEN", query={})
    assert detail["conditions"] == [{"condition": "parameter", "value": "ngen="}] and len(detail) == 3
    with pytest.raises(NotFound):
        svc(ANON).flag(key="NOPE", query={})


def test_custom_flags_from_environment(monkeypatch, db):
    monkeypatch.setenv("INVENTREE_FLAGS", '{"MY_FLAG": [{"condition": "boolean", "value": true}]}')
    assert worker_factory(Service, db=db, caller=ANON).flag(key="MY_FLAG", query={}) == {
        "key": "MY_FLAG", "state": True}
    definitions = about.flag_definitions(False, '{"MY_FLAG": []}')
    assert about.one_flag("MY_FLAG", {}, ANON, definitions) == {"key": "MY_FLAG", "state": False}


def test_version_documents(svc):
    doc = svc(STAFF_ONLY).version()
    assert doc["version"]["api"] == 264 and doc["version"]["server"] == "0.17.0 dev"
    assert set(doc) == {"dev", "up_to_date", "version", "links"}
    assert list(svc(STAFF_ONLY).version_text()) == [f"v{v}" for v in range(254, 264)]
    with pytest.raises(PermissionDenied):
        svc(USER).version()
    licenses = svc(USER).licenses()
    names = {d["name"].lower() for d in licenses["backend"]}
    assert {"nameko", "falcon", "sqlalchemy"} <= names and licenses["frontend"] == []


def test_export_answers_the_count_and_the_first_page_only(svc, monkeypatch):
    """The export RPC never carries the whole table: the gateway asks the list for the rest
    (gateway.export); the export's own limit/offset are ignored."""
    import svckit.service
    monkeypatch.setattr(svckit.service, "EXPORT_PAGE", 2)
    for n in range(3):
        svc().create_project_code(data={"code": f"EXP-{n}"})
    svc().create_project_code(data={"code": "OTHER"})
    answer = svc(USER).export_project_codes(params={"search": "EXP", "limit": "1",
                                                    "offset": "2"})
    assert answer["count"] == 3 and [r["code"] for r in answer["rows"]] == ["EXP-0", "EXP-1"]
    assert answer["fields"]["code"]["label"] == "Project Code"


def test_the_owner_is_looked_up_as_validation_reads_it(svc):
    """A pk sent as text with spaces is the owner validation reads (and the one asked of
    the users service)."""
    made = svc().create_project_code(data={"code": "SPACED", "responsible": " 2 "})
    assert made["responsible"] == 2 and made["responsible_detail"] == Users.known["2"]
    changed = svc().update_project_code(pk=made["pk"], data={"responsible": "1"}, partial=True)
    assert changed["responsible_detail"] == Users.known["1"]


def test_a_batch_racing_a_copy_of_itself_answers_the_rows_it_created(svc, db):
    """Two copies of one import batch at once (the importer's resend, a redelivery after a
    broker node was lost, a second importer): the second read no receipts, then finds its
    codes taken by the first. Its rows are answered with the pks created under their keys,
    not failed as "already exists" (the importer marked such rows failed: rows lost)."""
    import eventlet
    if db.is_sqlite:
        pytest.skip("SQLite's single writer runs the two copies one after the other")
    rows = [{"row": i, "data": {"code": f"RACE-{i}"}, "key": f"race:{i}"} for i in range(3)]
    conn = db.engine.connect()
    try:
        first = conn.begin()
        made = Service.IMPORTS.create(conn, SUPER, "projectcode", rows, {"owners": {}})
        racing = eventlet.spawn(lambda: svc().import_create(model_type="projectcode",
                                                            rows=rows))
        eventlet.sleep(1.0)  # it read no receipts; its inserts wait on our uncommitted codes
        first.commit()
    finally:
        conn.close()
    answer = racing.wait()
    assert [r["errors"] for r in answer] == [None, None, None], answer
    assert [r["pk"] for r in answer] == [r["pk"] for r in made]
    assert len(svc().list_project_codes(params={})["results"]) == 3
