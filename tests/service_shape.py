"""Checks of the shape every service takes (DESIGN.md, issue 17): `service.py` holds
entrypoints only (no SQL, no tables, no hand-written staff check, no `import x as y` of its
own modules), and every event type a service's modules record is a constant of its
`events.py`. Each service's `tests/<service>/test_shape.py` runs them on its package."""
import ast
import importlib
from pathlib import Path

from sqlalchemy import Table

SERVICES = Path(__file__).resolve().parent.parent / "services"
RECORDERS = {"record": 3, "record_changes": 3, "record_new_streams": 3}  # name -> type_'s position
STAFF_FLAGS = {"is_staff", "is_superuser"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def table_names(service: str) -> set[str]:
    models = importlib.import_module(f"services.{service}.models")
    return {name for name, value in vars(models).items() if isinstance(value, Table)}


def service_py_faults(service: str) -> list[str]:
    """What in `services/<service>/service.py` breaks the shape, one line each."""
    tables = table_names(service)
    faults = []
    for node in ast.walk(_tree(SERVICES / service / "service.py")):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Import):
            faults += [f"{line}: imports {a.name}" for a in node.names
                       if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] == "sqlalchemy":
                faults.append(f"{line}: imports from {node.module}")
            if node.level:  # the service's own modules: by their own names, tables not at all
                faults += [f"{line}: imports {a.name} as {a.asname}" for a in node.names
                           if a.asname]
                faults += [f"{line}: imports table {a.name}" for a in node.names
                           if a.name in tables]
        elif isinstance(node, ast.Attribute) and node.attr in STAFF_FLAGS | tables:
            faults.append(f"{line}: uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in STAFF_FLAGS | tables:
            faults.append(f"{line}: uses {node.id}")
    return faults


def event_constants(service: str) -> dict[str, str]:
    """`events.py`'s constants (name -> event type); none if the service has no such file."""
    path = SERVICES / service / "events.py"
    if not path.exists():
        return {}
    module = importlib.import_module(f"services.{service}.events")
    return {name: value for name, value in vars(module).items()
            if name.isupper() and isinstance(value, str)}


def _type_argument(call: ast.Call) -> ast.expr | None:
    position = RECORDERS[call.func.attr]  # type: ignore[union-attr]
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == "type_"), None)


def unlisted_event_types(service: str) -> list[str]:
    """Calls recording an event whose type is not one of `events.py`'s constants (a string
    literal, or any other expression), in every module of the service."""
    constants = event_constants(service)
    faults = []
    for path in sorted((SERVICES / service).rglob("*.py")):
        for node in ast.walk(_tree(path)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RECORDERS):
                continue
            arg = _type_argument(node)
            name = arg.id if isinstance(arg, ast.Name) else (
                arg.attr if isinstance(arg, ast.Attribute) else None)
            if name not in constants:
                faults.append(f"{path.name}:{node.lineno}: {node.func.attr}(..., "
                              f"{ast.unparse(arg) if arg else '?'}, ...)")
    return faults
