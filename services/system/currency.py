"""Exchange rates (SEMANTICS §5) with a pluggable rate provider.

The provider is `CURRENCY_PROVIDER`: `frankfurter` (default, the HTTP service InvenTree's
built-in plugin uses, at `CURRENCY_API_URL`) or `package.module:Class` for one of your own
with a `fetch(base, codes) -> {code: rate}` method. A refresh that fails keeps the last good
rates and says so.
"""
import json
import logging
import urllib.parse
import urllib.request
from datetime import timedelta

from sqlalchemy import select

from svckit import config
from svckit.errors import ApiError
from svckit.events import utcnow
from svckit.plugins import load_plugin

from . import events
from .models import exchange_rates, exchange_state, store

log = logging.getLogger(__name__)


class FrankfurterProvider:
    def __init__(self):
        self.url = config.setting("CURRENCY_API_URL", "https://api.frankfurter.app").rstrip("/")
        self.timeout = config.setting("CURRENCY_API_TIMEOUT", 5.0, float)

    def fetch(self, base: str, codes: list[str]) -> dict:
        query = urllib.parse.urlencode({"from": base, "to": ",".join(c for c in codes if c != base)})
        with urllib.request.urlopen(f"{self.url}/latest?{query}", timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        rates = data.get("rates")
        if not isinstance(rates, dict):
            raise ValueError("the answer has no 'rates' object")
        return {str(k): float(v) for k, v in rates.items()}


def provider_class():
    """The class `CURRENCY_PROVIDER` names (checked when the service starts)."""
    name = config.setting("CURRENCY_PROVIDER", "frankfurter")
    if name == "frankfurter":
        return FrankfurterProvider
    return load_plugin(name, kind="currency provider", setting="CURRENCY_PROVIDER")


def base_currency() -> str:
    return config.setting("INVENTREE_DEFAULT_CURRENCY", "USD").upper()


def currency_codes() -> list[str]:
    raw = config.setting("CURRENCY_CODES", "AUD,CAD,CNY,EUR,GBP,JPY,NZD,USD")
    return [c.strip().upper() for c in raw.split(",") if c.strip()]


def exchange_document(session) -> dict:
    state = session.execute(select(exchange_state)).mappings().first()
    rates = {r["currency"]: r["rate"] for r in session.execute(
        select(exchange_rates).order_by(exchange_rates.c.currency)).mappings()}
    updated = state["updated"].isoformat() + "Z" if state and state["updated"] else None
    return {"base_currency": base_currency(), "exchange_rates": rates, "updated": updated}


def fetch_rates() -> dict:
    """Ask the provider (no transaction open); raises ApiError 502 when it fails."""
    base, codes = base_currency(), currency_codes()
    try:
        fetched = provider_class()().fetch(base, codes)
    except Exception as exc:
        raise ApiError({"detail": f"Exchange rate refresh failed ({type(exc).__name__}: "
                                  f"{exc}); the previous rates are kept"}, 502)
    rates = {code: fetched[code] for code in codes if code in fetched}
    rates[base] = 1.0
    return {"base": base, "rates": rates}


def fetch_rates_scheduled() -> dict | None:
    """`fetch_rates` for the hourly refresh: a failure is logged (the rates are kept and
    the next hour tries again), not raised."""
    try:
        return fetch_rates()
    except ApiError as exc:
        log.warning("scheduled %s", exc.detail["detail"])
        return None


def store_rates(session, caller, fetched: dict) -> dict:
    """Record rates from `fetch_rates`; the answer of `POST /api/currency/refresh/`."""
    store.record(session, "exchange_rates", "default", events.EXCHANGE_RATES_UPDATED, fetched,
                 caller)
    return {"success": "Exchange rates updated"}


def is_stale(session) -> bool:
    days = config.setting("CURRENCY_UPDATE_INTERVAL", 1, int)
    if days <= 0:
        return False
    updated = session.execute(select(exchange_state.c.updated)).scalar()
    return updated is None or utcnow() - updated >= timedelta(days=days)
