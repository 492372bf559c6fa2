"""The event log as a hash chain, and each payload's schema version.

Revision 0004 of this service's schema (the one before: 0003). `event_log` gains
`schema_version` (of the payload's model, svckit.eventcatalog; 1 for every event before),
`chain_seq`, `hash` and `prev_hash` (svckit.hashchain), and `event_chain` holds the
chain's head. The events already in the log are chained here, in the order of their ids, so
`GET /api/events/verify/` works on an upgraded database.

The audit trail's own tables: `audit_event` gains each received event's `chain_seq`, `hash`
and `chain_fault` (what its check on receipt found); `audit_chain` holds the head of each
service's chain as received, `audit_digest` the signed hourly digests (services.audit.chains).
Events received before have no hash: they are not part of any digest.
"""
import sqlalchemy as sa
from alembic import op

from svckit.chainlog import add_chain

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    add_chain(op, "audit")
    inspector = sa.inspect(op.get_bind())
    if "chain_fault" not in {c["name"] for c in inspector.get_columns("audit_event")}:
        with op.batch_alter_table("audit_event") as batch:
            batch.add_column(sa.Column("chain_seq", sa.BigInteger(), nullable=True))
            batch.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
            batch.add_column(sa.Column("chain_fault", sa.String(length=20), nullable=True))
    if not inspector.has_table("audit_chain"):
        op.create_table("audit_chain",
                    sa.Column("service", sa.String(length=50), nullable=False),
                    sa.Column("seq", sa.BigInteger(), nullable=False),
                    sa.Column("hash", sa.String(length=64), nullable=False),
                    sa.Column("updated", sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("service"))
    if not inspector.has_table("audit_digest"):
        op.create_table("audit_digest",
                    sa.Column("service", sa.String(length=50), nullable=False),
                    sa.Column("hour", sa.DateTime(), nullable=False),
                    sa.Column("count", sa.Integer(), nullable=False),
                    sa.Column("first_seq", sa.BigInteger(), nullable=False),
                    sa.Column("last_seq", sa.BigInteger(), nullable=False),
                    sa.Column("last_chain_seq", sa.BigInteger(), nullable=False),
                    sa.Column("last_hash", sa.String(length=64), nullable=False),
                    sa.Column("signature", sa.String(length=64), nullable=False),
                    sa.Column("updated", sa.DateTime(), nullable=False),
                    sa.PrimaryKeyConstraint("service", "hour", name="pk_audit_digest"))
