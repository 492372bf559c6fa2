"""`/api/currency/exchange/` and `/api/currency/refresh/`, and the hourly refresh."""
from svckit.background import timer
from svckit.context import SYSTEM
from svckit.service import rpc

from .. import currency
from .base import SystemEntrypoints


class CurrencyEntrypoints(SystemEntrypoints):
    @rpc
    def exchange_rates(self) -> dict:
        self.caller.require_login()
        with self.db.read() as s:
            return currency.exchange_document(s, self.settings)

    @rpc
    def refresh_exchange_rates(self) -> dict:
        self.caller.require_staff()
        fetched = currency.fetch_rates(self.settings)  # over the internet: no transaction open (DESIGN rule 5)
        with self.db.write() as s:
            return currency.store_rates(s, self.caller, fetched)

    @timer(interval=3600)
    def refresh_stale_exchange_rates(self):
        """Every hour, refresh the rates when older than CURRENCY_UPDATE_INTERVAL days. Two
        units of work: the provider is asked between them, with no transaction open (DESIGN
        rule 5)."""
        with self.db.read() as s:
            stale = currency.is_stale(s, self.settings.CURRENCY_UPDATE_INTERVAL)
        fetched = currency.fetch_rates_scheduled(self.settings) if stale else None
        if fetched is not None:
            with self.db.write() as s:
                currency.store_rates(s, SYSTEM, fetched)
