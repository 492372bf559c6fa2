"""`/api/units/...`: custom units, and every unit the registry knows."""
from svckit.service import rpc

from .. import customunits, units
from .base import SystemEntrypoints


class CustomUnitEntrypoints(SystemEntrypoints):
    @rpc
    def list_custom_units(self, params: dict) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return customunits.list_custom_units(s, params)

    @rpc
    def export_custom_units(self, params: dict) -> dict:
        return self._export(units.FIELDS, self.list_custom_units, params)

    @rpc
    def get_custom_unit(self, pk: int) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return customunits.render(customunits.get(s, pk))

    @rpc
    def create_custom_unit(self, data: dict) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return customunits.add(s, self.caller, data)

    @rpc
    def update_custom_unit(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return customunits.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_custom_unit(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            customunits.delete(s, self.caller, pk)

    @rpc
    def custom_unit_options(self, detail: bool = False) -> dict:
        return self._options("Custom Unit", units.FIELDS, detail)

    @rpc
    def all_units(self) -> dict:
        """`GET /api/units/all/`, always from the units stored now (every process agrees)."""
        self.caller.require_login()
        with self.db.read() as s:
            return customunits.all_units(s)
