"""gateway.export: the columns exported and the neutralising of formula-like text."""
import csv
import io
import json

from gateway import export

FIELDS = {"pk": {"type": "integer", "label": "ID"},
          "code": {"type": "string", "label": "Project Code"},
          "responsible_detail": {"type": "nested object", "label": "Responsible detail"}}


def test_nested_objects_are_not_columns():
    assert export.columns(FIELDS) == [("pk", "ID"), ("code", "Project Code")]


def test_text_that_starts_a_formula_becomes_plain_text():
    for text in ("=1+2", "+1+cmd|' /C calc'!A0", "-2+3", "@A1", "\tx", "\r=1", "-", "-40 degC"):
        assert export.safe(text) == "'" + text
    for value in ("a=1", "", None, -5, 2.5, True, "-5", "+1.5", "-2e3"):
        assert export.safe(value) == value


def test_every_text_format_is_neutralised_and_numbers_stay():
    rows = [{"pk": -5, "code": "=cmd|' /C calc'!A0", "responsible_detail": {"pk": 1}}]
    data, name = export.render("csv", "ProjectCode", FIELDS, rows)
    assert list(csv.reader(io.StringIO(data.decode()))) == [
        ["ID", "Project Code"], ["-5", "'=cmd|' /C calc'!A0"]]
    data, _ = export.render("tsv", "ProjectCode", FIELDS, rows)
    assert data.decode().split("\r\n")[1] == "-5\t'=cmd|' /C calc'!A0"
    data, _ = export.render("json", "ProjectCode", FIELDS, rows)
    assert json.loads(data) == [{"ID": -5, "Project Code": "'=cmd|' /C calc'!A0"}]
    assert name.startswith("InvenTree_ProjectCode_") and name.endswith(".csv")
