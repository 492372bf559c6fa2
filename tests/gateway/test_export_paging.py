"""`?export=` through the gateway against a fake service: the rows come a page at a time
(the export RPC's first page, then the list's), the file is streamed, it is byte for byte
what writing every row at once gives, and it stops at LIST_MAX_ROWS with the headers saying
so."""
import csv
import io
import json

import pytest

from svckit.listing import page_list
from tests.gateway.fakerpc import FakeRpc, make_app, request

FIELDS = {"pk": {"type": "integer", "label": "ID"},
          "code": {"type": "string", "label": "Project Code"},
          "responsible_detail": {"type": "nested object", "label": "Responsible detail"}}
ROWS = [{"pk": n, "code": f"=code {n}" if n % 7 == 0 else f"code {n}",
         "responsible_detail": {"pk": 1}} for n in range(1, 2501)]


@pytest.fixture
def served(tmp_path):
    """`served(**settings)`: the gateway with a fake system service holding ROWS (paged as
    svckit pages), and the number of rows of every RPC answer it gave."""
    sizes: list[int] = []

    def export_project_codes(params):  # what svckit.service._export answers
        page = page_list(ROWS, {"limit": "1000", "offset": "0"})
        sizes.append(len(page["results"]))
        return {"fields": FIELDS, "count": page["count"], "rows": page["results"]}

    def list_project_codes(params):
        page = page_list(ROWS, params)
        sizes.append(len(page["results"]))
        return page

    rpc = FakeRpc({"export_project_codes": export_project_codes,
                   "list_project_codes": list_project_codes})
    return lambda **settings: (make_app(rpc, tmp_path / "media", **settings), rpc, sizes)


def one_shot(fmt, rows):
    """The file as the gateway wrote it before exports were paged: every row at once."""
    table = [[r["pk"], "'" + r["code"] if r["code"].startswith("=") else r["code"]]
             for r in rows]
    if fmt == "json":
        return json.dumps([{"ID": pk, "Project Code": code} for pk, code in table],
                          indent=4).encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\r\n")
    writer.writerow(["ID", "Project Code"])
    writer.writerows(table)
    return buffer.getvalue().encode()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
def test_rows_are_fetched_in_pages_and_streamed(served, fmt):
    app, rpc, sizes = served()
    r = request(app, "GET", f"/api/project-code/?export={fmt}&search=x&limit=5&offset=9")
    assert r.status == 200 and r.body == one_shot(fmt, ROWS)
    assert "content-length" not in r.headers  # streamed, not one body
    assert r.headers["x-total-count"] == "2500" and "x-truncated" not in r.headers
    assert sizes == [1000, 1000, 500]  # no answer larger than a page
    assert rpc.calls[1:] == [
        ("system", "list_project_codes",
         {"params": {"search": "x", "limit": "1000", "offset": str(offset)}})
        for offset in (1000, 2000)]


def test_xlsx_is_written_page_by_page(served):
    from openpyxl import load_workbook
    app, _, sizes = served()
    r = request(app, "GET", "/api/project-code/?export=xlsx")
    assert r.status == 200 and r.headers["content-length"] == str(len(r.body))
    sheet = load_workbook(io.BytesIO(r.body), read_only=True).active
    got = [list(row) for row in sheet.iter_rows(values_only=True)]
    expected = list(csv.reader(io.StringIO(one_shot("csv", ROWS).decode())))
    assert got == [expected[0]] + [[int(pk), code] for pk, code in expected[1:]]
    assert sizes == [1000, 1000, 500]


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_capped_at_list_max_rows_with_headers(served, fmt):
    app, _, sizes = served(LIST_MAX_ROWS=1500)
    r = request(app, "GET", f"/api/project-code/?export={fmt}")
    assert (r.headers["x-total-count"], r.headers["x-truncated"]) == ("2500", "1500")
    if fmt == "xlsx":
        from openpyxl import load_workbook
        sheet = load_workbook(io.BytesIO(r.body), read_only=True).active
        assert len(list(sheet.iter_rows(values_only=True))) == 1501
    else:
        assert r.body == one_shot(fmt, ROWS[:1500])
    assert sizes == [1000, 1000]


def test_one_page_is_one_body_with_its_length(served):
    app, _, sizes = served(LIST_MAX_ROWS=3)
    r = request(app, "GET", "/api/project-code/?export=json")
    assert r.body == one_shot("json", ROWS[:3]) and r.headers["content-length"] == str(len(r.body))
    assert sizes == [1000]


def test_no_rows_is_the_titles_alone(tmp_path):
    rpc = FakeRpc({"export_project_codes": {"fields": FIELDS, "count": 0, "rows": []}})
    app = make_app(rpc, tmp_path / "media")
    assert request(app, "GET", "/api/project-code/?export=csv").body == b"ID,Project Code\r\n"
    assert request(app, "GET", "/api/project-code/?export=json").body == b"[]"


def test_a_page_failing_during_an_xlsx_leaves_no_file(served, tmp_path, monkeypatch):
    """The error reaches the client in its shape, and the sheet's temporary file is gone."""
    import tempfile

    from svckit.errors import ServiceUnavailable
    app, rpc, _ = served()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rpc.answers["list_project_codes"] = ServiceUnavailable()
    r = request(app, "GET", "/api/project-code/?export=xlsx")
    assert r.status == 503 and "content-disposition" not in r.headers
    assert "x-total-count" not in r.headers
    assert r.json == {"detail": "Service temporarily unavailable, try again later."}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("openpyxl")] == []
