"""`POST /api/generate/batch-code/` and `/serial-number/` (SEMANTICS §10, §19.4).

Parts and stock are not served by this deployment, so serial numbers come from a per-part
ledger: a reservation reads and advances it inside one write transaction, so two
concurrent requests never receive the same serial.
"""
from sqlalchemy import bindparam, select

from svckit.errors import ValidationFailed
from svckit.fields import Field, validate

from . import events
from .generators import batch_code_context, next_serials, render_batch_code
from .models import serial_ledger, store

PK_INPUTS = ("build_order", "item", "location", "part", "purchase_order")
BATCH_FIELDS = {name: Field("related field", name.replace("_", " ").title(),
                            extra={"allow_null": True}) for name in PK_INPUTS}
BATCH_FIELDS["quantity"] = Field("float", "Quantity", extra={"allow_null": True})
SERIAL_FIELDS = {"part": Field("related field", "Part", extra={"allow_null": True}),
                 "quantity": Field("integer", "Quantity", default=1)}


def batch_code(data, template: str) -> dict:
    """`POST /api/generate/batch-code/`, rendered with `template` (STOCK_BATCH_CODE_TEMPLATE)."""
    cleaned = validate(BATCH_FIELDS, data or {}, partial=True)
    quantity = cleaned.get("quantity")
    if quantity is not None:
        try:
            cleaned["quantity"] = float(quantity)
        except (TypeError, ValueError):
            raise ValidationFailed({"quantity": ["A valid number is required."]})
    inputs = {k: ({"pk": v} if k in PK_INPUTS and v is not None else v)
              for k, v in cleaned.items()}
    return {"batch_code": render_batch_code(template, batch_code_context(**inputs))}


# the part's latest serial, its ledger row locked until the transaction ends: the lock of
# the part's `serial_numbers` stream once the part has a ledger row (FOR UPDATE reads the
# row as the previous holder of the lock committed it; SQLite's writers are serial anyway)
_LATEST = select(serial_ledger.c.latest).where(
    serial_ledger.c.part == bindparam("part")).with_for_update()


def reserve_serials(session, caller, data) -> dict:
    cleaned = validate(SERIAL_FIELDS, data or {}, partial=True)
    part, quantity = cleaned.get("part"), cleaned.get("quantity", 1)
    latest = None
    if part is not None:
        latest = session.execute(_LATEST, {"part": part}).scalar()
        if latest is None:  # the part's first reservation: no row to lock yet
            store.lock_stream(session, "serial_numbers", part)
            latest = session.execute(_LATEST, {"part": part}).scalar()
    serials = next_serials(latest, quantity)  # validates quantity, for any part or none
    if part is None:
        return {"serial_number": None}
    if serials:
        store.record(session, "serial_numbers", part, events.SERIAL_NUMBERS_RESERVED,
                     {"serials": serials}, caller, stream_locked=True)
    return {"serial_number": ",".join(serials)}
