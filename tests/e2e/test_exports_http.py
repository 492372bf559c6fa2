"""`?export=` of project codes, custom units and custom states over HTTP: InvenTree 264's
column titles, file names and content type (tests/data/live/export-headers.json), and no
cell a spreadsheet would evaluate."""
import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

LIVE = json.loads((Path(__file__).resolve().parents[1] / "data" / "live" /
                   "export-headers.json").read_text())
RECORDED_ON = "2026-12-02"  # the date in the recorded file names


@pytest.fixture(scope="module")
def rows(admin):
    """One row of each exported list, with text that looks like formulas."""
    owner = admin.get(f"{admin.base}/api/user/owner/?search=admin", timeout=10).json()[0]
    made = [
        admin.post(f"{admin.base}/api/project-code/", timeout=10, json={
            "code": "=HYPERLINK(\"http://x\")", "description": "@SUM(A1)",
            "responsible": owner["pk"]}),
        admin.post(f"{admin.base}/api/units/", timeout=10,
                   json={"name": "export_unit", "symbol": "xu", "definition": "2 meter"}),
        admin.post(f"{admin.base}/api/generic/status/custom/", timeout=10, json={
            "key": -7, "name": "+plus", "label": "-minus", "logical_key": 10,
            "model": admin.get(f"{admin.base}/api/contenttype/model/stockitem/",
                               timeout=10).json()["pk"],
            "reference_status": "StockStatus"}),
    ]
    assert [r.status_code for r in made] == [201, 201, 201], [r.text for r in made]
    return [r.json() for r in made]


@pytest.mark.parametrize("path", sorted(LIVE))
def test_headers_and_file_names_are_inventree_s(admin, rows, path):
    expected = LIVE[path]
    before = date.today().isoformat()
    r = admin.get(f"{admin.base}{path}", timeout=10)
    dates = {before, date.today().isoformat()}
    assert r.status_code == expected["status"]
    assert r.headers["Content-Type"] == expected["content_type"]
    assert r.headers["Content-Disposition"] in {
        expected["content_disposition"].replace(RECORDED_ON, d) for d in dates}
    assert r.text.split("\r\n")[0] == expected["header_line"]


@pytest.mark.parametrize("fmt", ["xlsx", "json"])
def test_other_formats_have_the_same_columns_and_names(admin, rows, fmt):
    from openpyxl import load_workbook
    for path, recorded in LIVE.items():
        if not path.endswith("=csv"):
            continue
        r = admin.get(f"{admin.base}{path[:-3]}{fmt}", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/text"
        assert r.headers["Content-Disposition"].endswith(f'.{fmt}"')
        if fmt == "json":
            titles = list(r.json()[0])
        else:
            sheet = load_workbook(io.BytesIO(r.content), read_only=True).active
            titles = list(next(sheet.iter_rows(values_only=True)))
        assert titles == recorded["header_line"].split(",")


def cells_of(admin, path, fmt):
    r = admin.get(f"{admin.base}{path}?export={fmt}", timeout=10)
    if fmt == "json":
        return [[str(v) for v in row.values()] for row in r.json()]
    return list(csv.reader(io.StringIO(r.text), delimiter="\t" if fmt == "tsv" else ","))[1:]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
def test_no_cell_starts_a_formula(admin, rows, fmt):
    code, _, state = rows
    codes = {row[0]: row for row in cells_of(admin, "/api/project-code/", fmt)}
    assert codes[str(code["pk"])][1:3] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)"]
    states = {row[0]: row for row in cells_of(admin, "/api/generic/status/custom/", fmt)}
    assert states[str(state["pk"])][1:4] == ["-7", "'+plus", "'-minus"]  # a number stays
    for path in ("/api/project-code/", "/api/units/", "/api/generic/status/custom/"):
        for row in cells_of(admin, path, fmt):
            assert not any(c[:1] in ("=", "+", "@") for c in row), row


def test_xlsx_cells_are_text_not_formulas(admin, rows):
    from openpyxl import load_workbook
    r = admin.get(f"{admin.base}/api/project-code/?export=xlsx", timeout=10)
    sheet = load_workbook(io.BytesIO(r.content)).active
    values = [c.value for row in sheet.iter_rows(min_row=2) for c in row]
    assert "'=HYPERLINK(\"http://x\")" in values
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


@pytest.fixture(scope="module")
def many_codes(admin):
    """2,500 project codes ("BULK-0000"...), more than two pages of the gateway's export
    paging; every seventh description looks like a formula."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    def make(numbers):
        session = requests.Session()
        session.headers.update(admin.headers)
        made = []
        for n in numbers:
            r = session.post(f"{admin.base}/api/project-code/", timeout=30, json={
                "code": f"BULK-{n:04d}", "description": f"={n}+1" if n % 7 == 0 else f"d{n}"})
            assert r.status_code == 201, r.text
            made.append(r.json())
        return made

    with ThreadPoolExecutor(4) as pool:
        made = [c for part in pool.map(make, [range(i, 2500, 4) for i in range(4)]) for c in part]
    return sorted(made, key=lambda c: c["pk"])


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xlsx"])
def test_an_export_of_many_rows_is_complete_row_by_row(admin, many_codes, fmt):
    from openpyxl import load_workbook
    r = admin.get(f"{admin.base}/api/project-code/?export={fmt}&search=BULK-", timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/text"
    assert r.headers["X-Total-Count"] == "2500" and "X-Truncated" not in r.headers
    if fmt == "json":
        rows = [list(row.values()) for row in r.json()]
    elif fmt == "xlsx":
        rows = [list(row) for row in load_workbook(io.BytesIO(r.content), read_only=True)
                .active.iter_rows(min_row=2, values_only=True)]
    else:
        rows = list(csv.reader(io.StringIO(r.text), delimiter="\t" if fmt == "tsv" else ","))[1:]
    assert len(rows) == 2500
    for row, code in zip(rows, many_codes):
        description = ("'" if code["description"].startswith("=") else "") + code["description"]
        assert [str(c) for c in row[:3]] == [str(code["pk"]), code["code"], description]
