"""Create or upgrade services' databases, or write a new revision of one service's schema:

    python -m svckit.migrate [name ...]                       every service when none is named
    python -m svckit.migrate --revision <name> -m "message"   autogenerate the next revision
"""
import argparse

from svckit.layout import service_names, settings_class
from svckit.schema_history import SchemaHistory, migration_engine


def migrate(name: str, url: str | None = None) -> tuple[str, str | None]:
    """Upgrade a service's database (its configured one, from its settings class, unless
    `url` is given) to the newest revision: (the URL, the revision reached)."""
    url = url or settings_class(name)().database_url(name)
    engine = migration_engine(url)
    try:
        return url, SchemaHistory(name).upgrade(engine)
    finally:
        engine.dispose()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m svckit.migrate")
    parser.add_argument("names", nargs="*", metavar="name", help="services (default: all)")
    parser.add_argument("--revision", metavar="NAME",
                        help="write the next revision of this service's schema instead")
    parser.add_argument("-m", "--message", help="what the new revision changes")
    args = parser.parse_args(argv)
    if args.revision:
        if args.names or not args.message:
            parser.error("--revision takes one service and a -m message")
        SchemaHistory(args.revision).new_revision(args.message)  # Alembic names the file
        return
    for name in args.names or service_names():
        url, revision = migrate(name)
        print(f"migrated {name} to {revision}: {url.split('@')[-1]}")


if __name__ == "__main__":
    main()
