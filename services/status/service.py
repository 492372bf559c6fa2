"""The status service: generic status classes, custom states and content types."""
from sqlalchemy import select

from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed
from svckit.importing import ImportAdapter, ImportTargets
from svckit.listing import INT64_MAX, INT64_MIN, page_list, parse_int, run_list
from svckit.service import CallerProvider, ImportTargetMixin, ServiceBase, Store, rpc

from . import contenttypes, customstates
from .models import custom_states, receipts, store

IMPORTS = ImportTargets({
    "inventreecustomuserstatemodel": ImportAdapter(
        label="Custom State", fields=customstates.FIELDS, serializer="CustomStateSerializer",
        validate=lambda session, data, _context: customstates.check(session, data),
        create=lambda session, caller, cleaned, key:
            customstates.create_checked(session, caller, cleaned, key)["pk"]),
}, receipts)


class Service(ImportTargetMixin, ServiceBase):
    name = "status"
    IMPORTS = IMPORTS
    db = Store(store, publish_before_reply=True)  # gateway caches follow its events
    caller: Caller = CallerProvider()

    # ------------------------------------------------------------ status classes

    @rpc
    def status_document(self) -> dict:
        """`GET /api/generic/status/`: every class, custom states merged in."""
        with self.db.read() as s:
            return customstates.status_document(s)

    @rpc
    def status_class(self, name: str) -> dict:
        with self.db.read() as s:
            doc = customstates.status_document(s)
        for key, entry in doc.items():
            if name in (key, entry["class"]):
                return entry
        raise NotFound({"detail": f"Status class '{name}' not found"})

    # ------------------------------------------------------------ custom states

    @rpc
    def list_custom_states(self, params: dict) -> dict:
        self._login()
        stmt = select(custom_states)
        if params.get("reference_status"):
            stmt = stmt.where(custom_states.c.reference_status == params["reference_status"])
        if params.get("model"):  # a content type pk (django-filter's choice of one)
            model = parse_int(params["model"])
            if model is None or not INT64_MIN <= model <= INT64_MAX:
                raise ValidationFailed({"model": [
                    "Select a valid choice. That choice is not one of the available choices."]})
            stmt = stmt.where(custom_states.c.model == model)
        with self.db.read() as s:
            return run_list(s, stmt, params, search=customstates.SEARCH,
                            ordering=customstates.COLUMNS, default_order=[custom_states.c.id],
                            render=customstates.render)

    @rpc
    def export_custom_states(self, params: dict) -> dict:
        return self._export(customstates.FIELDS, self.list_custom_states, params)

    @rpc
    def get_custom_state(self, pk: int) -> dict:
        self._login()
        with self.db.read() as s:
            return customstates.render(customstates.get(s, pk))

    @rpc
    def create_custom_state(self, data: dict) -> dict:
        self._login()
        with self.db.write() as s:
            return customstates.create(s, self.caller, data)

    @rpc
    def update_custom_state(self, pk: int, data: dict, partial: bool = False) -> dict:
        self._login()
        with self.db.write() as s:
            return customstates.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_custom_state(self, pk: int) -> None:
        self._login()
        with self.db.write() as s:
            customstates.delete(s, self.caller, pk)

    @rpc
    def custom_state_options(self, detail: bool = False) -> dict:
        return self._options("Custom State", customstates.FIELDS, detail)

    # ------------------------------------------------------------ content types

    @rpc
    def list_content_types(self, params: dict) -> dict:
        self._login()
        return page_list(contenttypes.search_list(params), params)

    @rpc
    def get_content_type(self, pk: int) -> dict:
        self._login()
        return contenttypes.by_pk(pk)

    @rpc
    def get_content_type_by_model(self, model: str) -> dict:
        self._login()
        return contenttypes.by_model(model)
