"""The users service's events (the shape every service takes is checked for all of them by
tests/test_service_shape.py): `events.py` names exactly what `models.py` projects, and says
what each event carries."""
import ast
from pathlib import Path

import pytest

from services.users import events, models

PACKAGE = Path(models.__file__).parent
EVENT_CONSTANTS = {name: value for name, value in vars(events).items() if name.isupper()}


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
