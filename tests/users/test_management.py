"""User and group management through the users service's entrypoints."""
import pytest

from services.users import models, roles, users
from services.users.service import Service
from svckit.context import SYSTEM, Caller
from svckit.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from tests.helpers import ROUNDS, worker_factory


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


def person(db, username, **kw):
    with db.write() as s:
        user = users.new_user(s, SYSTEM, rounds=ROUNDS, username=username, password="Sturdy-pass-77",
                              **kw)
        return worker_factory(Service, db=db, caller=roles.caller_for(s, user)), user


NEW = {"username": "carol", "first_name": "Carol", "last_name": "C", "email": ""}


def test_only_superusers_create_and_password_rules(db):
    root, _ = person(db, "root", is_superuser=True)
    staff, _ = person(db, "staffer", is_staff=True)
    with pytest.raises(PermissionDenied):
        staff.create_user(data=dict(NEW))
    with pytest.raises(NotAuthenticated):
        worker_factory(Service, db=db, caller=Caller()).create_user(data=dict(NEW))
    with pytest.raises(ValidationFailed) as info:
        root.create_user(data={**NEW, "password": "carol123"})
    assert "password" in info.value.detail
    with pytest.raises(ValidationFailed) as info:
        root.create_user(data={"username": "dan"})
    assert info.value.detail == {"first_name": ["This field is required."],
                                 "last_name": ["This field is required."],
                                 "email": ["This field is required."]}
    with pytest.raises(ValidationFailed) as info:
        root.create_user(data={**NEW, "email": "not-an-address"})
    assert info.value.detail == {"email": ["Enter a valid email address."]}
    made = root.create_user(data={**NEW, "password": "Sturdy-pass-88", "email": "c@example.com"})
    assert made["username"] == "carol" and made["is_staff"] is False
    with pytest.raises(ValidationFailed) as info:
        root.create_user(data=dict(NEW))
    assert info.value.detail == {"username": ["A user with that username already exists."]}
    anon = worker_factory(Service, db=db, caller=Caller())
    assert anon.authenticate_password(username="carol", password="Sturdy-pass-88")


def test_editing_others_and_role_changes(db):
    root, _ = person(db, "root", is_superuser=True)
    staff, _ = person(db, "staffer", is_staff=True)
    plain, plain_user = person(db, "plain")
    other, other_user = person(db, "other")
    with pytest.raises(PermissionDenied):
        plain.update_user(pk=other_user["id"], data={"first_name": "x"}, partial=True)
    with pytest.raises(PermissionDenied):
        plain.delete_user(pk=other_user["id"])
    assert plain.update_me(data={"first_name": "Me"}, partial=True)["first_name"] == "Me"
    with pytest.raises(PermissionDenied) as info:
        plain.update_me(data={"is_staff": True}, partial=True)
    assert info.value.detail == {"detail": "You do not have permission to change this user role."}
    whole = plain.me()
    assert plain.update_me(data=whole, partial=True)["is_staff"] is False  # unchanged: fine
    with pytest.raises(PermissionDenied):
        staff.update_user(pk=other_user["id"], data={"is_superuser": True}, partial=True)
    assert staff.update_user(pk=other_user["id"], data={"last_name": "O"},
                             partial=True)["last_name"] == "O"
    assert root.update_user(pk=other_user["id"], data={"is_staff": True},
                            partial=True)["is_staff"] is True
    staff.delete_user(pk=other_user["id"])
    with pytest.raises(NotFound):
        root.get_user(pk=other_user["id"])
    assert [o["name"] for o in root.list_owners(params={})["results"]] == ["root", "staffer", "plain"]


def test_one_permission_through_groups(db):
    root, _ = person(db, "root", is_superuser=True)
    plain, plain_user = person(db, "plain")
    with pytest.raises(PermissionDenied):
        plain.create_group(data={"name": "editors"})
    group = root.create_group(data={"name": "editors", "roles": {"part": ["change"]}})
    assert group["roles"]["part"] == ["view", "change"] and group["roles"]["stock"] is None
    with pytest.raises(ValidationFailed):
        root.create_group(data={"name": "bad", "roles": {"part": ["fly"]}})
    with pytest.raises(ValidationFailed) as info:
        root.create_group(data={"name": "editors"})
    assert info.value.detail == {"name": ["group with this name already exists."]}
    with pytest.raises(PermissionDenied):
        plain.update_me(data={"groups": [group["pk"]]}, partial=True)
    root.update_user(pk=plain_user["id"], data={"groups": [group["pk"]]}, partial=True)
    assert plain.roles()["roles"]["part"] == ["view", "change"]
    root.update_group(pk=group["pk"], data={"roles": {"part": ["view"]}}, partial=True)
    assert plain.roles()["roles"]["part"] == ["view"]
    with pytest.raises(ValidationFailed):
        root.update_user(pk=plain_user["id"], data={"groups": [999]}, partial=True)
    root.delete_group(pk=group["pk"])
    assert plain.roles()["roles"]["part"] is None
    listed = root.list_users(params={"search": "pla", "is_active": "true"})["results"]
    assert [u["username"] for u in listed] == ["plain"]


def test_failed_logins_are_events_and_throttled_by_name_and_address(db, monkeypatch):
    monkeypatch.setenv("LOGIN_THROTTLE_ATTEMPTS", "3")
    monkeypatch.setenv("LOGIN_THROTTLE_ADDRESS_ATTEMPTS", "5")
    monkeypatch.setenv("LOGIN_THROTTLE_NAME_ATTEMPTS", "6")
    person(db, "victim")
    anon = worker_factory(Service, db=db, caller=Caller())
    from svckit.errors import ApiError, AuthenticationFailed

    def attempt(username, password, address):
        return anon.authenticate_password(username=username, password=password,
                                          address=address)

    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            attempt("victim", "guess", "203.0.113.66")
    with pytest.raises(ApiError) as info:  # even the right password waits now, from there
        attempt("victim", "Sturdy-pass-77", "203.0.113.66")
    assert info.value.status == 429 and "Too many failed login attempts" in info.value.detail["detail"]
    assert attempt("victim", "Sturdy-pass-77", "198.51.100.7")  # the stranger locks out no one
    for _ in range(2):  # names that do not exist count alike
        with pytest.raises(AuthenticationFailed):
            attempt("ghost", "guess", "203.0.113.66")
    with pytest.raises(ApiError) as info:  # five failures from one address: any name waits
        attempt("another", "guess", "203.0.113.66")
    assert info.value.status == 429
    for _ in range(3):  # a second address reaches the (higher) limit of the name
        with pytest.raises(AuthenticationFailed):
            attempt("victim", "guess", "203.0.113.67")
    with pytest.raises(ApiError) as info:  # from any address the victim never signed in at
        attempt("victim", "Sturdy-pass-77", "198.51.100.8")
    assert info.value.status == 429
    with db.read() as s:
        events = s.execute(select_events()).all()
    assert len(events) == 8
    assert events[0].payload == {"username": "victim", "address": "203.0.113.66"}


def test_strangers_at_many_addresses_do_not_lock_a_user_out_where_it_signs_in(db,
                                                                             monkeypatch):
    """The name-wide limit stops a guesser spread over many addresses, but spares the
    addresses the user signed in from within LOGIN_THROTTLE_KNOWN_DAYS."""
    monkeypatch.setenv("LOGIN_THROTTLE_ATTEMPTS", "3")
    monkeypatch.setenv("LOGIN_THROTTLE_NAME_ATTEMPTS", "6")
    person(db, "chief", is_superuser=True)
    anon = worker_factory(Service, db=db, caller=Caller())
    from svckit.errors import ApiError, AuthenticationFailed

    def attempt(password, address):
        return anon.authenticate_password(username="chief", password=password,
                                          address=address)

    home, right = "198.51.100.7", "Sturdy-pass-77"
    assert attempt(right, home) and attempt(right, home)  # known there from now on
    for n in range(6):  # three strangers, two guesses each: under the per-address limit
        with pytest.raises(AuthenticationFailed):
            attempt(f"guess-{n}", f"203.0.113.{n // 2}")
    with pytest.raises(ApiError) as info:  # the name's limit holds everywhere else...
        attempt(right, "192.0.2.99")
    assert info.value.status == 429
    with pytest.raises(ApiError):
        attempt("guess-7", "203.0.113.9")
    assert attempt(right, home)  # ...but not where the user signs in
    with db.read() as s:
        found = s.execute(select_events("login.succeeded")).all()
    assert [e.payload for e in found] == [{"username": "chief", "address": home}]  # once a day
    monkeypatch.setenv("LOGIN_THROTTLE_KNOWN_DAYS", "0")  # no address is known any more
    anon = worker_factory(Service, db=db, caller=Caller())  # settings are read at start
    with pytest.raises(ApiError):
        attempt(right, home)
    with db.read() as s:
        rows = s.execute(models.known_addresses.select()).all()
    with db.write() as s:  # the table is a projection like every other
        models.store.replay(s)
    with db.read() as s:
        assert s.execute(models.known_addresses.select()).all() == rows != []


def select_events(kind="login.failed"):
    from sqlalchemy import select
    return select(models.store.events).where(models.store.events.c.type == kind)


def test_password_change_checks_the_old_password(db):
    me, user = person(db, "changer")
    body = {"old_password": "wrong", "new_password1": "Brand-new-pass-5",
            "new_password2": "Brand-new-pass-5"}
    with pytest.raises(ValidationFailed) as info:
        me.change_password(data=body)
    assert "old_password" in info.value.detail
    with pytest.raises(ValidationFailed) as info:
        me.change_password(data={**body, "old_password": "Sturdy-pass-77", "new_password2": "x"})
    assert info.value.detail == {"new_password2": ["The two password fields didn\u2019t match."]}
    with pytest.raises(ValidationFailed) as info:
        me.change_password(data={"old_password": "Sturdy-pass-77", "new_password1": "123",
                                 "new_password2": "123"})
    assert "This password is too short. It must contain at least 8 characters." in \
        info.value.detail["new_password2"]
    assert me.change_password(data={**body, "old_password": "Sturdy-pass-77"}) == {
        "detail": "New password has been saved."}
    anon = worker_factory(Service, db=db, caller=Caller())
    assert anon.authenticate_password(username="changer", password="Brand-new-pass-5")


def test_roles_report_django_permissions(db):
    root, _ = person(db, "root", is_superuser=True)
    plain, plain_user = person(db, "plain")
    group = root.create_group(data={"name": "editors", "roles": {"part": ["change"]}})
    root.update_user(pk=plain_user["id"], data={"groups": [group["pk"]]}, partial=True)
    permissions = plain.roles()["permissions"]
    assert set(permissions) == {
        "manufacturerpart", "manufacturerpartparameter", "supplierpart", "bomitem",
        "bomitemsubstitute", "part", "partcategorystar", "partinternalpricebreak",
        "partparameter", "partparametertemplate", "partpricing", "partrelated",
        "partsellpricebreak", "partstar", "parttesttemplate"}  # measured on InvenTree 264
    assert permissions["part"] == ["change", "view"]
    assert root.roles()["permissions"]["user"] == ["add", "change", "delete", "view"]
    assert root.list_groups(params={"permission_detail": "true"})["results"][0]["permissions"] \
        == permissions
    assert "permissions" not in root.get_group(pk=group["pk"])


DENIED = {"detail": "You do not have permission to perform this action."}


@pytest.mark.parametrize("change", [{"password": "Taken-over-pass-1"},
                                    {"email": "staff@example.com"}, {"is_active": False},
                                    {"first_name": "Owned"}])
def test_staff_cannot_change_a_superuser(db, change):
    root, root_user = person(db, "root", is_superuser=True, email="root@example.com")
    other_root, _ = person(db, "root2", is_superuser=True)
    staff, _ = person(db, "staffer", is_staff=True)
    before = root.me()
    with pytest.raises(PermissionDenied) as info:
        staff.update_user(pk=root_user["id"], data=change, partial=True)
    assert info.value.detail == DENIED
    with pytest.raises(PermissionDenied) as info:
        staff.delete_user(pk=root_user["id"])
    assert info.value.detail == DENIED
    assert root.me() == before  # nothing written
    anon = worker_factory(Service, db=db, caller=Caller())
    assert anon.authenticate_password(username="root", password="Sturdy-pass-77")
    # a superuser may change another superuser, and itself
    assert other_root.update_user(pk=root_user["id"], data=change, partial=True)
    assert root.update_me(data={"last_name": "R"}, partial=True)["last_name"] == "R"


def test_other_users_emails_only_for_staff(db):
    root, _ = person(db, "root", is_superuser=True, email="root@example.com")
    staff, _ = person(db, "staffer", is_staff=True, email="staff@example.com")
    plain, plain_user = person(db, "plain", email="plain@example.com")
    listed = {u["username"]: u["email"] for u in plain.list_users(params={})["results"]}
    assert listed == {"root": "", "staffer": "", "plain": "plain@example.com"}
    assert plain.get_user(pk=1)["email"] == "" and "email" in plain.get_user(pk=1)
    assert plain.get_user(pk=plain_user["id"])["email"] == "plain@example.com"
    assert plain.me()["email"] == "plain@example.com"
    for viewer in (staff, root):
        listed = {u["username"]: u["email"] for u in viewer.list_users(params={})["results"]}
        assert listed == {"root": "root@example.com", "staffer": "staff@example.com",
                          "plain": "plain@example.com"}
        assert viewer.get_user(pk=1)["email"] == "root@example.com"
    # ordering by e-mail would reveal the hidden addresses: plain users get the default order
    assert [u["username"] for u in plain.list_users(params={"ordering": "-email"})["results"]] \
        == ["root", "staffer", "plain"]
    assert [u["username"] for u in staff.list_users(params={"ordering": "-email"})["results"]] \
        == ["staffer", "root", "plain"]


def live_sessions(db, user_id):
    from sqlalchemy import select
    with db.read() as s:
        return s.execute(select(models.sessions.c.id).where(
            models.sessions.c.user_id == user_id, models.sessions.c.ended.is_(False))
            .order_by(models.sessions.c.id)).scalars().all()


def live_tokens(db, user_id):
    from sqlalchemy import select
    with db.read() as s:
        return s.execute(select(models.tokens.c.name).where(
            models.tokens.c.user_id == user_id, models.tokens.c.revoked.is_(False))
            .order_by(models.tokens.c.id)).scalars().all()


def test_password_change_ends_other_sessions_and_tokens_on_request(db):
    me, user = person(db, "changer")
    anon = worker_factory(Service, db=db, caller=Caller())
    here = anon.login(username="changer", password="Sturdy-pass-77", address="192.0.2.1")
    there = anon.login(username="changer", password="Sturdy-pass-77", address="192.0.2.2")
    me.token(name="script")
    me.token(name="laptop")
    assert live_sessions(db, user["id"]) == [here["session_id"], there["session_id"]]
    body = {"old_password": "Sturdy-pass-77", "new_password1": "Brand-new-pass-5",
            "new_password2": "Brand-new-pass-5"}
    with pytest.raises(ValidationFailed) as info:  # refused before anything is written
        me.change_password(data={**body, "revoke_tokens": "maybe"},
                           session_id=here["session_id"])
    assert info.value.detail == {"revoke_tokens": ["Must be a valid boolean."]}
    assert len(live_sessions(db, user["id"])) == 2
    me.change_password(data=body, session_id=here["session_id"])
    assert live_sessions(db, user["id"]) == [here["session_id"]]  # the asking one stays
    assert anon.authenticate_session(key=here["session"])
    assert anon.authenticate_session(key=there["session"]) is None
    assert live_tokens(db, user["id"]) == ["", "script", "laptop"]  # tokens stay, as InvenTree
    laptop = [t["id"] for t in me.tokens() if t["name"] == "laptop"][0]
    me.change_password(data={"old_password": "Brand-new-pass-5",
                             "new_password1": "Third-new-pass-6",
                             "new_password2": "Third-new-pass-6", "revoke_tokens": True},
                       token_id=laptop)
    assert live_tokens(db, user["id"]) == ["laptop"]  # asked for: all but the asking one
    assert live_sessions(db, user["id"]) == []  # asked by token: no session to keep


def test_new_password_through_user_edit_ends_sessions(db):
    root, _ = person(db, "root", is_superuser=True)
    me, user = person(db, "edited")
    anon = worker_factory(Service, db=db, caller=Caller())
    mine = anon.login(username="edited", password="Sturdy-pass-77")
    other = anon.login(username="edited", password="Sturdy-pass-77")
    me.update_me(data={"password": "Self-chosen-pass-8"}, partial=True,
                 session_id=mine["session_id"])
    assert live_sessions(db, user["id"]) == [mine["session_id"]]
    root.update_user(pk=user["id"], data={"password": "Admin-chosen-pass-9"}, partial=True,
                     session_id=mine["session_id"])  # not root's session: all end
    assert live_sessions(db, user["id"]) == []
    assert other and me.update_me(data={"first_name": "E"}, partial=True)
