"""A misconfigured plugin setting stops the system service when it starts (with the
setting's name), rather than failing its first request."""
import pytest

from services.system import models
from services.system.service import Service
from svckit.db import Database
from svckit.plugins import PluginError


@pytest.fixture
def configured(tmp_path, monkeypatch, rabbit_config):
    url = f"sqlite:///{tmp_path / 'system.sqlite3'}"
    monkeypatch.setenv("SYSTEM_DATABASE_URL", url)
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])
    Database(url, models.metadata).create_all()
    return rabbit_config


@pytest.mark.parametrize("setting, value, message", [
    ("CURRENCY_PROVIDER", "rates", "CURRENCY_PROVIDER='rates': not a currency provider"),
    ("CURRENCY_PROVIDER", "no_such_rates:Provider",
     "CURRENCY_PROVIDER='no_such_rates:Provider': cannot import"),
    ("NEWS_FEED_PROVIDER", "services.system.news:NoFeed",
     "NEWS_FEED_PROVIDER='services.system.news:NoFeed': module 'services.system.news' has no "
     "news feed 'NoFeed'"),
])
def test_a_bad_plugin_setting_stops_the_service_at_start(configured, container_factory,
                                                         monkeypatch, setting, value, message):
    monkeypatch.setenv(setting, value)
    with pytest.raises(PluginError) as info:
        container_factory(Service, configured).start()
    assert message in str(info.value)


def test_the_default_plugins_start(configured, container_factory):
    container = container_factory(Service, configured)
    container.start()
    assert container.started
