"""News feed entries (SEMANTICS §14): fetched from an Atom or RSS feed by a pluggable
fetcher (`NEWS_FEED_PROVIDER`: `http` at `NEWS_FEED_URL`, or `package.module:Class` with a
`fetch() -> [entry]` method), stored once per feed id, read and deleted by staff."""
import logging
import time
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from sqlalchemy import select

from svckit.bulk import bulk_condition, lock_matching
from svckit.fields import Field, validate
from svckit.listing import bool_param, get_by_id, run_list
from svckit.plugins import load_plugin

from . import events
from .dates import minutes
from .models import news_entries, store
from .settings import SystemSettings

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
MAX_FEED_BYTES = 2 * 1024 * 1024
FIELDS = {"read": Field("boolean", "Read")}
ORDERING = {"published": news_entries.c.published, "author": news_entries.c.author,
            "read": news_entries.c.read, "pk": news_entries.c.id}


def _when(text: str | None):
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text.strip())
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def parse_feed(raw: bytes) -> list[dict]:
    """Entries of an Atom or RSS 2.0 document."""
    root = ET.fromstring(raw)
    entries = []
    for item in root.iter(f"{ATOM}entry"):
        link = item.find(f"{ATOM}link")
        entries.append({"feed_id": item.findtext(f"{ATOM}id") or "",
                        "title": item.findtext(f"{ATOM}title") or "",
                        "link": link.get("href", "") if link is not None else "",
                        "published": _when(item.findtext(f"{ATOM}published")
                                           or item.findtext(f"{ATOM}updated")),
                        "author": item.findtext(f"{ATOM}author/{ATOM}name") or "",
                        "summary": item.findtext(f"{ATOM}summary") or ""})
    for item in root.iter("item"):
        entries.append({"feed_id": item.findtext("guid") or item.findtext("link") or "",
                        "title": item.findtext("title") or "", "link": item.findtext("link") or "",
                        "published": _when(item.findtext("pubDate")),
                        "author": item.findtext("author") or "",
                        "summary": item.findtext("description") or ""})
    return [e for e in entries if e["feed_id"]]


class HttpFeed:
    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout

    def fetch(self) -> list[dict]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
            raw = resp.read(MAX_FEED_BYTES + 1)
        if len(raw) > MAX_FEED_BYTES:
            raise ValueError("news feed larger than 2 MB")
        return parse_feed(raw)


def fetcher_class(settings: SystemSettings):
    """The class `NEWS_FEED_PROVIDER` names (checked when the service starts)."""
    name = settings.NEWS_FEED_PROVIDER
    if name == "http":
        return HttpFeed
    return load_plugin(name, kind="news feed", setting="NEWS_FEED_PROVIDER")


def fetch(settings: SystemSettings) -> list[dict]:
    """The feed's entries (over the internet: call with no transaction open): from
    NEWS_FEED_URL, or from a fetcher of your own."""
    cls = fetcher_class(settings)
    if cls is HttpFeed:
        return HttpFeed(settings.NEWS_FEED_URL, settings.NEWS_FEED_TIMEOUT).fetch()
    return cls().fetch()


_fetched_at = -1e9  # when this process last fetched on schedule (time.monotonic)


def fetch_when_due(settings: SystemSettings) -> list[dict]:
    """`fetch` once every NEWS_FEED_INTERVAL hours (0: never) per process; a failure is
    logged (the feed is on the internet; the next interval tries again). Entries, or []."""
    global _fetched_at
    hours = settings.NEWS_FEED_INTERVAL
    if hours <= 0 or time.monotonic() - _fetched_at < hours * 3600:
        return []
    _fetched_at = time.monotonic()
    try:
        return fetch(settings)
    except Exception as exc:
        log.warning("news feed fetch failed: %s", exc)
        return []


def store_new(session, caller, entries: list[dict]) -> int:
    known = set(session.execute(select(news_entries.c.feed_id)).scalars())
    added = 0
    for entry in entries:
        if entry["feed_id"] in known:
            continue
        known.add(entry["feed_id"])
        pk = store.next_stream_id(session, "news_entry")
        payload = {k: str(entry.get(k) or "")[:250] for k in ("feed_id", "title", "link", "author")}
        payload["summary"] = str(entry.get("summary") or "")
        published = entry.get("published")
        payload["published"] = published.isoformat() if published else None
        payload["read"] = False
        store.record(session, "news_entry", pk, events.NEWS_ENTRY_CREATED, payload, caller)
        added += 1
    return added


def render(row) -> dict:
    return {"pk": row["id"], "feed_id": row["feed_id"], "title": row["title"],
            "link": row["link"],
            "published": minutes(row["published"]) if row["published"] else None,
            "author": row["author"], "summary": row["summary"], "read": row["read"]}


def list_news_items(session, params: dict) -> dict:
    """A page of entries (filter `read`), newest first unless ordered otherwise."""
    stmt = select(news_entries)
    read = bool_param(params, "read")
    if read is not None:
        stmt = stmt.where(news_entries.c.read.is_(read))
    return run_list(session, stmt, params, ordering=ORDERING,
                    default_order=[news_entries.c.published.desc(), news_entries.c.id],
                    render=render)


def get(session, pk) -> dict:
    return get_by_id(session, news_entries, pk)


def update(session, caller, pk: int, data, partial: bool) -> dict:
    current, version = store.load_for_update(session, "news_entry", pk, get)
    cleaned = validate(FIELDS, data, partial=partial)
    if "read" in cleaned and cleaned["read"] != current["read"]:
        store.record(session, "news_entry", pk, events.NEWS_ENTRY_UPDATED,
                     {"read": cleaned["read"]}, caller, version + 1)
    return render(get(session, pk))


def delete(session, caller, pk: int):
    _, version = store.load_for_update(session, "news_entry", pk, get)
    store.record(session, "news_entry", pk, events.NEWS_ENTRY_DELETED, {}, caller, version + 1)


def bulk_delete(session, caller, body) -> int:
    condition = bulk_condition(body, news_entries.c.id, {
        "id": news_entries.c.id, "pk": news_entries.c.id, "read": news_entries.c.read,
        "author": news_entries.c.author})
    ids = lock_matching(session, store, "news_entry", news_entries, condition)
    for pk in ids:
        store.record(session, "news_entry", pk, events.NEWS_ENTRY_DELETED, {}, caller)
    return len(ids)
