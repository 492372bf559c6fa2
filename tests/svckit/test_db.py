"""Creating and migrating a service's database."""
from sqlalchemy import Column, Index, Integer, MetaData, Table, inspect

from svckit.db import Database


def test_create_all_adds_indexes_to_existing_tables(db_url):
    before = MetaData()
    Table("thing", before, Column("id", Integer, primary_key=True), Column("size", Integer))
    Database(db_url, before).create_all()

    after = MetaData()
    thing = Table("thing", after, Column("id", Integer, primary_key=True),
                  Column("size", Integer))
    Index("ix_thing_size", thing.c.size)
    db = Database(db_url, after)
    db.create_all()
    db.create_all()  # again: nothing to do
    try:
        assert [i["name"] for i in inspect(db.engine).get_indexes("thing")] == ["ix_thing_size"]
    finally:
        db.dispose()
