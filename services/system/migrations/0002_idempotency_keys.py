"""Idempotency keys of applied RPCs.

Revision 0002 of this service's schema (the one before: 0001). `idempotency_record`: the key
of every RPC applied under one, with its answer, written in the transaction of the write
(svckit.idempotency).

A table already there (a database made from the models) is left as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    if not sa.inspect(op.get_bind()).has_table('idempotency_record'):
        op.create_table('idempotency_record',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('method', sa.String(length=200), nullable=False),
        sa.Column('args_digest', sa.String(length=64), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('expires', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key')
        )
        with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
            batch_op.create_index('ix_idempotency_record_expires', ['expires'], unique=False)
