"""Create or migrate services' databases: `python -m svckit.migrate [name ...]`."""
import importlib
import sys

from svckit import config
from svckit.db import Database


def service_names() -> list[str]:
    """Every package under services/ that has a models module."""
    return sorted(p.parent.name for p in (config.ROOT / "services").glob("*/models.py"))


def migrate(name: str) -> str:
    models = importlib.import_module(f"services.{name}.models")
    db = Database(config.database_url(name), models.metadata)
    try:
        db.create_all()
    finally:
        db.dispose()
    return db.url


def main(argv=None):
    names = (argv if argv is not None else sys.argv[1:]) or service_names()
    for name in names:
        url = migrate(name)
        print(f"migrated {name}: {url.split('@')[-1]}")


if __name__ == "__main__":
    main()
