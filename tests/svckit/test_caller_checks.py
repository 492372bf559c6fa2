"""Caller.require_superuser: 401 for nobody, 403 for staff, passes for a superuser."""
import pytest

from svckit.context import Caller
from svckit.errors import NotAuthenticated, PermissionDenied


def test_require_superuser():
    with pytest.raises(NotAuthenticated):
        Caller().require_superuser()
    with pytest.raises(PermissionDenied):
        Caller(user_id=2, username="staffer", is_staff=True).require_superuser()
    Caller(user_id=1, username="admin", is_staff=True, is_superuser=True).require_superuser()
