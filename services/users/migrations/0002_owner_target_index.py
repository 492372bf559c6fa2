"""One owner per user or group, found by an index.

Revision 0002 of this service's schema (the one before: 0001). Renaming or deleting a user
or group looks its owner up by (owner_type, owner_id), which scanned the whole owner table.
The code has always made exactly one owner per user and per group, so the index is unique;
a database that broke that rule would fail here, in a transaction that changes nothing.
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_owner_target', 'owner', ['owner_type', 'owner_id'], unique=True)
