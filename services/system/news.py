"""News feed entries (SEMANTICS §14): fetched from an Atom or RSS feed by a pluggable
fetcher (`NEWS_FEED_PROVIDER`: `http` at `NEWS_FEED_URL`, or `package.module:Class` with a
`fetch() -> [entry]` method), stored once per feed id, read and deleted by staff."""
import importlib
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from sqlalchemy import select

from svckit import config
from svckit.bulk import bulk_condition, lock_matching
from svckit.fields import Field, validate
from svckit.listing import bool_param, get_by_id

from .models import news_entries, store

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
    def __init__(self):
        self.url = config.setting("NEWS_FEED_URL", "https://inventree.org/news/feed.atom")
        self.timeout = config.setting("NEWS_FEED_TIMEOUT", 5.0, float)

    def fetch(self) -> list[dict]:
        with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
            raw = resp.read(MAX_FEED_BYTES + 1)
        if len(raw) > MAX_FEED_BYTES:
            raise ValueError("news feed larger than 2 MB")
        return parse_feed(raw)


def fetcher():
    name = config.setting("NEWS_FEED_PROVIDER", "http")
    if name == "http":
        return HttpFeed()
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)()


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
        store.record(session, "news_entry", pk, "news_entry.created", payload, caller)
        added += 1
    return added


def render(row) -> dict:
    return {"pk": row["id"], "feed_id": row["feed_id"], "title": row["title"],
            "link": row["link"],
            "published": row["published"].strftime("%Y-%m-%d %H:%M") if row["published"] else None,
            "author": row["author"], "summary": row["summary"], "read": row["read"]}


def listing(params: dict):
    stmt = select(news_entries)
    read = bool_param(params, "read")
    if read is not None:
        stmt = stmt.where(news_entries.c.read.is_(read))
    return stmt


def get(session, pk) -> dict:
    return get_by_id(session, news_entries, pk)


def update(session, caller, pk: int, data, partial: bool) -> dict:
    current, version = store.load_for_update(session, "news_entry", pk, get)
    cleaned = validate(FIELDS, data, partial=partial)
    if "read" in cleaned and cleaned["read"] != current["read"]:
        store.record(session, "news_entry", pk, "news_entry.updated", {"read": cleaned["read"]},
                     caller, version + 1)
    return render(get(session, pk))


def delete(session, caller, pk: int):
    _, version = store.load_for_update(session, "news_entry", pk, get)
    store.record(session, "news_entry", pk, "news_entry.deleted", {}, caller, version + 1)


def bulk_delete(session, caller, body) -> int:
    condition = bulk_condition(body, news_entries.c.id, {
        "id": news_entries.c.id, "pk": news_entries.c.id, "read": news_entries.c.read,
        "author": news_entries.c.author})
    ids = lock_matching(session, store, "news_entry", news_entries, condition)
    for pk in ids:
        store.record(session, "news_entry", pk, "news_entry.deleted", {}, caller)
    return len(ids)
