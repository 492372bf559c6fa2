"""One-time login links through the users service's entrypoints, on a real database."""
import pytest

from services.users import models, roles, users
from services.users.service import Service
from svckit.context import SYSTEM
from svckit.errors import PermissionDenied
from tests.helpers import ROUNDS, worker_factory


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


def test_a_link_for_exactly_one_active_address_signs_in_once(db):
    with db.write() as s:
        users.new_user(s, SYSTEM, rounds=ROUNDS, username="carol", password=None, email="carol@example.com")
        users.new_user(s, SYSTEM, rounds=ROUNDS, username="twin1", password=None, email="twin@example.com")
        users.new_user(s, SYSTEM, rounds=ROUNDS, username="twin2", password=None, email="twin@example.com")
    system = worker_factory(Service, db=db, caller=SYSTEM)
    for email in ("", "nobody@example.com", "twin@example.com"):
        assert system.issue_magic_link(email=email) is None
    link = system.issue_magic_link(email=" carol@example.com ")
    assert link["username"] == "carol" and link["email"] == "carol@example.com"
    started = system.login_with_magic_link(key=link["key"])
    assert system.authenticate_session(key=started["session"])["caller"]["username"] == "carol"
    for key in (link["key"], "not-a-key"):
        with pytest.raises(PermissionDenied) as info:
            system.login_with_magic_link(key=key)
        assert info.value.detail == {"detail": "Invalid or expired login link."}


def test_a_link_of_a_user_deactivated_since_is_refused_and_spent(db):
    with db.write() as s:
        root = roles.caller_for(s, users.new_user(s, SYSTEM, rounds=ROUNDS, username="root", password=None,
                                                  is_superuser=True))
        carol = users.new_user(s, SYSTEM, rounds=ROUNDS, username="carol", password=None,
                               email="carol@example.com")
    system = worker_factory(Service, db=db, caller=SYSTEM)
    admin = worker_factory(Service, db=db, caller=root)
    key = system.issue_magic_link(email="carol@example.com")["key"]
    admin.update_user(pk=carol["id"], data={"is_active": False}, partial=True)
    with pytest.raises(PermissionDenied):
        system.login_with_magic_link(key=key)
    admin.update_user(pk=carol["id"], data={"is_active": True}, partial=True)
    with pytest.raises(PermissionDenied):  # spent by the refused attempt
        system.login_with_magic_link(key=key)
