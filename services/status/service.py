"""The status service: generic status classes, custom states and content types."""
from svckit.container_settings import Settings
from svckit.context import Caller
from svckit.service import CallerProvider, ImportTargetMixin, ServiceBase, Store, rpc

from . import contenttypes, customstates, imports
from .models import store
from .settings import StatusSettings


class Service(ImportTargetMixin, ServiceBase):
    name = "status"
    IMPORTS = imports.TARGETS
    db = Store(store, publish_before_reply=True)  # gateway caches follow its events
    caller: Caller = CallerProvider()
    settings: StatusSettings = Settings(StatusSettings)

    # ------------------------------------------------------------ status classes

    @rpc
    def status_document(self) -> dict:
        """`GET /api/generic/status/`: every class, custom states merged in."""
        with self.db.read() as s:
            return customstates.status_document(s)

    @rpc
    def status_class(self, name: str) -> dict:
        with self.db.read() as s:
            return customstates.status_class(s, name)

    # ------------------------------------------------------------ custom states

    @rpc
    def list_custom_states(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return customstates.list_custom_states(s, params)

    @rpc
    def export_custom_states(self, params: dict) -> dict:
        return self._export(customstates.FIELDS, self.list_custom_states, params)

    @rpc
    def get_custom_state(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return customstates.render(customstates.get(s, pk))

    @rpc
    def create_custom_state(self, data: dict) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return customstates.create(s, self.caller, data)

    @rpc
    def update_custom_state(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return customstates.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_custom_state(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            customstates.delete(s, self.caller, pk)

    @rpc
    def custom_state_options(self, detail: bool = False) -> dict:
        return self._options("Custom State", customstates.FIELDS, detail)

    # ------------------------------------------------------------ content types

    @rpc
    def list_content_types(self, params: dict) -> dict:
        self.caller.require_login()
        return contenttypes.list_content_types(params, self.settings.search_limits())

    @rpc
    def get_content_type(self, pk: int) -> dict:
        self.caller.require_login()
        return contenttypes.by_pk(pk)

    @rpc
    def get_content_type_by_model(self, model: str) -> dict:
        self.caller.require_login()
        return contenttypes.by_model(model)
