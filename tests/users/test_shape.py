"""The users service keeps the shape every service takes (issue 17): `service.py` holds
entrypoints only (the caller-only permission check, one unit of work, one domain call), and
every event type its modules record is a constant of `events.py` that `models.py` projects."""
import ast
from pathlib import Path

import pytest
from sqlalchemy import Table

from services.users import events, models

PACKAGE = Path(models.__file__).parent
SERVICE = ast.parse((PACKAGE / "service.py").read_text())
TABLES = {name for name, value in vars(models).items() if isinstance(value, Table)}
EVENT_CONSTANTS = {name: value for name, value in vars(events).items() if name.isupper()}
RECORDERS = ("record", "record_changes", "record_new_streams")
# entrypoints allowed more than one unit of work, each saying why in its docstring
SEVERAL_UNITS = {"authenticate_token", "_check_password", "change_password"}


def test_service_imports_no_sqlalchemy_and_no_table():
    for node in ast.walk(SERVICE):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "sqlalchemy" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "sqlalchemy"
            imported = {a.name for a in node.names}
            if node.level == 1 and node.module == "models":
                assert not imported & TABLES, f"service.py imports tables {imported & TABLES}"
            if node.level == 1 and node.module is None:
                assert "models" not in imported
                assert all(a.asname is None for a in node.names), "domain modules by name"


def test_service_has_no_staff_check_of_its_own():
    """The one staff check is Caller.is_admin / require_staff (svckit.context)."""
    for node in ast.walk(SERVICE):
        names = {getattr(node, "attr", None), getattr(node, "id", None),
                 getattr(node, "arg", None), getattr(node, "value", None)}
        assert not names & {"is_staff", "is_superuser"}, ast.unparse(node)


def _units_of_work(fn) -> int:
    return sum(1 for node in ast.walk(fn) if isinstance(node, ast.With)
               for item in node.items if ast.unparse(item.context_expr)
               in ("self.db.read()", "self.db.write()"))


def test_entrypoints_open_one_unit_of_work():
    service = next(n for n in SERVICE.body if isinstance(n, ast.ClassDef))
    several = {fn.name for fn in service.body if isinstance(fn, ast.FunctionDef)
               and _units_of_work(fn) > 1}
    assert several == SEVERAL_UNITS


def _recorded_types():
    """(module, line, type argument) of every `store.record...` call in the package."""
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in RECORDERS and ast.unparse(node.func.value) == "store":
                given = node.args[3] if len(node.args) > 3 else next(
                    k.value for k in node.keywords if k.arg == "type_")
                yield path.name, node.lineno, given


def test_every_recorded_event_type_is_a_constant_of_events_py():
    recorded = list(_recorded_types())
    assert len(recorded) > 20  # the walk finds the recording calls
    for module, line, given in recorded:
        assert isinstance(given, ast.Attribute) and ast.unparse(given.value) == "events" \
            and given.attr in EVENT_CONSTANTS, f"{module}:{line} records {ast.unparse(given)}"


def test_events_py_names_exactly_what_models_py_projects():
    assert set(EVENT_CONSTANTS.values()) == set(models.projector.handlers)
    assert len(set(EVENT_CONSTANTS.values())) == len(EVENT_CONSTANTS)


@pytest.mark.parametrize("name", sorted(EVENT_CONSTANTS))
def test_every_event_constant_says_what_it_carries(name):
    """Each constant is followed by a docstring naming its payload fields."""
    body = ast.parse((PACKAGE / "events.py").read_text()).body
    index = next(i for i, n in enumerate(body) if isinstance(n, ast.Assign)
                 and ast.unparse(n.targets[0]) == name)
    after = body[index + 1]
    assert isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) \
        and after.value.value.strip()
