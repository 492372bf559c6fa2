"""Plugins: Python entry points in the group `inventree_general.plugins`.

A plugin is a class with `NAME`, `SLUG`, `VERSION` and any of the mixin methods below. It is
active when its slug is listed in `INVENTREE_PLUGINS` (comma separated); nothing is active by
default. Third-party packages register theirs in their own metadata:

    [project.entry-points."inventree_general.plugins"]
    myplugin = "mypackage.plugin:MyPlugin"

Action plugins (`POST /api/action/`): `ACTION_NAME` (default: `NAME`), `perform_action(user,
data)`, `get_result()`, `get_info()` — InvenTree's ActionMixin. Locate plugins
(`POST /api/locate/`): `locate_stock_item(pk)` and/or `locate_stock_location(pk)`; raising
LookupError means the pk is unknown.
"""
import logging
from functools import lru_cache
from importlib.metadata import entry_points

GROUP = "inventree_general.plugins"
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def installed() -> dict:
    """slug -> plugin class, for every installed entry point that loads."""
    found = {}
    for entry in entry_points(group=GROUP):
        try:
            cls = entry.load()
        except Exception:
            log.exception("plugin %s could not be loaded", entry.name)
            continue
        found[getattr(cls, "SLUG", entry.name)] = cls
    return found


def active(wanted: list[str]) -> dict:
    """slug -> plugin instance, for the installed plugins `wanted` (INVENTREE_PLUGINS)."""
    classes = installed()
    return {slug: classes[slug]() for slug in wanted if slug in classes}


def describe(plugin) -> dict:
    return {"name": plugin.NAME, "slug": plugin.SLUG, "version": getattr(plugin, "VERSION", None)}


def action_plugin(wanted: list[str], name: str):
    """The active plugin whose action name (ACTION_NAME, else NAME) is `name`."""
    for plugin in active(wanted).values():
        if hasattr(plugin, "perform_action") and \
                (getattr(plugin, "ACTION_NAME", "") or plugin.NAME) == name:
            return plugin
    return None


def locate_plugin(wanted: list[str], slug: str):
    plugin = active(wanted).get(slug)
    if plugin is not None and (hasattr(plugin, "locate_stock_item")
                               or hasattr(plugin, "locate_stock_location")):
        return plugin
    return None
