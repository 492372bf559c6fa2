"""Caller.require_superuser: for the writes InvenTree leaves to model permissions that no
role grants (attachment metadata, import sessions, mappings and rows)."""
import pytest

from svckit.context import Caller
from svckit.errors import NotAuthenticated, PermissionDenied


def test_only_a_superuser_passes():
    Caller(user_id=1, is_superuser=True).require_superuser()
    with pytest.raises(NotAuthenticated):
        Caller().require_superuser()
    for caller in (Caller(user_id=2, is_staff=True),
                   Caller(user_id=3, roles={"admin": ["view", "add", "change", "delete"]})):
        with pytest.raises(PermissionDenied):
            caller.require_superuser()
