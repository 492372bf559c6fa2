"""Replaying the users service's log rebuilds what its API shows (users, groups, owners,
tokens, sessions) and every table it projects, exactly."""
import pytest

from services.users import models, roles, users
from services.users.service import Service
from svckit.context import SYSTEM, Caller
from svckit.errors import AuthenticationFailed
from tests.helpers import ROUNDS, projected_rows, replay, worker_factory

PASSWORD = "Sturdy-pass-77"


def test_replay_rebuilds_the_api_visible_state(make_db):
    db = make_db(models.metadata)
    with db.write() as s:
        root_user = users.new_user(s, SYSTEM, rounds=ROUNDS, username="root", password=PASSWORD,
                                   is_superuser=True)
        root = worker_factory(Service, db=db, caller=roles.caller_for(s, root_user))
    anon = worker_factory(Service, db=db, caller=Caller())

    group = root.create_group(data={"name": "editors", "roles": {"part": ["view", "change"]}})
    root.create_group(data={"name": "gone"})
    root.delete_group(pk=2)
    root.update_group(pk=group["pk"], data={"roles": {"part": ["view"], "build": ["add"]}},
                      partial=True)
    carol = root.create_user(data={"username": "carol", "first_name": "Carol", "last_name": "C",
                                   "email": "carol@example.com", "password": PASSWORD,
                                   "groups": [group["pk"]]})
    dave = root.create_user(data={"username": "dave", "first_name": "D", "last_name": "D",
                                  "email": ""})
    root.update_user(pk=carol["pk"], data={"first_name": "Caroline"}, partial=True)
    root.delete_user(pk=dave["pk"])
    with db.read() as s:
        as_carol = worker_factory(Service, db=db, caller=roles.caller_for(
            s, users.get_user(s, carol["pk"])))
    key = as_carol.token(name="script", meta={})["token"]
    revoked = as_carol.token(name="old", meta={})
    as_carol.revoke_token(pk=[t for t in as_carol.tokens() if t["name"] == "old"][0]["id"])
    anon.authenticate_token(key=key)
    kept = anon.login(username="carol", password=PASSWORD, address="192.0.2.1")
    ended = anon.login(username="carol", password=PASSWORD, address="192.0.2.2")
    anon.logout(session_id=ended["session_id"])
    with pytest.raises(AuthenticationFailed):
        anon.authenticate_password(username="carol", password="wrong", address="192.0.2.3")
    anon.issue_magic_link(email="carol@example.com")

    def visible() -> dict:
        users = root.list_users(params={})["results"]
        groups = root.list_groups(params={})["results"]
        return {"users": users, "user": [root.get_user(pk=u["pk"]) for u in users],
                "groups": groups, "group": [root.get_group(pk=g["pk"]) for g in groups],
                "owners": root.list_owners(params={})["results"], "roles": as_carol.roles(),
                "tokens": as_carol.tokens(), "me": as_carol.me(),
                "session": anon.authenticate_session(key=kept["session"]),
                "ended": anon.authenticate_session(key=ended["session"]),
                "token": anon.authenticate_token(key=key)["caller"]}

    before, tables = visible(), projected_rows(db, models)
    assert [u["username"] for u in before["users"]] == ["root", "carol"]
    assert before["session"] and before["ended"] is None and revoked
    assert all(tables.values()), tables  # every projected table has rows to rebuild

    assert replay(db, models) > 0
    assert visible() == before
    assert projected_rows(db, models) == tables
