"""The index of unpublished events ordered by chain position (the event relay's order).

Revision 0005 of this service's schema (the one before: 0004). `ix_event_unpublished`
(by id) gives way to `ix_event_unpublished_chain` (by `chain_seq`, svckit.events): the
relay's query for its next batch no longer walks every published event on SQLite.
"""
from alembic import op

from svckit.events import index_unpublished_by_chain

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    index_unpublished_by_chain(op)
