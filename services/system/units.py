"""Custom physical units: InvenTree 264's `common.CustomUnit` and `InvenTree/conversion.py`.

Pure logic, no database: callers pass the custom units they hold as dicts
`{"name", "symbol", "definition"}`.

- `build_registry(units)`: the pint registry InvenTree's `reload_unit_registry` builds
  (offset units auto-converted, degC/degF/degK aliases, piece/each/dozen/hundred/thousand),
  plus the custom units. Cached per tuple of units; treat the result as read-only.
- `validate_unit(data, others)`: DRF field checks, then `CustomUnit.clean()` and
  `validate_unique()`, with InvenTree's messages.
- `all_units_document(units)`: the body of `GET /api/units/all/` (`AllUnitList`).
"""
import copy
import logging
from functools import lru_cache

import pint
from pint.pint_eval import tokenizer

from svckit.errors import ValidationFailed
from svckit.fields import Field, validate

logger = logging.getLogger(__name__)

FIELDS = {
    "pk": Field("integer", "ID", read_only=True),
    "name": Field("string", "Name", "Unit name", required=True, max_length=50),
    "symbol": Field("string", "Symbol", "Optional unit symbol", max_length=10,
                    extra={"allow_blank": True}),
    "definition": Field("string", "Definition", "Unit definition", required=True,
                        max_length=50),
}

# InvenTree's extra definitions (conversion.reload_unit_registry).
_INVENTREE_DEFINITIONS = (
    "@alias degC = Celsius",
    "@alias degF = Fahrenheit",
    "@alias degK = Kelvin",
    "piece = 1",
    "each = 1 = ea",
    "dozen = 12 = dz",
    "hundred = 100",
    "thousand = 1000",
)

# Hardening (not in InvenTree): pint evaluates integer powers exactly, so a definition like
# `9**9**9**9` never finishes. Exponents must be small numeric literals, at most two powers.
_MAX_EXPONENT = 100
_MAX_POWERS = 2
_POWER_OPS = ("**", "^")


def fmt_string(unit: dict) -> str:
    """Pint definition line, as CustomUnit.fmt_string(): 'dog_year = 52 * day = dy'."""
    fmt = f"{unit['name']} = {unit['definition']}"
    if unit.get("symbol"):
        fmt += f" = {unit['symbol']}"
    return fmt


def _key(units) -> tuple:
    return tuple((u["name"], u.get("symbol") or "", u["definition"]) for u in units or ())


def _make_registry(key: tuple, strict: bool = False) -> pint.UnitRegistry:
    reg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True,
                            on_redefinition="raise" if strict else "warn")
    for line in _INVENTREE_DEFINITIONS:
        reg.define(line)
    for name, symbol, definition in key:
        unit = {"name": name, "symbol": symbol, "definition": definition}
        try:
            if _definition_problem(definition) is None:
                reg.define(fmt_string(unit))
        except Exception as exc:  # InvenTree logs and skips a unit it cannot load
            logger.warning("Failed to load custom unit: %s - %s", fmt_string(unit), exc)
    return reg


@lru_cache(maxsize=16)
def _cached_registry(key: tuple) -> pint.UnitRegistry:
    return _make_registry(key)


@lru_cache(maxsize=16)
def _strict_registry(key: tuple) -> pint.UnitRegistry:
    """The registry for `key` that refuses redefinitions; never defined into: validation
    defines into a copy (a copy costs a fifth of building one)."""
    return _make_registry(key, strict=True)


def build_registry(custom_units: list[dict] | None = None) -> pint.UnitRegistry:
    """InvenTree's unit registry holding `custom_units`; cached, do not `define` into it."""
    return _cached_registry(_key(custom_units))


def _definition_problem(definition: str) -> str | None:
    """Refuse power towers and big exponents before pint evaluates them (hardening)."""
    try:
        tokens = [t.string for t in tokenizer(definition) if t.string]
    except Exception:
        return None  # let pint report its own parse error
    powers = 0
    for i, tok in enumerate(tokens):
        if tok not in _POWER_OPS:
            continue
        powers += 1
        j = i + 1
        if j < len(tokens) and tokens[j] in ("-", "+"):
            j += 1
        try:
            ok = abs(float(tokens[j])) <= _MAX_EXPONENT
        except (IndexError, ValueError):
            ok = False
        if not ok or powers > _MAX_POWERS or (j + 1 < len(tokens) and tokens[j + 1] in _POWER_OPS):
            return (f"Exponents must be numbers no larger than {_MAX_EXPONENT}, "
                    f"with at most {_MAX_POWERS} powers")
    return None


def validate_unit(data: dict, others: list[dict]) -> dict:
    """Validate a custom unit as InvenTree's API does; return the cleaned fields.

    `others`: every other custom unit (exclude the one being edited). For a PATCH, merge
    the stored unit with the patch first. Order follows DRF then Django's full_clean():
    field errors (required / blank / length / unique name) stop everything; otherwise
    clean()'s first error and the symbol-uniqueness error are reported together.
    """
    cleaned = validate(FIELDS, data)
    cleaned.setdefault("symbol", "")
    if cleaned["symbol"] is None:
        cleaned["symbol"] = ""
    if any(o["name"] == cleaned["name"] for o in others):
        raise ValidationFailed({"name": ["Custom Unit with this Name already exists."]})

    errors = {}
    symbol = cleaned["symbol"]
    duplicate = bool(symbol) and any((o.get("symbol") or "") == symbol for o in others)
    clean_error = _clean(cleaned, others, check_symbol=not duplicate)
    if clean_error:
        errors.update(clean_error)
    if duplicate:
        errors["symbol"] = ["Unit symbol must be unique"]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _clean(unit: dict, others: list[dict], check_symbol=True) -> dict | None:
    """CustomUnit.clean(): the first problem found, as a field-error dict."""
    name = unit["name"] = unit["name"].strip()
    if not name.isidentifier():
        return {"name": ["Unit name must be a valid identifier"]}
    definition = unit["definition"] = unit["definition"].strip()
    if problem := _definition_problem(definition):
        return {"definition": [problem]}
    try:
        build_registry(others).Quantity(definition)
    except Exception as exc:
        return {"definition": [str(exc) or f"Invalid unit definition: {definition}"]}
    # InvenTree defines into its live registry; we use a fresh copy of one that refuses
    # redefinitions, so a name or symbol clashing with pint (or another unit) is refused.
    # A duplicate custom symbol is left to the "must be unique" error alone.
    candidate = unit if check_symbol else {**unit, "symbol": ""}
    try:
        copy.deepcopy(_strict_registry(_key(others))).define(fmt_string(candidate))
    except Exception as exc:
        return {"non_field_errors": [str(exc) or f"Invalid unit: {fmt_string(unit)}"]}
    return None


def _unit_entry(reg, k):
    """AllUnitList.get_unit(); note InvenTree's is_alias is True for canonical names."""
    if not hasattr(reg, k):
        return None
    unit = getattr(reg, k)
    return {
        "name": k,
        "is_alias": reg.get_name(k) == k,
        "compatible_units": sorted(str(a) for a in unit.compatible_units()),
        "isdimensionless": unit.dimensionless,
    }


@lru_cache(maxsize=8)
def _document(key: tuple) -> dict:
    reg = _cached_registry(key)
    units = {}
    for k in reg:
        try:
            entry = _unit_entry(reg, k)
        except Exception:  # a broken custom unit; InvenTree would answer 500
            entry = None
        if entry:
            units[k] = entry
    return {"default_system": reg.default_system, "available_systems": dir(reg.sys),
            "available_units": units}


def all_units_document(custom_units: list[dict] | None = None) -> dict:
    """Body of GET /api/units/all/ (cached per set of custom units; copy before mutating)."""
    return _document(_key(custom_units))
