"""Unpaged lists (gateway.unbounded): fetched from the service a page at a time, streamed
as one bare array, capped at the server maximum."""
import falcon
from falcon import testing

from gateway import unbounded
from svckit.listing import page_list

ROWS = [{"pk": n, "name": f"row {n}"} for n in range(1, 2501)]


def app_serving(rows, max_rows, asked):
    """A Falcon app whose list answers from `rows` by svckit's paging, recording each page
    asked for in `asked`."""
    def fetch(limit, offset):
        asked.append((limit, offset))
        return page_list(rows, {"limit": str(limit), "offset": str(offset)})

    class Everything:
        def on_get(self, req, resp):
            unbounded.send_all(resp, fetch, max_rows)

    app = falcon.App()
    app.add_route("/list/", Everything())
    return testing.TestClient(app)


def test_every_row_streamed_in_pages():
    asked = []
    r = app_serving(ROWS, 100000, asked).simulate_get("/list/")
    assert r.json == ROWS
    assert r.headers["X-Total-Count"] == "2500" and "X-Truncated" not in r.headers
    assert asked == [(1000, 0), (1000, 1000), (1000, 2000)]


def test_capped_at_the_maximum_with_headers_saying_so():
    asked = []
    r = app_serving(ROWS, 1500, asked).simulate_get("/list/")
    assert r.json == ROWS[:1500]
    assert (r.headers["X-Total-Count"], r.headers["X-Truncated"]) == ("2500", "1500")
    assert asked == [(1000, 0), (1000, 1000)]


def test_a_small_list_is_one_page_and_one_body():
    asked = []
    r = app_serving(ROWS[:3], 100000, asked).simulate_get("/list/")
    assert r.json == ROWS[:3] and r.headers["Content-Length"] == str(len(r.content))
    assert asked == [(1000, 0)]


def test_rows_deleted_while_streaming_end_the_array_early():
    rows = list(ROWS)
    asked = []

    def shrinking(limit, offset):
        asked.append((limit, offset))
        if offset:
            del rows[1200:]
        return page_list(rows, {"limit": str(limit), "offset": str(offset)})

    class Everything:
        def on_get(self, req, resp):
            unbounded.send_all(resp, shrinking, 100000)

    app = falcon.App()
    app.add_route("/list/", Everything())
    r = testing.TestClient(app).simulate_get("/list/")
    assert r.json == ROWS[:1200]
