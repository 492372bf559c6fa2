"""`/api/generate/batch-code/` and `/api/generate/serial-number/`."""
from svckit.service import rpc

from .. import generate
from .base import SystemEntrypoints


class GeneratorEntrypoints(SystemEntrypoints):
    @rpc
    def generate_batch_code(self, data: dict) -> dict:
        self.caller.require_login()
        return generate.batch_code(data, self.settings.STOCK_BATCH_CODE_TEMPLATE)

    @rpc
    def generate_serial_number(self, data: dict) -> dict:
        self.caller.require_login()
        with self.db.write() as s:
            return generate.reserve_serials(s, self.caller, data)
