"""Small helpers shared by tests."""
from svckit.context import Caller

STAFF = Caller(user_id=1, username="admin", is_staff=True, is_superuser=True)
USER = Caller(user_id=2, username="plain")
ANON = Caller()
