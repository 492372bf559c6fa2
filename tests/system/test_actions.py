"""Action and locate plugins (entry points), through the system service's entrypoints."""
import pytest

from services.system.service import Service
from svckit.errors import ValidationFailed
from tests.helpers import USER, worker_factory


def svc():
    return worker_factory(Service, caller=USER)


def test_no_plugin_active_by_default(monkeypatch):
    monkeypatch.delenv("INVENTREE_PLUGINS", raising=False)
    assert svc().action(body={}) == {"error": "No action specified"}
    assert svc().action(body={"action": "simple"}) == {"error": "No matching action found",
                                                       "action": "simple"}
    assert svc().active_plugins() == []


def test_sample_action_plugin_when_configured(monkeypatch):
    monkeypatch.setenv("INVENTREE_PLUGINS", "simpleaction")
    assert svc().action(body={"action": "simple", "data": {"x": 1}}) == {
        "action": "simple", "result": True, "info": {"user": "plain", "hello": "world"}}
    assert svc().active_plugins() == [{"name": "SimpleActionPlugin", "slug": "simpleaction",
                                       "version": "0.1.0"}]


@pytest.mark.parametrize("body, message", [
    ({}, "'plugin' field must be supplied"),
    ({"plugin": "simpleaction", "item": 1},
     "Plugin 'simpleaction' is not installed, or does not support the location mixin"),
    ({"plugin": "nope"}, "Plugin 'nope' is not installed, or does not support the location mixin"),
])
def test_locate_errors(monkeypatch, body, message):
    monkeypatch.setenv("INVENTREE_PLUGINS", "simpleaction")
    with pytest.raises(ValidationFailed) as info:
        svc().locate(body=body)
    assert info.value.detail == {"detail": message}
