"""Custom units and the generators through the system service's entrypoints."""
import threading

import pytest

from services.system import models
from services.system.service import Service
from svckit.errors import PermissionDenied, ValidationFailed
from tests.helpers import STAFF, USER, worker_factory


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


@pytest.fixture
def svc(db):
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller)


def test_custom_unit_lifecycle(svc):
    made = svc().create_custom_unit(data={"name": "fanciful", "symbol": "fcf",
                                          "definition": "100 * meter"})
    assert made == {"pk": 1, "name": "fanciful", "symbol": "fcf", "definition": "100 * meter"}
    assert "fanciful" in svc(USER).all_units()["available_units"]
    with pytest.raises(ValidationFailed) as info:
        svc().create_custom_unit(data={"name": "other", "symbol": "fcf", "definition": "2 * meter"})
    assert info.value.detail["symbol"] == ["Unit symbol must be unique"]
    with pytest.raises(ValidationFailed) as info:
        svc().create_custom_unit(data={"name": "abc def", "definition": "meter"})
    assert info.value.detail == {"name": ["Unit name must be a valid identifier"]}
    with pytest.raises(PermissionDenied):
        svc(USER).update_custom_unit(pk=1, data={"symbol": "x"}, partial=True)
    patched = svc().update_custom_unit(pk=1, data={"definition": "200 * meter"}, partial=True)
    assert patched["definition"] == "200 * meter" and patched["symbol"] == "fcf"
    svc().delete_custom_unit(pk=1)
    assert "fanciful" not in svc(USER).all_units()["available_units"]


def test_custom_unit_import(svc):
    rows = [{"row": 0, "data": {"name": "widget", "definition": "3 * piece"}, "key": "u:0"},
            {"row": 1, "data": {"name": "1abc", "definition": "meter"}, "key": "u:1"}]
    done = svc().import_create(model_type="customunit", rows=rows)
    assert done[0]["pk"] == 1 and done[1]["errors"] == {"name": ["Unit name must be a valid identifier"]}


def test_batch_code(svc, monkeypatch):
    assert svc(USER).generate_batch_code(data={}) == {"batch_code": ""}
    monkeypatch.setenv("STOCK_BATCH_CODE_TEMPLATE", "{% if item %}{{ item.pk }}{% endif %}")
    assert svc(USER).generate_batch_code(data={}) == {"batch_code": ""}
    assert svc(USER).generate_batch_code(data={"item": 1}) == {"batch_code": "1"}
    monkeypatch.setenv("STOCK_BATCH_CODE_TEMPLATE", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(ValidationFailed):
        svc(USER).generate_batch_code(data={})


def test_serial_numbers(svc):
    assert svc(USER).generate_serial_number(data={"part": 1}) == {"serial_number": "1"}
    assert svc(USER).generate_serial_number(data={"part": 1, "quantity": 3}) == {
        "serial_number": "2,3,4"}
    assert svc(USER).generate_serial_number(data={"part": 2}) == {"serial_number": "1"}
    assert svc(USER).generate_serial_number(data={}) == {"serial_number": None}
    for quantity, message in (("abc", "A valid integer is required."),
                              (-2, "Quantity must be greater than zero"),
                              (0, "Quantity must be greater than zero")):
        with pytest.raises(ValidationFailed) as info:
            svc(USER).generate_serial_number(data={"part": 1, "quantity": quantity})
        assert info.value.detail == {"quantity": [message]}


def test_concurrent_reservations_never_overlap(db):
    got, errors = [], []

    def reserve():
        try:
            for _ in range(10):
                answer = worker_factory(Service, db=db, caller=USER).generate_serial_number(
                    data={"part": 7, "quantity": 2})
                got.extend(answer["serial_number"].split(","))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=reserve) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert len(got) == 80 and len(set(got)) == 80
