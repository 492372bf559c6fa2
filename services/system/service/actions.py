"""`/api/action/`, `/api/locate/` and the active plugins, through action and locate plugins."""
from svckit.service import rpc

from .. import actions
from .base import SystemEntrypoints


class ActionEntrypoints(SystemEntrypoints):
    @rpc
    def action(self, body: dict) -> dict:
        self.caller.require_login()
        return actions.action(self.caller, body, self.settings.plugin_slugs())

    @rpc
    def locate(self, body: dict) -> dict:
        self.caller.require_login()
        return actions.locate(self.caller, body, self.settings.plugin_slugs())

    @rpc
    def active_plugins(self) -> list:
        return actions.active_plugins(self.settings.plugin_slugs())
