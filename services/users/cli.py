"""Account administration from the command line (the users service's own store).

    python -m services.users.cli ensure-admin
        creates the superuser from INVENTREE_ADMIN_USER / _PASSWORD / _EMAIL if it does not
        exist; without a password one is generated and printed once.
    python -m services.users.cli create-user NAME --password P [--email E] [--staff]
        [--superuser] [--role part:change ...]
        creates a user; roles go into a group "<NAME>-roles" the user joins.
"""
import argparse
import secrets
import sys

from svckit.context import SYSTEM
from svckit.db import Database
from svckit.errors import ApiError
from svckit.migrate import migrate

from . import groups, users
from .models import metadata
from .settings import UsersCliSettings


def _db(settings: UsersCliSettings) -> Database:
    url, _ = migrate("users", settings.database_url("users"))
    return Database(url, metadata)


def ensure_admin(settings: UsersCliSettings) -> str:
    username = settings.INVENTREE_ADMIN_USER
    password = settings.INVENTREE_ADMIN_PASSWORD
    email = settings.INVENTREE_ADMIN_EMAIL
    rounds = settings.PASSWORD_ITERATIONS
    db = _db(settings)
    with db.write() as s:
        if users.find_user(s, username):
            return f"superuser '{username}' exists"
        generated = not password
        password = password or secrets.token_urlsafe(12)
        user = users.new_user(s, SYSTEM, rounds=rounds, username=username, password=None,
                              email=email,
                              is_staff=True, is_superuser=True)
        # the operator's chosen password is accepted as given (InvenTree does the same)
        users.set_password(s, SYSTEM, user["id"], password, rounds, check=False)
    if generated:
        return (f"created superuser '{username}' with generated password: {password}\n"
                "(shown once; set INVENTREE_ADMIN_PASSWORD to choose it)")
    return f"created superuser '{username}'"


def create_user(settings: UsersCliSettings, args) -> str:
    roles: dict[str, list[str]] = {}
    for spec in args.role or ():
        role, _, perm = spec.partition(":")
        roles.setdefault(role, []).append(perm or "view")
    db = _db(settings)
    with db.write() as s:
        group_ids = []
        if roles:
            group_ids.append(groups.new_group(s, SYSTEM, f"{args.username}-roles", roles)["pk"])
        user = users.new_user(s, SYSTEM, rounds=settings.PASSWORD_ITERATIONS,
                              username=args.username, password=args.password,
                              email=args.email, is_staff=args.staff,
                              is_superuser=args.superuser, group_ids=group_ids)
    return f"created user '{user['username']}' (pk {user['id']})"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.users.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure-admin")
    create = sub.add_parser("create-user")
    create.add_argument("username")
    create.add_argument("--password", required=True)
    create.add_argument("--email", default="")
    create.add_argument("--staff", action="store_true")
    create.add_argument("--superuser", action="store_true")
    create.add_argument("--role", action="append", help="role:permission, e.g. part:change")
    args = parser.parse_args(argv)
    settings = UsersCliSettings()
    try:
        print(ensure_admin(settings) if args.command == "ensure-admin"
              else create_user(settings, args))
    except ApiError as exc:
        sys.exit(f"error: {exc.detail}")


if __name__ == "__main__":
    main()
