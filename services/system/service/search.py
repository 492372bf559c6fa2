"""`/api/search/` and `/api/test-statistics/...`."""
from svckit.service import rpc

from .. import search
from .base import SystemEntrypoints


class SearchEntrypoints(SystemEntrypoints):
    @rpc
    def search(self, body: dict) -> dict:
        self.caller.require_login()
        return search.search(body)

    @rpc
    def test_statistics(self, kind: str, pk: int) -> list:
        self.caller.require_login()
        return search.test_statistics(kind, pk)
