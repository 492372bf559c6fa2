"""The system service split into entrypoint groups (issue 17) exposes what it did before,
each group named like the domain module it calls, and every event type of events.py is
projected or subscribed (the shape itself: tests/test_service_shape.py)."""
import ast
import inspect
from pathlib import Path

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc

from services.system import events, models
from services.system.service import Service

SYSTEM = Path(models.__file__).resolve().parent
GROUPS = SYSTEM / "service"

# The RPC methods of the system service before it was split into groups (the gateway calls
# them by these names).
RPC_NAMES = {
    "action", "active_plugins", "all_units", "bulk_delete_error_reports",
    "bulk_delete_news_items", "bulk_delete_notifications", "config_lookups",
    "create_custom_unit", "create_project_code", "custom_unit_options", "database_engine",
    "delete_custom_unit", "delete_error_report", "delete_news_item", "delete_notification",
    "delete_project_code", "email_login_link", "event_catalog", "exchange_rates",
    "export_custom_units",
    "export_project_codes", "fetch_news", "flag", "flags", "generate_batch_code",
    "generate_serial_number", "get_custom_unit", "get_error_report", "get_news_item",
    "get_notification", "get_project_code", "icon_packs", "import_create", "import_fields",
    "import_targets", "import_validate", "licenses", "list_custom_units", "list_error_reports",
    "list_news_items", "list_notifications", "list_project_codes", "locate",
    "notification_options", "ping", "project_code_metadata", "project_code_options",
    "read_all_notifications", "readiness", "receive_webhook", "refresh_exchange_rates", "search",
    "set_project_code_metadata", "test_statistics", "update_custom_unit",
    "update_error_report", "update_news_item", "update_notification", "update_project_code",
    "verify_event_log", "version", "version_text"}
OTHER_ENTRYPOINTS = {
    "fetch_news_when_due": "Timer", "refresh_stale_exchange_rates": "Timer",
    "welcome_new_user": "EventHandler", **{f"on_{source}_error": "EventHandler" for source in (
        "gateway", "users", "status", "audit", "system", "attachments", "importer")}}


def entrypoints() -> tuple[set, dict]:
    rpcs, others = set(), {}
    for name, member in inspect.getmembers(Service):
        for entrypoint in getattr(member, ENTRYPOINT_EXTENSIONS_ATTR, ()):
            if isinstance(entrypoint, Rpc):
                rpcs.add(name)
            else:
                others[name] = type(entrypoint).__name__
    return rpcs, others


def test_the_assembled_service_exposes_the_same_entrypoints():
    rpcs, others = entrypoints()
    assert rpcs == RPC_NAMES
    assert others == OTHER_ENTRYPOINTS


def group_modules() -> list[Path]:
    return sorted(GROUPS.glob("*.py"))


def test_each_entrypoint_group_is_named_like_the_domain_module_it_calls():
    for path in group_modules():
        if path.stem in ("__init__", "base"):
            continue
        assert (SYSTEM / path.name).exists(), f"service/{path.name} has no domain module"
        tree = ast.parse(path.read_text())
        calls = {n.names[0].name for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.level == 2 and n.module is None}
        assert path.stem in calls, f"service/{path.name} does not call {path.stem}.py"


def test_every_event_type_of_events_py_is_projected_or_subscribed():
    constants = {v for k, v in vars(events).items() if k.isupper()}
    projected = set(models.projector.handlers) | {events.ERROR_LOGGED}
    assert constants - projected == set()
