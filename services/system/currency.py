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

from svckit.errors import ApiError
from svckit.events import utcnow
from svckit.plugins import load_plugin

from . import events
from .models import exchange_rates, exchange_state, store
from .settings import SystemSettings

log = logging.getLogger(__name__)


class FrankfurterProvider:
    def __init__(self, url: str, timeout: float):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def fetch(self, base: str, codes: list[str]) -> dict:
        query = urllib.parse.urlencode({"from": base, "to": ",".join(c for c in codes if c != base)})
        with urllib.request.urlopen(f"{self.url}/latest?{query}", timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        rates = data.get("rates")
        if not isinstance(rates, dict):
            raise ValueError("the answer has no 'rates' object")
        return {str(k): float(v) for k, v in rates.items()}


def provider_class(settings: SystemSettings):
    """The class `CURRENCY_PROVIDER` names (checked when the service starts)."""
    name = settings.CURRENCY_PROVIDER
    if name == "frankfurter":
        return FrankfurterProvider
    return load_plugin(name, kind="currency provider", setting="CURRENCY_PROVIDER")


def provider(settings: SystemSettings):
    """The rate provider: the built-in one at CURRENCY_API_URL, or one of your own."""
    cls = provider_class(settings)
    if cls is FrankfurterProvider:
        return FrankfurterProvider(settings.CURRENCY_API_URL, settings.CURRENCY_API_TIMEOUT)
    return cls()


def exchange_document(session, settings: SystemSettings) -> dict:
    state = session.execute(select(exchange_state)).mappings().first()
    rates = {r["currency"]: r["rate"] for r in session.execute(
        select(exchange_rates).order_by(exchange_rates.c.currency)).mappings()}
    updated = state["updated"].isoformat() + "Z" if state and state["updated"] else None
    return {"base_currency": settings.base_currency(), "exchange_rates": rates,
            "updated": updated}


def fetch_rates(settings: SystemSettings) -> dict:
    """Ask the provider (no transaction open); raises ApiError 502 when it fails."""
    base, codes = settings.base_currency(), settings.currency_codes()
    try:
        fetched = provider(settings).fetch(base, codes)
    except Exception as exc:
        raise ApiError({"detail": f"Exchange rate refresh failed ({type(exc).__name__}: "
                                  f"{exc}); the previous rates are kept"}, 502)
    rates = {code: fetched[code] for code in codes if code in fetched}
    rates[base] = 1.0
    return {"base": base, "rates": rates}


def fetch_rates_scheduled(settings: SystemSettings) -> dict | None:
    """`fetch_rates` for the hourly refresh: a failure is logged (the rates are kept and
    the next hour tries again), not raised."""
    try:
        return fetch_rates(settings)
    except ApiError as exc:
        log.warning("scheduled %s", exc.detail["detail"])
        return None


def store_rates(session, caller, fetched: dict) -> dict:
    """Record rates from `fetch_rates`; the answer of `POST /api/currency/refresh/`."""
    store.record(session, "exchange_rates", "default", events.EXCHANGE_RATES_UPDATED, fetched,
                 caller)
    return {"success": "Exchange rates updated"}


def is_stale(session, days: int) -> bool:
    """Whether the rates are older than `days` (CURRENCY_UPDATE_INTERVAL; 0: never)."""
    if days <= 0:
        return False
    updated = session.execute(select(exchange_state.c.updated)).scalar()
    return updated is None or utcnow() - updated >= timedelta(days=days)
