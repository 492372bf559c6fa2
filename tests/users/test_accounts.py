"""Users, roles and tokens through the users service's entrypoints, on a real database."""
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from services.users import groups, models, roles, tokens, users
from services.users.passwords import check_password, hash_password, validate_password
from services.users.service import Service
from svckit.context import SYSTEM, Caller
from svckit.errors import AuthenticationFailed, NotAuthenticated, ValidationFailed
from tests.helpers import ROUNDS, worker_factory


@pytest.fixture
def db(make_db):
    return make_db(models.metadata)


def make_user(db, username="alice", password="correct-horse-7", **kw):
    with db.write() as s:
        return users.new_user(s, SYSTEM, rounds=ROUNDS, username=username, password=password, **kw)


def as_user(db, user) -> Service:
    with db.read() as s:
        caller = roles.caller_for(s, user)
    return worker_factory(Service, db=db, caller=caller)


def test_password_hashing_is_a_real_kdf():
    encoded = hash_password("s3cret-pass", ROUNDS)
    assert encoded.startswith(f"pbkdf2_sha256${ROUNDS}$") and "s3cret-pass" not in encoded
    assert check_password("s3cret-pass", encoded)
    assert not check_password("s3cret-pasS", encoded)
    assert hash_password("s3cret-pass", ROUNDS) != encoded  # salted


def test_password_rules():
    assert validate_password("1234567", "bob") == [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.", "This password is entirely numeric."]
    assert validate_password("password", "x") == ["This password is too common."]
    assert validate_password("alice-42x", "alice") == [
        "The password is too similar to the username."]
    assert validate_password("Smith-1977", "x", last_name="Smith") == []
    assert validate_password("smith1977", "x", last_name="Smith1977") == [
        "The password is too similar to the last name."]
    assert validate_password("iloveyou") == ["This password is too common."]  # Django's list


def test_basic_authentication(db):
    make_user(db)
    svc = worker_factory(Service, db=db, caller=Caller())
    caller = svc.authenticate_password(username="alice", password="correct-horse-7")["caller"]
    assert caller["username"] == "alice" and caller["is_staff"] is False
    for username, password in (("alice", "wrong"), ("nobody", "correct-horse-7")):
        with pytest.raises(AuthenticationFailed) as info:
            svc.authenticate_password(username=username, password=password)
        assert info.value.detail == {"detail": "Invalid username/password."}


def test_duplicate_username_and_weak_password(db):
    make_user(db)
    with pytest.raises(ValidationFailed) as info:
        make_user(db)
    assert info.value.detail == {"username": ["A user with that username already exists."]}
    with pytest.raises(ValidationFailed) as info:
        make_user(db, username="bob", password="123")
    assert "password" in info.value.detail


def test_token_format_reuse_and_authentication(db):
    user = make_user(db)
    svc = as_user(db, user)
    first = svc.token(name=" my tok\tname ", meta={})
    assert first["name"] == "my-tokname"
    key = first["token"]
    assert key.startswith("inv-") and len(key) == 53 and key.endswith(date.today().strftime("-%Y%m%d"))
    assert svc.token(name="my tokname", meta={})["token"] == key  # a live token is reused
    assert svc.token(name="other", meta={})["token"] != key
    with db.read() as s:  # only a hash of the key is stored
        stored = s.execute(select(models.tokens)).mappings().all()
        assert all(key not in str(dict(r)) for r in stored)
    answer = worker_factory(Service, db=db, caller=Caller()).authenticate_token(key=key)
    assert answer["caller"]["username"] == "alice"


def test_token_errors(db):
    user = make_user(db)
    svc = as_user(db, user)
    key = svc.token(name="t", meta={})["token"]
    anon = worker_factory(Service, db=db, caller=Caller())
    with pytest.raises(AuthenticationFailed, match="Invalid token."):
        anon.authenticate_token(key=key[:-1] + "0")
    with db.write() as s:
        s.execute(update(models.tokens).values(expiry=date.today() - timedelta(days=1)))
    with pytest.raises(AuthenticationFailed, match="Token has expired"):
        anon.authenticate_token(key=key)
    with db.write() as s:
        s.execute(update(models.tokens).values(expiry=date.today()))
        tokens.revoke(s, Caller(user_id=user["id"], username="alice"), 1)
    with pytest.raises(AuthenticationFailed, match="Token has been revoked"):
        anon.authenticate_token(key=key)
    assert svc.token(name="t", meta={})["token"] != key  # revoked: a new key is issued
    with pytest.raises(ValidationFailed):
        svc.token(name="<b>x</b>", meta={})


def test_a_token_made_with_a_chosen_expiry_is_new_each_time(db):
    user = make_user(db)
    svc = as_user(db, user)
    expiry = (date.today() + timedelta(days=30)).isoformat()
    first = svc.create_token(data={"name": "ci job", "expiry": expiry}, meta={"user_agent": "x"})
    assert (first["name"], first["expiry"]) == ("ci-job", expiry)
    again = svc.create_token(data={"name": "ci job", "expiry": expiry}, meta={})
    assert again["token"] != first["token"] and again["id"] != first["id"]  # never reused
    default = svc.create_token(data={"name": ""}, meta={})
    assert default["expiry"] == (date.today() + timedelta(days=tokens.TOKEN_DAYS)).isoformat()
    listed = {t["id"]: t for t in svc.tokens()}
    assert listed[first["id"]]["expiry"] == expiry and listed[first["id"]]["active"]
    anon = worker_factory(Service, db=db, caller=Caller())
    assert anon.authenticate_token(key=first["token"])["caller"]["username"] == "alice"
    for data, field, message in (
            ({"expiry": "tomorrow"}, "expiry", "Date has wrong format"),
            ({"expiry": 20300101}, "expiry", "Date has wrong format"),
            ({"expiry": date.today().isoformat()}, "expiry", "must be in the future"),
            ({"expiry": (date.today() + timedelta(days=tokens.TOKEN_DAYS + 1)).isoformat()},
             "expiry", "at most 365 days ahead"),
            ({"name": "<b>x</b>"}, "name", "Remove HTML tags"),
            ({"name": 5}, "name", "Not a valid string")):
        with pytest.raises(ValidationFailed) as info:
            svc.create_token(data=data, meta={})
        assert message in info.value.detail[field][0], data
    with pytest.raises(NotAuthenticated):
        anon.create_token(data={"name": "x"}, meta={})


def test_roles_and_implications(db):
    with db.write() as s:
        groups.new_group(s, SYSTEM, "editors", {"part": ["change"], "stock": ["add"]})
    user = make_user(db, group_ids=[1])
    roles = as_user(db, user).roles()
    assert list(roles["roles"]) == ["admin", "part_category", "part", "stocktake",
                                    "stock_location", "stock", "build", "purchase_order",
                                    "sales_order", "return_order"]
    assert roles["roles"]["part"] == ["view", "change"]
    assert roles["roles"]["stock"] == ["view", "add", "change"]
    assert roles["roles"]["build"] is None
    me = as_user(db, user).me()
    assert me["groups"] == [{"pk": 1, "name": "editors"}] and me["is_staff"] is False
    with pytest.raises(ValidationFailed):
        with db.write() as s:
            groups.new_group(s, SYSTEM, "bad", {"nope": ["view"]})
    with pytest.raises(NotAuthenticated):
        worker_factory(Service, db=db, caller=Caller()).me()


def test_superuser_roles(db):
    admin = make_user(db, username="root", is_superuser=True)
    roles = as_user(db, admin).roles()
    assert all(perms == ["view", "add", "change", "delete"] for perms in roles["roles"].values())
    assert roles["is_staff"] and roles["is_superuser"]


def test_replay_rebuilds_users(db):
    with db.write() as s:
        groups.new_group(s, SYSTEM, "editors", {"part": ["change"]})
    user = make_user(db, group_ids=[1])
    key = as_user(db, user).token(name="t", meta={})["token"]
    before = as_user(db, user).roles(), as_user(db, user).me()
    with db.write() as s:
        for table in models.projector.tables:
            s.execute(table.delete())
        models.store.replay(s)
    assert (as_user(db, user).roles(), as_user(db, user).me()) == before
    assert worker_factory(Service, db=db, caller=Caller()).authenticate_token(key=key)


def test_every_user_and_group_is_an_owner(db):
    with db.write() as s:
        groups.new_group(s, SYSTEM, "Makers", {})
    user = make_user(db, username="Bobby")
    svc = as_user(db, user)
    owners = svc.list_owners(params={})["results"]
    assert owners == [{"pk": 1, "owner_id": 1, "name": "Makers", "label": "group"},
                      {"pk": 2, "owner_id": user["id"], "name": "Bobby", "label": "user"}]
    assert svc.list_owners(params={"search": "bob"})["results"] == owners[1:]
    assert svc.list_owners(params={"is_active": "false"})["results"] == owners[:1]
    assert svc.get_owner(pk=2) == owners[1]
    assert svc.owners(pks=[2, 99]) == {"2": owners[1]}
