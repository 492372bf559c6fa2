"""`/api/version/`, `/api/version-text/`, `/api/license/`, `/api/icons/`, `/api/flags/`."""
from svckit.service import rpc

from .. import about
from .base import SystemEntrypoints


class AboutEntrypoints(SystemEntrypoints):
    @rpc
    def version(self) -> dict:
        self.caller.require_staff()
        return about.version_document()

    @rpc
    def version_text(self) -> dict:
        self.caller.require_staff()
        return about.version_text()

    @rpc
    def licenses(self) -> dict:
        self.caller.require_login()
        return about.licenses()

    @rpc
    def icon_packs(self) -> dict:
        return about.icon_packs()

    @rpc
    def flags(self, query: dict) -> list:
        return about.flags(query, self.caller, about.flag_definitions(
            self.settings.INVENTREE_DEBUG, self.settings.INVENTREE_FLAGS))

    @rpc
    def flag(self, key: str, query: dict) -> dict:
        return about.one_flag(key, query, self.caller, about.flag_definitions(
            self.settings.INVENTREE_DEBUG, self.settings.INVENTREE_FLAGS))
