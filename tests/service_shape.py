"""Checks of the shape every service takes (DESIGN.md, issue 17): its entrypoints
(`service.py`, or the entrypoint groups of a `service/` package) hold no SQL, no tables, no
hand-written staff check and no `import x as y` of the service's own modules, and open at
most one unit of work each; every event type a service's modules record is a constant of its
`events.py`. `tests/test_service_shape.py` runs them on every service."""
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


def _names(node: ast.expr, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def entrypoint_files(service: str) -> list[Path]:
    """`service.py`, or every module of a `service/` package (system's entrypoint groups)."""
    single = SERVICES / service / "service.py"
    return [single] if single.exists() else sorted((SERVICES / service / "service").glob("*.py"))


def service_py_faults(service: str) -> list[str]:
    """What in a service's entrypoints breaks the shape, one line each. A table is what
    `models` holds (imported from it, or `models.<table>`): a domain module may have a
    table's name (`from . import attachments`)."""
    tables = table_names(service)
    faults = []
    for path in entrypoint_files(service):
        faults += [f"{path.name}:{fault}" for fault in _entrypoint_faults(_tree(path), tables)]
    return faults


def _entrypoint_faults(tree: ast.Module, tables: set[str]) -> list[str]:
    faults = []
    for node in ast.walk(tree):
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
            if node.module and node.module.split(".")[-1] == "models":
                faults += [f"{line}: imports table {a.name}" for a in node.names
                           if a.name in tables]
        elif isinstance(node, ast.Attribute) and (node.attr in STAFF_FLAGS or (
                node.attr in tables and _names(node.value, "models"))):
            faults.append(f"{line}: uses .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in STAFF_FLAGS | {"select"}:
            faults.append(f"{line}: uses {node.id}")
    return faults


def _units_of_work(fn: ast.FunctionDef) -> int:
    return sum(1 for node in ast.walk(fn) if isinstance(node, ast.With)
               for item in node.items
               if ast.unparse(item.context_expr) in ("self.db.read()", "self.db.write()"))


def several_units_of_work(service: str) -> set[str]:
    """Entrypoints (and their helpers) that open more than one unit of work."""
    return {fn.name for path in entrypoint_files(service) for fn in ast.walk(_tree(path))
            if isinstance(fn, ast.FunctionDef) and _units_of_work(fn) > 1}


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
    """Calls recording an event whose type is not one of `events.py`'s constants (or a
    choice between two of them: `A if x else B`), in every module of the service."""
    constants = event_constants(service)
    faults = []
    for path in sorted((SERVICES / service).rglob("*.py")):
        for node in ast.walk(_tree(path)):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in RECORDERS
                    and ast.unparse(node.func.value).endswith("store")):
                continue
            arg = _type_argument(node)
            choices = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
            names = [a.id if isinstance(a, ast.Name) else (
                a.attr if isinstance(a, ast.Attribute) else None) for a in choices]
            if not all(name in constants for name in names):
                faults.append(f"{path.name}:{node.lineno}: {node.func.attr}(..., "
                              f"{ast.unparse(arg) if arg else '?'}, ...)")
    return faults
