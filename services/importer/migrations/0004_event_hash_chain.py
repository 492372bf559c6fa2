"""The event log as a hash chain, and each payload's schema version.

Revision 0004 of this service's schema (the one before: 0003). `event_log` gains
`schema_version` (of the payload's model, svckit.eventcatalog; 1 for every event before),
`chain_seq`, `hash` and `prev_hash` (svckit.hashchain), and `event_chain` holds the
chain's head. The events already in the log are chained here, in the order of their ids, so
`GET /api/events/verify/` works on an upgraded database.
"""
from alembic import op

from svckit.chainlog import add_chain

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    add_chain(op, "importer")
