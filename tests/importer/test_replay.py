"""Replaying the importer service's log rebuilds what its API shows (sessions, column
mappings, rows) and every table it projects, exactly."""
from services.importer import models
from tests.helpers import projected_rows, replay
from tests.importer.test_service import CODES, env, system_db  # noqa: F401  (fixtures)


def test_replay_rebuilds_the_api_visible_state(env):  # noqa: F811
    svc = env.svc()
    done = svc.create_session(data={"model_type": "projectcode",
                                    "field_defaults": '{"description": "dflt"}'},
                              upload=env.upload(CODES))["pk"]
    svc.accept_fields(done)
    env.work()
    rows = [r["pk"] for r in svc.list_rows(params={"session": done})["results"]]
    svc.update_row(rows[2], {"data": {"code": "EDITED", "description": "e"}}, partial=True)
    svc.delete_row(rows[1])
    svc.accept_rows(done, {"rows": [rows[0], rows[2]]})
    env.work()
    mapped = svc.create_session(data={"model_type": "projectcode"},
                                upload=env.upload("name,other\nA,B\n", "names.csv"))["pk"]
    code = next(m for m in svc.get_session(mapped)["column_mappings"] if m["field"] == "code")
    svc.update_column_mapping(code["pk"], {"column": "name"}, partial=True)
    svc.update_session(mapped, {"field_overrides": {"description": "over"}}, partial=True)
    gone = svc.create_session(data={"model_type": "customunit"},
                              upload=env.upload("name,definition\nx,meter\n", "u.csv"))["pk"]
    svc.delete_session(gone)

    def visible() -> dict:
        sessions = svc.list_sessions(params={})["results"]
        return {"sessions": sessions, "session": [svc.get_session(s["pk"]) for s in sessions],
                "mappings": svc.list_column_mappings(params={})["results"],
                "rows": svc.list_rows(params={})["results"],
                "row": [svc.get_row(pk) for pk in (rows[0], rows[2])]}

    before, tables = visible(), projected_rows(env.db, models)
    assert [(s["pk"], s["status"]) for s in before["sessions"]] == [(done, 40), (mapped, 10)]
    assert [r["data"]["code"] for r in before["row"]] == ["PRJ-1", "EDITED"]
    assert {t for t, found in tables.items() if not found} <= {"import_recompute"}, tables

    assert replay(env.db, models) > 0
    assert visible() == before
    assert projected_rows(env.db, models) == tables
