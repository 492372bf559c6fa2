"""Operator commands for the system service's store.

    python -m services.system.cli create-webhook NAME [--secret S] [--no-token]
        prints the endpoint URL path and its token (send it in the `Token` header), or, with
        a secret, expects base64(HMAC-SHA256(secret, body)) there instead.
"""
import argparse

from svckit.context import SYSTEM
from svckit.db import Database
from svckit.migrate import migrate

from . import webhooks
from .models import metadata


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m services.system.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    hook = sub.add_parser("create-webhook")
    hook.add_argument("name")
    hook.add_argument("--secret", default="")
    hook.add_argument("--no-token", action="store_true")
    args = parser.parse_args(argv)
    url, _ = migrate("system")
    db = Database(url, metadata)
    with db.write() as s:
        made = webhooks.create_endpoint(s, SYSTEM, args.name, args.secret, not args.no_token)
    print(f"endpoint: /api/webhook/{made['endpoint_id']}/")
    if made["token"]:
        print(f"token: {made['token']}")


if __name__ == "__main__":
    main()
