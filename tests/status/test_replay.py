"""Replaying the status service's log rebuilds what its API shows, and every table it
projects, exactly."""

from services.status import models
from services.status.service import Service
from tests.helpers import STAFF, USER, projected_rows, replay, worker_factory

MODEL = "inventreecustomuserstatemodel"


def visible(svc) -> dict:
    listed = svc(USER).list_custom_states(params={})["results"]
    return {"list": listed, "details": [svc(USER).get_custom_state(pk=r["pk"]) for r in listed],
            "document": svc(USER).status_document()}


def test_replay_rebuilds_the_api_visible_state(make_db):
    db = make_db(models.metadata)

    def svc(caller=STAFF):
        return worker_factory(Service, db=db, caller=caller)

    stock = svc().get_content_type_by_model(model="stockitem")["pk"]

    def state(key, name, **over):
        return {"key": key, "name": name, "label": name.upper(), "color": "secondary",
                "logical_key": 10, "model": stock, "reference_status": "StockStatus", **over}

    svc().create_custom_state(data=state(11, "kept"))
    svc().create_custom_state(data=state(12, "changed"))
    svc().create_custom_state(data=state(13, "deleted"))
    svc().update_custom_state(pk=2, data={"label": "Relabelled", "color": "success"},
                              partial=True)
    svc().update_custom_state(pk=1, data=state(14, "kept", label="Put"), partial=False)
    svc().delete_custom_state(pk=3)
    svc().import_create(model_type=MODEL, rows=[
        {"row": 0, "data": state(15, "imported"), "key": "s1:0"}])
    before, tables = visible(svc), projected_rows(db, models)
    assert [r["name"] for r in before["list"]] == ["kept", "changed", "imported"]
    assert all(tables.values()), tables  # every projected table has rows to rebuild

    assert replay(db, models) > 0
    assert visible(svc) == before
    assert projected_rows(db, models) == tables
