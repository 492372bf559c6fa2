"""News entries from a feed served on loopback."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.system import models, news
from services.system.service import Service
from svckit.errors import PermissionDenied, ValidationFailed
from tests.helpers import STAFF, USER, worker_factory

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>InvenTree</title>
<entry><id>https://inventree.org/news/1</id><title>Release 0.17</title>
<link href="https://inventree.org/news/1"/><published>2024-12-17T10:00:00Z</published>
<author><name>Oliver</name></author><summary>New release</summary></entry>
<entry><id>https://inventree.org/news/2</id><title>Older</title>
<link href="https://inventree.org/news/2"/><updated>2024-10-01T08:30:00+02:00</updated>
<summary>Older news</summary></entry></feed>"""

RSS = b"""<rss version="2.0"><channel><item><guid>g1</guid><title>RSS item</title>
<link>https://example.org/1</link><pubDate>Tue, 01 Oct 2024 08:00:00 GMT</pubDate>
<description>Text</description></item></channel></rss>"""


@pytest.fixture
def feed(monkeypatch):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(ATOM)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # `shutdown` waits for the loop's next poll: every 50 ms, not the default 0.5 s
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    monkeypatch.setenv("NEWS_FEED_URL", f"http://127.0.0.1:{httpd.server_address[1]}/feed")
    yield
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def svc(make_db):
    db = make_db(models.metadata)
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller)


def test_parse_atom_and_rss():
    atom = news.parse_feed(ATOM)
    assert [e["title"] for e in atom] == ["Release 0.17", "Older"]
    assert atom[1]["published"].isoformat() == "2024-10-01T06:30:00"
    assert news.parse_feed(RSS)[0]["feed_id"] == "g1"


def test_fetch_once_per_entry_then_read_and_delete(svc, feed):
    assert svc().fetch_news() == 2
    assert svc().fetch_news() == 0
    items = svc().list_news_items(params={})["results"]
    assert [i["title"] for i in items] == ["Release 0.17", "Older"]  # newest first
    assert items[0]["published"] == "2024-12-17 10:00" and items[0]["author"] == "Oliver"
    assert svc().update_news_item(pk=items[0]["pk"], data={"read": True}, partial=True)["read"]
    assert [i["title"] for i in svc().list_news_items(params={"read": "false"})["results"]] == ["Older"]
    with pytest.raises(PermissionDenied):
        svc(USER).list_news_items(params={})
    assert svc().bulk_delete_news_items(body={"filters": {"read": True}}) == 1
    with pytest.raises(ValidationFailed):
        svc().bulk_delete_news_items(body={"filters": {"title": "x"}})
    assert len(svc().list_news_items(params={})["results"]) == 1


class FixedFeed:
    """A feed of one's own (`NEWS_FEED_PROVIDER=tests.system.test_news:FixedFeed`)."""

    def fetch(self) -> list[dict]:
        return news.parse_feed(RSS)


def test_a_feed_of_ones_own(svc, monkeypatch):
    monkeypatch.setenv("NEWS_FEED_PROVIDER", "tests.system.test_news:FixedFeed")
    assert svc().fetch_news() == 1
    assert [i["title"] for i in svc().list_news_items(params={})["results"]] == ["RSS item"]


def test_the_scheduled_fetch_runs_once_per_interval(svc, feed, monkeypatch):
    monkeypatch.setattr(news, "_fetched_at", -1e9)  # this process never fetched
    monkeypatch.setenv("NEWS_FEED_INTERVAL", "0")  # never
    svc().fetch_news_when_due()
    assert len(svc().list_news_items(params={})["results"]) == 0
    monkeypatch.setenv("NEWS_FEED_INTERVAL", "24")
    svc().fetch_news_when_due()
    assert len(svc().list_news_items(params={})["results"]) == 2
    with svc().db.write() as s:
        s.execute(models.news_entries.delete())
    svc().fetch_news_when_due()  # within the interval: not fetched again
    assert len(svc().list_news_items(params={})["results"]) == 0


def test_a_failed_scheduled_fetch_is_logged_not_raised(svc, monkeypatch):
    monkeypatch.setattr(news, "_fetched_at", -1e9)
    monkeypatch.setenv("NEWS_FEED_URL", "http://127.0.0.1:9/feed")  # nothing listens
    svc().fetch_news_when_due()
    assert len(svc().list_news_items(params={})["results"]) == 0
