"""`config_key` of `/api/admin/config/` entries: InvenTree 264's keys, and its rule for ours."""
import json
from pathlib import Path

from services.system.settings import SystemSettings
from svckit.config_keys import config_key

LIVE = json.loads((Path(__file__).resolve().parents[1] / "data" / "live" /
                   "admin-config-keys.json").read_text())


def test_every_key_of_a_live_inventree_264():
    wrong = {e["env_var"]: (config_key(e["env_var"]), e["config_key"]) for e in LIVE
             if config_key(e["env_var"]) != e["config_key"]}
    assert wrong == {}


def test_settings_of_our_own_follow_the_same_rule():
    assert config_key("AMQP_URI") == "amqp_uri"
    assert config_key("INVENTREE_EMAIL_TIMEOUT") == "email.timeout"
    assert config_key("INVENTREE_COOKIE_SECURE") == "cookie.secure"
    assert config_key("INVENTREE_PLUGINS") == "plugins"


def test_a_setting_read_is_listed_under_inventree_s_key(monkeypatch):
    monkeypatch.setenv("INVENTREE_DEBUG", "true")
    settings = SystemSettings()
    assert settings.INVENTREE_DEBUG is True
    entry = next(e for e in settings.lookups() if e["key"] == "INVENTREE_DEBUG")
    assert (entry["env_var"], entry["config_key"], entry["source"]) == (
        "INVENTREE_DEBUG", "debug", "env")
    assert "true" not in json.dumps(entry)
