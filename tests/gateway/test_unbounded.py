"""Unpaged lists (gateway.unbounded): fetched from the service a page at a time, answered
as one bare array (held whole up to HELD_ROWS rows, streamed beyond), capped at the server
maximum."""
import falcon
import pytest
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

    return app_answering(fetch, max_rows)


def app_answering(fetch, max_rows):
    """A Falcon app whose list is `send_all(fetch)`."""
    class Everything:
        def on_get(self, req, resp):
            unbounded.send_all(resp, fetch, max_rows)

    app = falcon.App()
    app.add_route("/list/", Everything())
    return testing.TestClient(app)


def test_every_row_fetched_in_pages_and_held_as_one_body():
    asked = []
    r = app_serving(ROWS, 100000, asked).simulate_get("/list/")
    assert r.json == ROWS and r.headers["Content-Length"] == str(len(r.content))
    assert r.headers["X-Total-Count"] == "2500" and "X-Truncated" not in r.headers
    assert asked == [(1000, 0), (1000, 1000), (1000, 2000)]


def test_beyond_the_held_rows_the_array_streams(monkeypatch):
    monkeypatch.setattr(unbounded, "HELD_ROWS", 1000)
    asked = []
    r = app_serving(ROWS, 100000, asked).simulate_get("/list/")
    assert r.json == ROWS and "Content-Length" not in r.headers
    assert asked == [(1000, 0), (1000, 1000), (1000, 2000)]


def failing_after_the_first_page(limit, offset):
    if offset:
        raise RuntimeError("the broker went away")
    return page_list(ROWS, {"limit": str(limit), "offset": str(offset)})


def test_a_failing_page_of_a_held_list_gets_an_error_answer_not_a_cut_one():
    """The broker lost while a list is fetched: the client gets the error's own status
    (the gateway's 503), not a 200 whose body breaks off."""
    r = app_answering(failing_after_the_first_page, 100000).simulate_get("/list/")
    assert r.status_code == 500 and r.json["title"] == "500 Internal Server Error"


def test_a_failing_page_after_the_answer_started_cuts_it_short(monkeypatch):
    monkeypatch.setattr(unbounded, "HELD_ROWS", 1000)
    with pytest.raises(RuntimeError, match="the broker went away"):
        app_answering(failing_after_the_first_page, 100000).simulate_get("/list/")


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


def test_rows_deleted_while_fetching_end_the_array_early():
    rows = list(ROWS)
    asked = []

    def shrinking(limit, offset):
        asked.append((limit, offset))
        if offset:
            del rows[1200:]
        return page_list(rows, {"limit": str(limit), "offset": str(offset)})

    r = app_answering(shrinking, 100000).simulate_get("/list/")
    assert r.json == ROWS[:1200]
