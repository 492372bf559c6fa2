"""The system service in the one shape (issue 17): entrypoint groups that only check the
caller, open one unit of work and call a domain module; every event type in events.py."""
import ast
import inspect
from pathlib import Path

from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR
from nameko.rpc import Rpc
from sqlalchemy import Table

from services.system import events, models
from services.system.service import Service

SYSTEM = Path(models.__file__).resolve().parent
GROUPS = SYSTEM / "service"
RECORDERS = {"record", "record_changes", "record_new_streams"}

# The RPC methods of the system service before it was split into groups (the gateway calls
# them by these names).
RPC_NAMES = {
    "action", "active_plugins", "all_units", "bulk_delete_error_reports",
    "bulk_delete_news_items", "bulk_delete_notifications", "config_lookups",
    "create_custom_unit", "create_project_code", "custom_unit_options", "database_engine",
    "delete_custom_unit", "delete_error_report", "delete_news_item", "delete_notification",
    "delete_project_code", "email_login_link", "exchange_rates", "export_custom_units",
    "export_project_codes", "fetch_news", "flag", "flags", "generate_batch_code",
    "generate_serial_number", "get_custom_unit", "get_error_report", "get_news_item",
    "get_notification", "get_project_code", "icon_packs", "import_create", "import_fields",
    "import_targets", "import_validate", "licenses", "list_custom_units", "list_error_reports",
    "list_news_items", "list_notifications", "list_project_codes", "locate",
    "notification_options", "ping", "project_code_metadata", "project_code_options",
    "read_all_notifications", "receive_webhook", "refresh_exchange_rates", "search",
    "set_project_code_metadata", "test_statistics", "update_custom_unit",
    "update_error_report", "update_news_item", "update_notification", "update_project_code",
    "version", "version_text"}
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


def test_entrypoints_touch_no_tables_and_check_staff_one_way():
    tables = {name for name, value in vars(models).items()
              if isinstance(value, Table) and not name.startswith("_")}
    for path in group_modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            where = f"service/{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("sqlalchemy") for a in node.names), where
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                assert all(a.asname is None for a in node.names), f"{where}: import alias"
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("sqlalchemy"), where
                if node.module == "models":
                    assert not {a.name for a in node.names} & tables, where
            if isinstance(node, ast.Name):
                assert node.id != "select", where
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("is_staff", "is_superuser"), where
                assert not (isinstance(node.value, ast.Name) and node.value.id == "models"
                            and node.attr in tables), where


def recorded_types() -> list[tuple[str, ast.expr]]:
    """(where, event type argument) of every record call in the domain modules."""
    found = []
    for path in sorted(SYSTEM.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in RECORDERS:
                found.append((f"{path.name}:{node.lineno}", node.args[3]))
    return found


def test_every_recorded_event_type_is_a_constant_of_events_py():
    found = recorded_types()
    assert len(found) >= 20
    for where, kind in found:
        assert isinstance(kind, ast.Attribute) and isinstance(kind.value, ast.Name) \
            and kind.value.id == "events", f"{where}: record with {ast.unparse(kind)}"
        assert isinstance(getattr(events, kind.attr, None), str), f"{where}: {kind.attr}"


def test_every_event_type_of_events_py_is_projected_or_subscribed():
    constants = {v for k, v in vars(events).items() if k.isupper()}
    projected = set(models.projector.handlers) | {events.ERROR_LOGGED}
    assert constants - projected == set()
