"""What the importer service may create here (the import-target protocol of
svckit/importing.py): custom states."""
from svckit.importing import ImportAdapter, ImportTargets

from . import customstates
from .models import receipts

TARGETS = ImportTargets({
    "inventreecustomuserstatemodel": ImportAdapter(
        label="Custom State", fields=customstates.FIELDS, serializer="CustomStateSerializer",
        validate=customstates.import_validate, create=customstates.create_checked),
}, receipts)
