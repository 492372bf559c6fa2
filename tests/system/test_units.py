"""Custom units: InvenTree 264's CustomUnit validation and GET /api/units/all/."""
import pytest

from services.system.units import all_units_document, build_registry, validate_unit
from svckit.errors import ValidationFailed

FANCIFUL = {"name": "fanciful", "symbol": "fcf", "definition": "100 * meter"}


def errors_of(data, others=()):
    with pytest.raises(ValidationFailed) as info:
        validate_unit(data, list(others))
    return info.value.detail


@pytest.mark.parametrize("name", ["1", "1abc", "abc def", "abc-def", "abc.def"])
def test_invalid_names_refused(name):
    assert errors_of({"name": name, "definition": "1"}) == {
        "name": ["Unit name must be a valid identifier"]}


def test_valid_unit_cleaned():
    data = {"name": " fanciful ", "symbol": "fcf", "definition": " 100 * meter "}
    assert validate_unit(data, []) == FANCIFUL


def test_a_validation_leaves_nothing_behind_for_the_next():
    """Each validation defines the candidate into a copy of the cached strict registry: the
    same unit validated twice against the same others is accepted twice."""
    others = [{"name": "dog_year", "symbol": "dy", "definition": "52 * day"}]
    assert validate_unit(dict(FANCIFUL), others) == FANCIFUL
    assert validate_unit(dict(FANCIFUL), others) == FANCIFUL


def test_symbol_optional():
    assert validate_unit({"name": "fanciful", "definition": "100 * meter"}, [])["symbol"] == ""


def test_duplicate_symbol():
    other = {"name": "other_unit", "symbol": "fcf", "definition": "3 * meter"}
    assert errors_of(FANCIFUL, [other]) == {"symbol": ["Unit symbol must be unique"]}


def test_duplicate_symbol_reported_with_name_error():
    other = {"name": "other_unit", "symbol": "fcf", "definition": "3 * meter"}
    assert errors_of({**FANCIFUL, "name": "1abc"}, [other]) == {
        "name": ["Unit name must be a valid identifier"],
        "symbol": ["Unit symbol must be unique"]}


def test_duplicate_name():
    assert errors_of(FANCIFUL, [{**FANCIFUL, "symbol": ""}]) == {
        "name": ["Custom Unit with this Name already exists."]}


def test_bad_definition():
    assert errors_of({"name": "fanciful", "definition": "100 * bogus"}) == {
        "definition": ["'bogus' is not defined in the unit registry"]}


def test_definition_may_use_other_custom_units():
    assert validate_unit({"name": "bigfancy", "definition": "10 fcf"}, [FANCIFUL])


def test_power_tower_refused_fast():
    detail = errors_of({"name": "boom", "definition": "9**9**9**9"})
    assert list(detail) == ["definition"]


def test_name_colliding_with_pint_refused():
    detail = errors_of({"name": "meter", "definition": "100 * inch"})
    assert detail == {"non_field_errors": [
        "Cannot redefine 'meter' (<class 'pint.delegates.txt_defparser.plain.UnitDefinition'>)"]}


def test_symbol_colliding_with_pint_refused():
    assert "non_field_errors" in errors_of({"name": "fanciful", "symbol": "m",
                                            "definition": "100 * inch"})


def test_field_errors():
    assert errors_of({}) == {"name": ["This field is required."],
                             "definition": ["This field is required."]}
    assert errors_of({"name": "x" * 51, "symbol": "s" * 11, "definition": ""}) == {
        "name": ["Ensure this field has no more than 50 characters."],
        "symbol": ["Ensure this field has no more than 10 characters."],
        "definition": ["This field may not be blank."]}


def test_registry_has_inventree_units_and_is_cached():
    reg = build_registry([FANCIFUL])
    assert reg is build_registry([dict(FANCIFUL)])
    assert reg.Quantity("3 dozen").to_base_units().magnitude == 36
    assert reg.Quantity("1 ea").to_base_units().magnitude == 1
    assert reg.Quantity("2 fcf").to("meter").magnitude == 200
    assert str(reg.Quantity("1 degC").units) == "degree_Celsius"


def test_all_units_document():
    doc = all_units_document([FANCIFUL])
    assert doc["default_system"] == "mks"
    assert "SI" in doc["available_systems"] and "imperial" in doc["available_systems"]
    units = doc["available_units"]
    assert len(units) > 100
    assert set(units["meter"]) == {"name", "is_alias", "compatible_units", "isdimensionless"}
    # InvenTree's is_alias is `reg.get_name(k) == k`: True for canonical names.
    assert units["fanciful"] == {"name": "fanciful", "is_alias": True,
                                 "compatible_units": units["fanciful"]["compatible_units"],
                                 "isdimensionless": False}
    assert "meter" in units["fanciful"]["compatible_units"]
    assert units["fcf"]["is_alias"] is False
    assert units["piece"]["isdimensionless"] is True
    assert "fanciful" not in all_units_document([])["available_units"]
