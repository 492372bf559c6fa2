"""Every event the service-level tests record matches its type's model, and the tests record
every type of every catalog (or the type is listed below with the reason it is not).

The service-level tests are those of every service on SQLite (the PostgreSQL cases record the
same events) that need no broker. `tests/event_recorder.py` writes down each event they
record, before the store checks it; this test checks each against its model here, apart from
the store's own check. When they all ran earlier in this run (the recorder runs this test
last; tests/shards.py keeps them in its shard) it checks what they recorded; otherwise (a run
of some tests only) it runs them in a subprocess first."""
import importlib
import json
import os
import subprocess
import sys

from svckit.eventcatalog import InvalidEventPayload
from svckit.layout import ROOT, service_names
from tests.event_recorder import PLUGIN_NAME, SERVICE_TESTS

# event types the service-level tests do not produce, and why
NOT_PRODUCED: dict[str, str] = {
    **{f"{name}:error.logged": "recorded by svckit's Store only when an entrypoint of a "
       "running container fails unexpectedly (service-level tests call workers); the end to "
       "end error-report tests produce it, and every service's model of it is svckit's one"
       for name in service_names()},
    "importer:import_session.failed": "recorded when reading a data file stops midway "
    "(what a file can hold is checked when the session is made); no test provokes it",
    "users:group.updated": "a group's rename: test_a_group_renamed_records_its_events below",
    "users:owner.renamed": "a group's rename: test_a_group_renamed_records_its_events below",
}


def recorded_events(request, tmp_path) -> list[tuple[str, str, dict]]:
    """(service, type, payload) of every event the service-level tests recorded: in this
    run, or in a subprocess running them if they did not all run and pass here."""
    recorder = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if recorder.complete():
        return [(service, type_, json.loads(payload))
                for service, type_, payload in recorder.events]
    record_file = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *SERVICE_TESTS, "-q", "-x",
         "-m", "not postgres and not e2e and not broker"],
        cwd=ROOT, env={**os.environ, "EVENT_RECORD_FILE": str(record_file)},
        capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-3000:]
    return [(e["service"], e["type"], e["payload"])
            for e in map(json.loads, record_file.read_text().splitlines())]


def test_every_recorded_event_matches_its_model(request, tmp_path):
    events = recorded_events(request, tmp_path)
    catalogs = {name: importlib.import_module(f"services.{name}.models").store.catalog
                for name in service_names()}
    seen: dict[str, set[str]] = {name: set() for name in catalogs}
    faults = []
    for service, type_, payload in events:
        try:
            catalogs[service].check(type_, payload)
        except InvalidEventPayload as exc:
            faults.append(str(exc))
        seen[service].add(type_)
    assert faults == []
    assert sum(len(types) for types in seen.values()) >= 50
    missing = {f"{name}:{type_}" for name, catalog in catalogs.items()
               for type_ in catalog.models if type_ not in seen[name]}
    unexplained = sorted(missing - set(NOT_PRODUCED))
    assert unexplained == [], "\n".join(unexplained)


def test_a_group_renamed_records_its_events(tmp_path):
    """The two types the users service's tests do not produce, produced and checked."""
    from services.users import models
    from services.users.service import Service
    from svckit.db import Database
    from tests.helpers import STAFF, worker_factory
    db = Database(f"sqlite:///{tmp_path / 'users.sqlite3'}", models.metadata)
    db.create_all()
    try:
        root = worker_factory(Service, db=db, caller=STAFF)
        group = root.create_group(data={"name": "editors", "roles": {"part": ["view"]}})
        root.update_group(pk=group["pk"], data={"name": "writers"}, partial=True)
        events = models.store.events
        with db.read() as s:
            rows = s.execute(events.select().where(events.c.type.in_(
                ["group.updated", "owner.renamed"]))).mappings().all()
        assert sorted(r["type"] for r in rows) == ["group.updated", "owner.renamed"]
        for row in rows:
            models.store.catalog.check(row["type"], row["payload"])
            assert row["payload"] == {"name": "writers"}
    finally:
        db.dispose()
