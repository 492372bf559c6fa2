"""Exchange rates against a rate server on loopback."""
from datetime import timedelta

import pytest

from services.system import models
from services.system.service import Service
from svckit.errors import ApiError, PermissionDenied
from svckit.events import utcnow
from tests.helpers import STAFF, USER, worker_factory
from tests.ratesserver import RatesServer


@pytest.fixture
def rates(monkeypatch):
    server = RatesServer()
    monkeypatch.setenv("CURRENCY_API_URL", server.url)
    yield server
    server.close()


@pytest.fixture
def svc(make_db):
    db = make_db(models.metadata)
    return lambda caller=STAFF: worker_factory(Service, db=db, caller=caller)


def test_refresh_and_read(svc, rates):
    empty = svc(USER).exchange_rates()
    assert empty == {"base_currency": "USD", "exchange_rates": {}, "updated": None}
    assert svc().refresh_exchange_rates() == {"success": "Exchange rates updated"}
    doc = svc(USER).exchange_rates()
    assert doc["exchange_rates"]["EUR"] == 0.92 and doc["exchange_rates"]["USD"] == 1.0
    assert len(doc["exchange_rates"]) == 8 and doc["updated"].endswith("Z")
    assert rates.requests[0].startswith("/latest?from=USD&to=AUD")


def test_failed_refresh_says_so_and_keeps_rates(svc, rates):
    svc().refresh_exchange_rates()
    before = svc(USER).exchange_rates()
    rates.fail = True
    with pytest.raises(ApiError) as info:
        svc().refresh_exchange_rates()
    assert info.value.status == 502 and "previous rates are kept" in info.value.detail["detail"]
    assert svc(USER).exchange_rates() == before


def test_refresh_is_for_staff(svc, rates):
    with pytest.raises(PermissionDenied):
        svc(USER).refresh_exchange_rates()


class FixedRates:
    """A provider of one's own (`CURRENCY_PROVIDER=tests.system.test_currency:FixedRates`)."""

    def fetch(self, base: str, codes: list[str]) -> dict:
        return {code: 2.0 for code in codes}


def test_a_provider_of_ones_own(svc, monkeypatch):
    monkeypatch.setenv("CURRENCY_PROVIDER", "tests.system.test_currency:FixedRates")
    svc().refresh_exchange_rates()
    assert svc(USER).exchange_rates()["exchange_rates"] == {
        "AUD": 2.0, "CAD": 2.0, "CNY": 2.0, "EUR": 2.0, "GBP": 2.0, "JPY": 2.0, "NZD": 2.0,
        "USD": 1.0}


def test_the_hourly_refresh_fetches_only_stale_rates_and_keeps_them_on_failure(svc, rates,
                                                                               monkeypatch):
    monkeypatch.setenv("CURRENCY_UPDATE_INTERVAL", "1")
    svc().refresh_stale_exchange_rates()  # none yet: stale
    assert len(rates.requests) == 1 and svc(USER).exchange_rates()["exchange_rates"]
    svc().refresh_stale_exchange_rates()  # fresh: not asked again
    assert len(rates.requests) == 1
    monkeypatch.setenv("CURRENCY_UPDATE_INTERVAL", "0")  # never
    svc().refresh_stale_exchange_rates()
    assert len(rates.requests) == 1
    with svc().db.write() as s:  # a day later
        s.execute(models.exchange_state.update().values(updated=utcnow() - timedelta(days=2)))
    before = svc(USER).exchange_rates()
    monkeypatch.setenv("CURRENCY_UPDATE_INTERVAL", "1")
    rates.fail = True
    svc().refresh_stale_exchange_rates()  # logged, not raised; the rates are kept
    assert len(rates.requests) == 2 and svc(USER).exchange_rates() == before
