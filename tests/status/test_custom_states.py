"""Custom states through the status service's entrypoints, on a real database."""
import pytest
from sqlalchemy import select

from services.status import models
from services.status.service import Service
from svckit.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from tests.helpers import ANON, STAFF, USER, worker_factory

STOCKITEM = None


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller)


def stockitem_pk(svc):
    return svc().get_content_type_by_model(model="stockitem")["pk"]


def valid(svc, **over):
    data = {"key": 11, "name": "OK - advanced", "label": "OK (advanced)", "color": "secondary",
            "logical_key": 10, "model": stockitem_pk(svc), "reference_status": "StockStatus"}
    data.update(over)
    return data


def errors_of(call):
    with pytest.raises(ValidationFailed) as info:
        call()
    return info.value.detail


def test_create_and_read(svc):
    created = svc().create_custom_state(data=valid(svc))
    assert created["pk"] == 1
    assert created["model_name"] == "Stock Item"
    assert created["reference_status"] == "StockStatus"
    assert svc(USER).get_custom_state(pk=1) == created
    assert svc(USER).list_custom_states(params={})["results"] == [created]


@pytest.mark.parametrize("missing", ["key", "name", "label", "logical_key", "model",
                                     "reference_status"])
def test_required_fields(svc, missing):
    data = valid(svc)
    del data[missing]
    assert errors_of(lambda: svc().create_custom_state(data=data)) == {
        missing: ["This field is required."]}


@pytest.mark.parametrize("over, expected", [
    ({"key": 10}, {"key": ["Key must be different from logical key"]}),
    ({"key": 50}, {"key": ["Key must be different from the logical keys of the reference status"]}),
    ({"logical_key": 12}, {"logical_key": ["Logical key must be in the logical keys of the reference status"]}),
    ({"reference_status": "abcd"}, {"reference_status": ['"abcd" is not a valid choice.']}),
    ({"color": "pink"}, {"color": ['"pink" is not a valid choice.']}),
    ({"key": "abc"}, {"key": ["A valid integer is required."]}),
    ({"model": 99999}, {"model": ['Invalid pk "99999" - object does not exist.']}),
    ({"name": "x" * 251}, {"name": ["Ensure this field has no more than 250 characters."]}),
])
def test_validation_messages(svc, over, expected):
    assert errors_of(lambda: svc().create_custom_state(data=valid(svc, **over))) == expected


def test_unique_together_and_nothing_half_written(svc, db):
    svc().create_custom_state(data=valid(svc))
    assert "non_field_errors" in errors_of(lambda: svc().create_custom_state(data=valid(svc)))
    with db.read() as s:
        assert len(s.execute(select(models.custom_states)).all()) == 1
        assert len(s.execute(select(store_events())).all()) == 1


def store_events():
    return models.store.events


def test_permissions(svc):
    with pytest.raises(PermissionDenied):
        svc(USER).create_custom_state(data=valid(svc))
    with pytest.raises(NotAuthenticated):
        svc(ANON).list_custom_states(params={})
    created = svc().create_custom_state(data=valid(svc))
    with pytest.raises(PermissionDenied):
        svc(USER).update_custom_state(pk=created["pk"], data={"label": "x"}, partial=True)
    with pytest.raises(PermissionDenied):
        svc(USER).delete_custom_state(pk=created["pk"])


def test_update_patch_put_delete(svc):
    pk = svc().create_custom_state(data=valid(svc))["pk"]
    assert svc().update_custom_state(pk=pk, data={"label": "Better"}, partial=True)["label"] == "Better"
    errors = errors_of(lambda: svc().update_custom_state(pk=pk, data={"label": "x"}, partial=False))
    assert errors["key"] == ["This field is required."]
    svc().delete_custom_state(pk=pk)
    with pytest.raises(NotFound):
        svc().get_custom_state(pk=pk)
    assert svc().create_custom_state(data=valid(svc))["pk"] == pk + 1  # ids never reused


def test_status_document_merges_custom_states(svc):
    doc = svc(USER).status_document()
    assert len(doc) == 10
    assert len(doc["StockStatus"]["values"]) == 8
    assert doc["BuildStatus"]["values"]["PENDING"]["key"] == 10
    assert doc["MachineStatus__LabelPrinterStatus"]["class"] == "LabelPrinterStatus"
    assert len(doc["MachineStatus__LabelPrinterStatus"]["values"]) == 6
    svc().create_custom_state(data=valid(svc))
    after = svc(USER).status_document()
    assert len(after["StockStatus"]["values"]) == 9
    assert after["StockStatus"]["values"]["OK-ADVANCED"] == {
        "color": "secondary", "key": 11, "label": "OK (advanced)", "name": "OK-ADVANCED"}
    assert svc(USER).status_class(name="StockStatus")["class"] == "StockStatus"
    with pytest.raises(NotFound):
        svc(USER).status_class(name="Nope")


def test_search_ordering_paging(svc):
    for key, name in ((11, "alpha"), (12, "beta"), (13, "gamma")):
        svc().create_custom_state(data=valid(svc, key=key, name=name, label=name.upper()))
    listing = svc(USER).list_custom_states
    assert [r["name"] for r in listing(params={"search": "BET"})["results"]] == ["beta"]
    assert [r["key"] for r in listing(params={"ordering": "-key"})["results"]] == [13, 12, 11]
    page = listing(params={"limit": "1", "offset": "1", "ordering": "key"})
    assert page["count"] == 3 and [r["key"] for r in page["results"]] == [12]
    with pytest.raises(ValidationFailed):
        listing(params={"limit": "abc"})
    with pytest.raises(ValidationFailed):
        listing(params={"limit": "1000000"})


def test_replay_rebuilds_identical_tables(svc, db):
    for key in (11, 12, 13):
        svc().create_custom_state(data=valid(svc, key=key, name=f"s{key}", label=f"S{key}"))
    svc().update_custom_state(pk=2, data={"color": "danger"}, partial=True)
    svc().delete_custom_state(pk=1)
    before = svc(USER).list_custom_states(params={})
    with db.write() as s:
        s.execute(models.custom_states.delete())
    assert svc(USER).list_custom_states(params={})["results"] == []
    with db.write() as s:
        assert models.store.replay(s) == 5
    assert svc(USER).list_custom_states(params={}) == before


def test_content_types(svc):
    rows = svc(USER).list_content_types(params={})["results"]
    assert len(rows) == 99  # a fresh InvenTree 264 database
    item = svc(USER).get_content_type_by_model(model="stockitem")
    assert item["app_label"] == "stock"
    assert svc(USER).get_content_type(pk=item["pk"]) == item
    with pytest.raises(NotFound):
        svc(USER).get_content_type_by_model(model="nonexistent")
    found = svc(USER).list_content_types(params={"search": "customuserstate"})["results"]
    assert [r["model"] for r in found] == ["inventreecustomuserstatemodel"]
    assert svc(USER).list_content_types(params={"limit": "5"})["count"] == len(rows)


def test_import_target_protocol(svc):
    fields = svc().import_fields(model_type="inventreecustomuserstatemodel")
    assert "pk" not in fields and fields["key"]["required"] is True
    rows = [{"row": 0, "data": valid(svc), "key": "s1:0"},
            {"row": 1, "data": valid(svc, key=10), "key": "s1:1"}]
    checked = svc().import_validate(model_type="inventreecustomuserstatemodel", rows=rows)
    assert checked[0]["errors"] is None and "key" in checked[1]["errors"]
    first = svc().import_create(model_type="inventreecustomuserstatemodel", rows=rows)
    again = svc().import_create(model_type="inventreecustomuserstatemodel", rows=rows)
    assert first[0]["pk"] == again[0]["pk"] == 1  # idempotent by key
    assert first[1]["pk"] is None and first[1]["errors"]
    assert len(svc(USER).list_custom_states(params={})["results"]) == 1
    with pytest.raises(ValidationFailed):
        svc().import_fields(model_type="part")


def test_only_staff_import(svc):
    rows = [{"row": 0, "data": valid(svc), "key": "s1:0"}]
    for caller, error in ((ANON, NotAuthenticated), (USER, PermissionDenied)):
        with pytest.raises(error):
            svc(caller).import_create(model_type="inventreecustomuserstatemodel", rows=rows)
    assert svc(USER).list_custom_states(params={})["results"] == []


def test_import_batch_limits(svc):
    rows = [{"row": i, "data": {}} for i in range(1001)]
    with pytest.raises(ValidationFailed) as info:
        svc().import_validate(model_type="inventreecustomuserstatemodel", rows=rows)
    assert "rows" in info.value.detail
    with pytest.raises(ValidationFailed):
        svc().import_create(model_type="inventreecustomuserstatemodel", rows=[{"data": 5}])
