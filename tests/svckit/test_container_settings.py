"""A service's settings are built once and handed to its container (svckit.container_settings):
nameko's own keys come from them, the `Settings` dependency injects them, a container started
without them (or with another service's) stops at once, and intervals may name one."""
from types import SimpleNamespace

import pytest

from services.status.settings import StatusSettings
from services.users.settings import UsersSettings
from svckit.background import seconds
from svckit.container_settings import Settings, container_config, settings_of


def container(config: dict):
    return SimpleNamespace(config=config, service_name="status")


def test_the_container_config_carries_the_settings(tmp_path):
    settings = StatusSettings(AMQP_URI="amqp://u:p@h:5672/v", SERVICE_MAX_WORKERS=3,
                              INVENTREE_DATA_DIR=str(tmp_path))
    config = container_config(settings)
    assert (config["AMQP_URI"], config["max_workers"]) == ("amqp://u:p@h:5672/v", 3)
    assert settings_of(container(config)) is settings


def test_a_container_without_its_settings_stops_at_setup():
    with pytest.raises(RuntimeError, match="started without its settings"):
        settings_of(container({"AMQP_URI": "amqp://"}))
    provider = Settings(StatusSettings)
    provider.container = container(container_config(UsersSettings()))
    with pytest.raises(TypeError, match="needs StatusSettings, not UsersSettings"):
        provider.setup()


def test_the_settings_dependency_injects_the_one_object():
    settings = StatusSettings()
    provider = Settings(StatusSettings)
    provider.container = container(container_config(settings))
    provider.setup()
    assert provider.get_dependency(None) is settings


def test_an_interval_may_name_a_setting():
    extension = SimpleNamespace(container=container(container_config(
        StatusSettings(SEARCH_MAX_TERMS=7))))
    assert seconds(extension, "SEARCH_MAX_TERMS") == 7.0
    assert seconds(extension, 2.5) == 2.5


def test_lookups_list_every_field_and_where_it_came_from(monkeypatch):
    monkeypatch.setenv("SEARCH_MAX_CHARS", "99")
    monkeypatch.delenv("SEARCH_MAX_TERMS", raising=False)
    lookups = {item["key"]: item for item in StatusSettings().lookups()}
    assert set(lookups) == set(StatusSettings.model_fields)
    assert (lookups["SEARCH_MAX_CHARS"]["source"], lookups["SEARCH_MAX_TERMS"]["source"]) == (
        "env", "default")
    assert all(set(item) == {"key", "env_var", "config_key", "source", "accessed"}
               for item in lookups.values())  # never the value


def test_a_bad_queue_type_is_refused_when_the_settings_are_built():
    with pytest.raises(ValueError, match="AMQP_QUEUE_TYPE must be one of classic, quorum"):
        StatusSettings(AMQP_QUEUE_TYPE="lazy")
    assert StatusSettings(AMQP_QUEUE_TYPE=" Quorum ").AMQP_QUEUE_TYPE == "quorum"
