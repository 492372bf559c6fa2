"""The event catalog (svckit.eventcatalog): every event type a service names has a payload
model, the store refuses a malformed payload before writing anything, an event stored under
an older schema version reads through the newer model, and the AsyncAPI 3.0 document made
from the catalogs is valid against the official AsyncAPI 3.0.0 JSON Schema."""
import importlib
import json

import jsonschema
import pytest
from sqlalchemy import MetaData, func, select

from services.status import models as status_models
from svckit import asyncapi
from svckit.eventcatalog import EventCatalog, EventPayload, InvalidEventPayload
from svckit.events import EventStore, Projector, wire_event
from svckit.layout import ROOT, service_names
from tests.service_shape import event_constants

ASYNCAPI_SCHEMA = ROOT / "tests" / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"
STATE = {"key": 11, "name": "OK - advanced", "label": "OK (advanced)", "color": "success",
         "logical_key": 10, "model": 7, "reference_status": "StockStatus"}


def catalogs() -> dict[str, EventCatalog]:
    return {name: importlib.import_module(f"services.{name}.models").store.catalog
            for name in service_names()}


def all_catalogs_described() -> dict:
    described = {name: catalog.describe() for name, catalog in catalogs().items()}
    described["gateway"] = EventCatalog("gateway", {}).describe()
    return described


def asyncapi_validator():
    return jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))


def test_every_event_type_named_in_events_py_has_a_model():
    checked = 0
    for service, catalog in catalogs().items():
        named = set(event_constants(service).values())
        assert named <= set(catalog.models), (service, named - set(catalog.models))
        # nothing modelled that its events.py does not name (error.logged is svckit's)
        assert set(catalog.models) - named <= {"error.logged"}, service
        for type_, model in catalog.models.items():
            assert issubclass(model, EventPayload) and model.schema_version >= 1, type_
            assert model.model_config.get("extra") == "forbid", type_
        checked += len(named)
    assert checked >= 66  # every service's types (users alone names 21)


@pytest.mark.parametrize("payload, field", [
    ({**STATE, "key": "eleven"}, "key"),                       # wrong type
    ({k: v for k, v in STATE.items() if k != "name"}, "name"),  # missing field
    ({**STATE, "colour": "red"}, "colour"),                    # unknown field
])
def test_the_store_refuses_a_malformed_payload_and_writes_nothing(make_db, payload, field):
    db = make_db(status_models.metadata)
    store = status_models.store
    with pytest.raises(InvalidEventPayload, match=field):
        with db.write() as s:
            store.record(s, "custom_state", 1, "custom_state.created", payload, version=1)
    with pytest.raises(InvalidEventPayload, match="no such event type"):
        with db.write() as s:
            store.record(s, "custom_state", 1, "custom_state.exploded", STATE, version=1)
    with db.read() as s:
        assert s.execute(select(func.count()).select_from(store.events)).scalar() == 0
        assert s.execute(select(func.count()).select_from(
            status_models.custom_states)).scalar() == 0
    with db.write() as s:  # the well-formed one is written, with its schema version
        store.record(s, "custom_state", 1, "custom_state.created", STATE, version=1)
    with db.read() as s:
        row = s.execute(select(store.events)).mappings().one()
    assert row["schema_version"] == 1 and row["payload"] == STATE


class NoteV1(EventPayload):
    text: str


class NoteV2(EventPayload):
    """Version 2 added `lang` (version-1 notes were all English)."""

    schema_version = 2
    upcasters = {1: lambda payload: {**payload, "lang": "en"}}
    text: str
    lang: str


def test_an_event_stored_under_version_1_reads_through_the_version_2_model(make_db):
    metadata = MetaData()
    old = EventStore("notes", metadata, Projector([]), EventCatalog("notes", {"note.added": NoteV1}))
    db = make_db(metadata)
    with db.write() as s:
        old.record(s, "note", 1, "note.added", {"text": "hello"})
    new = EventStore("notes", MetaData(), Projector([]),
                     EventCatalog("notes", {"note.added": NoteV2}))
    with pytest.raises(InvalidEventPayload, match="lang"):  # a v2 event needs the new field
        with db.write() as s:
            new.record(s, "note", 2, "note.added", {"text": "hallo"})
    with db.write() as s:
        new.record(s, "note", 2, "note.added", {"text": "hallo", "lang": "de"})
    with db.read() as s:
        rows = s.execute(select(new.events).order_by(new.events.c.id)).mappings().all()
    assert [r["schema_version"] for r in rows] == [1, 2]
    read = [new.catalog.read(r["type"], r["payload"], r["schema_version"]) for r in rows]
    assert [(n.text, n.lang) for n in read] == [("hello", "en"), ("hallo", "de")]
    assert isinstance(read[0], NoteV2)
    with pytest.raises(InvalidEventPayload, match="newer"):  # a v2 event in a v1 process
        old.catalog.read("note.added", rows[1]["payload"], 2)


def test_the_asyncapi_document_is_valid_asyncapi_3():
    doc = asyncapi.document(all_catalogs_described(), "amqp://guest:secret@broker:5672/prod",
                            "264")
    errors = sorted(asyncapi_validator().iter_errors(doc), key=lambda e: e.path)
    assert errors == [], [e.message for e in errors[:5]]
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {f"{s}.events" for s in [*service_names(), "gateway"]}
    assert "secret" not in json.dumps(doc["servers"])  # no credentials
    users = doc["channels"]["users.events"]
    assert users["address"] == "users.events" and "user.created" in users["messages"]
    created = doc["components"]["messages"]["users.user.created"]["payload"]
    assert created["properties"]["type"] == {"const": "user.created"}
    assert "password" not in created["properties"]["payload"]["properties"]  # not published
    assert created["properties"]["payload"]["properties"]["is_staff"]["type"] == "boolean"
    # the validator does refuse what is not AsyncAPI 3.0
    broken = {**doc, "operations": {"x": {"action": "eat", "channel": {"$ref": "#/x"}}}}
    assert list(asyncapi_validator().iter_errors(broken))
    assert list(asyncapi_validator().iter_errors({**doc, "asyncapi": "2.6.0"}))


def test_a_published_event_matches_its_message_schema(make_db):
    doc = asyncapi.document(all_catalogs_described(), "amqp://127.0.0.1/", "264")
    db = make_db(status_models.metadata)
    with db.write() as s:
        row = status_models.store.record(s, "custom_state", 1, "custom_state.created", STATE,
                                         version=1)
    with db.read() as s:
        row = s.execute(select(status_models.store.events)).mappings().one()
    message = doc["components"]["messages"]["status.custom_state.created"]["payload"]
    schema = {**message, "components": doc["components"]}
    event = wire_event("status", dict(row))
    jsonschema.Draft202012Validator(schema).validate(event)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(
            {**event, "payload": {**event["payload"], "key": "eleven"}})
