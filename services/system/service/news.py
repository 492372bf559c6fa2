"""`/api/news/...`, and fetching the feed (on demand, and on schedule)."""
from svckit.background import timer
from svckit.context import SYSTEM
from svckit.service import rpc

from .. import news
from .base import SystemEntrypoints


class NewsEntrypoints(SystemEntrypoints):
    @rpc
    def fetch_news(self) -> int:
        """Fetch the feed and store entries not seen before; returns how many were new."""
        entries = news.fetch(self.settings)  # over the internet: before the transaction (DESIGN rule 5)
        with self.db.write() as s:
            return news.store_new(s, SYSTEM, entries)

    @timer(interval=3600)
    def fetch_news_when_due(self):
        entries = news.fetch_when_due(self.settings)  # over the internet: before the transaction
        if entries:
            with self.db.write() as s:
                news.store_new(s, SYSTEM, entries)

    @rpc
    def list_news_items(self, params: dict) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return news.list_news_items(s, params)

    @rpc
    def get_news_item(self, pk: int) -> dict:
        self.caller.require_staff()
        with self.db.read() as s:
            return news.render(news.get(s, pk))

    @rpc
    def update_news_item(self, pk: int, data: dict, partial: bool = False) -> dict:
        self.caller.require_staff()
        with self.db.write() as s:
            return news.update(s, self.caller, pk, data, partial)

    @rpc
    def delete_news_item(self, pk: int) -> None:
        self.caller.require_staff()
        with self.db.write() as s:
            news.delete(s, self.caller, pk)

    @rpc
    def bulk_delete_news_items(self, body: dict) -> int:
        self.caller.require_staff()
        with self.db.write() as s:
            return news.bulk_delete(s, self.caller, body)
