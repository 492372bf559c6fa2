"""Custom units (SEMANTICS §14): commands over the table; rules live in units.py."""
from sqlalchemy import select

from svckit.listing import get_by_id, run_list

from . import events, units
from .models import custom_units, store

COLUMNS = {"pk": custom_units.c.id, "name": custom_units.c.name,
           "symbol": custom_units.c.symbol, "definition": custom_units.c.definition}
SEARCH = (custom_units.c.name, custom_units.c.symbol, custom_units.c.definition)


def render(row) -> dict:
    return {"pk": row["id"], "name": row["name"], "symbol": row["symbol"],
            "definition": row["definition"]}


def list_custom_units(session, params: dict) -> dict:
    return run_list(session, select(custom_units), params, search=SEARCH, ordering=COLUMNS,
                    default_order=[custom_units.c.id], render=render)


def all_rows(session) -> list[dict]:
    return [dict(r) for r in session.execute(select(custom_units).order_by(custom_units.c.id))
            .mappings()]


def get(session, pk) -> dict:
    return get_by_id(session, custom_units, pk)


def check(session, data, current: dict | None = None, partial: bool = False) -> dict:
    """units.validate_unit against the other stored units; a partial update is checked
    as the stored unit with the changes applied."""
    others = [r for r in all_rows(session) if not current or r["id"] != current["id"]]
    if partial and current and isinstance(data, dict):
        data = {**{k: current[k] for k in ("name", "symbol", "definition")}, **data}
    return units.validate_unit(data, others)


def import_validate(session, data, _context: dict) -> dict:
    """The import adapter's check (custom units need no context)."""
    return check(session, data)


def add(session, caller, data) -> dict:
    """`POST /api/units/`: the new unit, rendered."""
    pk = create(session, caller, check(session, data))
    return render(get(session, pk))


def create(session, caller, cleaned: dict, import_key: str | None = None) -> int:
    """Record a custom unit from `check`ed data."""
    pk = store.next_stream_id(session, "custom_unit")
    payload = dict(cleaned)
    if import_key:
        payload["import_key"] = import_key
    store.record(session, "custom_unit", pk, events.CUSTOM_UNIT_CREATED, payload, caller,
                 version=1)
    return pk


def update(session, caller, pk: int, data, partial: bool) -> dict:
    current, version = store.load_for_update(session, "custom_unit", pk, get)
    cleaned = check(session, data, current, partial)
    store.record_changes(session, "custom_unit", pk, events.CUSTOM_UNIT_UPDATED, current,
                         cleaned, caller, version + 1)
    return render(get(session, pk))


def delete(session, caller, pk: int):
    row, version = store.load_for_update(session, "custom_unit", pk, get)
    store.record(session, "custom_unit", pk, events.CUSTOM_UNIT_DELETED, {"name": row["name"]},
                 caller, version + 1)


def all_units(session) -> dict:
    return units.all_units_document([{k: r[k] for k in ("name", "symbol", "definition")}
                                     for r in all_rows(session)])
