"""`POST /api/action/` and `POST /api/locate/` (SEMANTICS §2, §14), through plugins."""
from svckit.context import Caller
from svckit.errors import NotFound, ValidationFailed

from . import plugins


def action(caller: Caller, body, plugin_slugs: list[str]) -> dict:
    """Always answered with 200, errors included (as InvenTree does). `plugin_slugs`: the
    active plugins (INVENTREE_PLUGINS)."""
    body = body if isinstance(body, dict) else {}
    name = body.get("action")
    if not name:
        return {"error": "No action specified"}
    plugin = plugins.action_plugin(plugin_slugs, str(name))
    if plugin is None:
        return {"error": "No matching action found", "action": name}
    data = body.get("data")
    plugin.perform_action(caller, data)
    return {"action": name, "result": plugin.get_result(caller, data),
            "info": plugin.get_info(caller, data)}


def locate(caller: Caller, body, plugin_slugs: list[str]) -> dict:
    body = body if isinstance(body, dict) else {}
    slug = body.get("plugin")
    if not slug:
        raise ValidationFailed({"detail": "'plugin' field must be supplied"})
    plugin = plugins.locate_plugin(plugin_slugs, str(slug))
    if plugin is None:
        raise ValidationFailed({"detail": f"Plugin '{slug}' is not installed, or does not "
                                          "support the location mixin"})
    for key, model, method in (("item", "StockItem", "locate_stock_item"),
                               ("location", "StockLocation", "locate_stock_location")):
        if body.get(key) in (None, ""):
            continue
        pk = body[key]
        try:
            pk = int(pk)
            getattr(plugin, method)(pk)
        except (ValueError, TypeError, LookupError, AttributeError):
            raise NotFound({"detail": f"{model} matching PK '{body[key]}' not found"})
        return {"success": "Identification plugin activated", "plugin": slug, key: pk}
    raise ValidationFailed({"detail": "Must supply either 'item' or 'location' parameter"})


def active_plugins(plugin_slugs: list[str]) -> list:
    """The active plugins' names, slugs and versions."""
    return [plugins.describe(p) for p in plugins.active(plugin_slugs).values()]
