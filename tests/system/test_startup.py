"""A misconfigured plugin setting stops the system service when it starts (with the
setting's name), rather than failing its first request."""
import pytest

from services.system import models
from services.system.service import Service
from services.system.settings import SystemSettings
from svckit.container_settings import container_config
from svckit.db import Database
from svckit.plugins import PluginError


@pytest.fixture
def configured(tmp_path, rabbit_config):
    """`configured(**settings)`: the service's container config with those settings."""
    url = f"sqlite:///{tmp_path / 'system.sqlite3'}"
    Database(url, models.metadata).create_all()
    return lambda **more: container_config(SystemSettings(
        SYSTEM_DATABASE_URL=url, AMQP_URI=rabbit_config["AMQP_URI"],
        INVENTREE_DATA_DIR=str(tmp_path), **more))


@pytest.mark.parametrize("setting, value, message", [
    ("CURRENCY_PROVIDER", "rates", "CURRENCY_PROVIDER='rates': not a currency provider"),
    ("CURRENCY_PROVIDER", "no_such_rates:Provider",
     "CURRENCY_PROVIDER='no_such_rates:Provider': cannot import"),
    ("NEWS_FEED_PROVIDER", "services.system.news:NoFeed",
     "NEWS_FEED_PROVIDER='services.system.news:NoFeed': module 'services.system.news' has no "
     "news feed 'NoFeed'"),
])
def test_a_bad_plugin_setting_stops_the_service_at_start(configured, container_factory,
                                                         setting, value, message):
    with pytest.raises(PluginError) as info:
        container_factory(Service, configured(**{setting: value})).start()
    assert message in str(info.value)


def test_the_default_plugins_start(configured, container_factory):
    container = container_factory(Service, configured())
    container.start()
    assert container.started
