"""What the importer service may create here (the import-target protocol of
svckit/importing.py): custom units and project codes."""
from svckit.importing import ImportAdapter, ImportTargets

from . import customunits, projectcodes, units
from .models import receipts

TARGETS = ImportTargets({
    "customunit": ImportAdapter(
        label="Custom Unit", fields=units.FIELDS, serializer="CustomUnitSerializer",
        validate=customunits.import_validate, create=customunits.create),
    "projectcode": ImportAdapter(
        label="Project Code", fields=projectcodes.FIELDS, serializer="ProjectCodeSerializer",
        api_url="/api/project-code/", validate=projectcodes.import_validate,
        create=projectcodes.create, validate_batch=projectcodes.import_validate_batch,
        create_batch=projectcodes.create_batch, check_batch=projectcodes.import_check_batch),
}, receipts)


def context(rows, lookup) -> dict:
    """What a batch refers to in other services, asked before the transaction opens: the
    owners its project codes name (`lookup`: the users service's `owners`)."""
    return {"owners": projectcodes.referenced_owners(
        [r.get("data") for r in rows if isinstance(r, dict)], lookup)}
