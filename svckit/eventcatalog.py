"""The event catalog: every event type a service records has a pydantic model of its payload.

A service's `events.py` names its event types and models their payloads (`EventPayload`
subclasses) and builds its `EventCatalog`; the event store checks each payload against its
type's model before appending it (`EventCatalog.check`), so a malformed event is never
written. A model has a `schema_version`: adding a field makes a new version, with an upcaster
from the one before (`upcasters = {1: fn}` turns a version-1 payload into a version-2 one), so
events stored under an older version still read (`EventCatalog.read`).

`error.logged`, which svckit's Store records in every service's log when an entrypoint fails,
is modelled here (`ErrorLogged`) and is part of every catalog.
"""
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

ERROR_LOGGED = "error.logged"


class InvalidEventPayload(ValueError):
    """A payload that its event type's model refuses, or an event type with no model."""

    def __init__(self, service: str, type_: str, problem: str):
        super().__init__(f"{service}: event {type_!r}: {problem}")
        self.service, self.type, self.problem = service, type_, problem


class EventPayload(BaseModel):
    """The payload of one event type. Unknown fields are refused; fields of an event that
    carries only what changed (an `*.updated`) are optional."""

    model_config = ConfigDict(extra="forbid")
    schema_version: ClassVar[int] = 1
    # version n -> a function turning a version-n payload into a version-(n + 1) payload
    upcasters: ClassVar[dict[int, Callable[[dict], dict]]] = {}


class Empty(EventPayload):
    """An event that carries no fields (a deletion, a use)."""


class ErrorLogged(EventPayload):
    """An unexpected exception in an entrypoint (or a gateway request)."""

    kind: str
    info: str
    data: str
    path: str
    service: str


class EventCatalog:
    """One service's event types and their payload models (`error.logged` included)."""

    def __init__(self, service: str, models: dict[str, type[EventPayload]]):
        self.service = service
        self.models: dict[str, type[EventPayload]] = {ERROR_LOGGED: ErrorLogged, **models}

    def model(self, type_: str) -> type[EventPayload]:
        try:
            return self.models[type_]
        except KeyError:
            raise InvalidEventPayload(self.service, type_, "no such event type in the "
                                                           "catalog") from None

    def version(self, type_: str) -> int:
        return self.model(type_).schema_version

    def check(self, type_: str, payload: Any) -> int:
        """Validate `payload` against the current model of `type_`; its schema version.
        Raises InvalidEventPayload, naming the fields at fault."""
        model = self.model(type_)
        try:
            model.model_validate(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}"
                                 for e in exc.errors())
            raise InvalidEventPayload(self.service, type_, problems) from None
        return model.schema_version

    def upcast(self, type_: str, payload: dict, version: int) -> dict:
        """A payload stored under schema `version`, as the current version has it."""
        model = self.model(type_)
        if version > model.schema_version:
            raise InvalidEventPayload(self.service, type_, f"schema version {version} is newer "
                                      f"than this process's {model.schema_version}")
        for step in range(version, model.schema_version):
            payload = model.upcasters[step](dict(payload))
        return payload

    def read(self, type_: str, payload: dict, version: int) -> EventPayload:
        """A stored event's payload through the current model (upcast first)."""
        return self.model(type_).model_validate(self.upcast(type_, payload, version))

    def describe(self) -> dict:
        """Every type's schema version, JSON Schema and description, for the AsyncAPI
        document (svckit.asyncapi): {type: {"version", "schema", "description"}}."""
        return {type_: {"version": model.schema_version,
                        "schema": model.model_json_schema(
                            ref_template="#/components/schemas/{model}"),
                        "description": (model.__doc__ or "").strip()}
                for type_, model in sorted(self.models.items())}
