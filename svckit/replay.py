"""Rebuild a service's tables from its event log: `python -m svckit.replay <name>`."""
import importlib
import sys

from svckit.db import Database
from svckit.migrate import migrate


def replay(name: str) -> int:
    models = importlib.import_module(f"services.{name}.models")
    url, _ = migrate(name)
    db = Database(url, models.metadata)
    try:
        with db.write() as s:
            return models.store.replay(s)
    finally:
        db.dispose()


def main(argv=None):
    argv = argv if argv is not None else sys.argv[1:]
    if len(argv) != 1:
        sys.exit("usage: python -m svckit.replay <service>")
    print(f"replayed {replay(argv[0])} events into {argv[0]}'s tables")


if __name__ == "__main__":
    main()
