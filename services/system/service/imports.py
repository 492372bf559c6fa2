"""The import-target protocol's entrypoints (svckit.importing), for custom units and
project codes."""
from svckit.service import ImportTargetMixin

from .. import imports
from .base import SystemEntrypoints


class ImportEntrypoints(ImportTargetMixin, SystemEntrypoints):
    IMPORTS = imports.TARGETS

    def _import_context(self, rows) -> dict:
        return imports.context(rows, self.users.owners)
