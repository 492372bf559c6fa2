"""The schema of the releases before migrations (create_all).

Revision 0001 of this service's schema: every table and index as
`metadata.create_all()` made them before there were revisions.
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('custom_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=250), nullable=False),
        sa.Column('label', sa.String(length=250), nullable=False),
        sa.Column('color', sa.String(length=10), nullable=False),
        sa.Column('logical_key', sa.Integer(), nullable=False),
        sa.Column('model', sa.Integer(), nullable=False),
        sa.Column('reference_status', sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('model', 'reference_status', 'key', 'logical_key', name='uq_custom_state')
    )
    op.create_table('event_log',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('stream_type', sa.String(length=64), nullable=False),
        sa.Column('stream_id', sa.String(length=64), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('actor', sa.String(length=150), nullable=False),
        sa.Column('request_id', sa.String(length=64), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('published', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('stream_type', 'stream_id', 'version', name='uq_event_stream_version')
    )
    op.create_index('ix_event_unpublished', 'event_log', ['id'], unique=False,
                    sqlite_where=sa.text('published IS NULL'), postgresql_where=sa.text('published IS NULL'))
    op.create_table('id_sequence',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
    op.create_table('import_receipt',
        sa.Column('import_key', sa.String(length=200), nullable=False),
        sa.Column('pk', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('import_key')
    )
    op.create_table('processed_event',
        sa.Column('consumer', sa.String(length=100), nullable=False),
        sa.Column('event_id', sa.String(length=120), nullable=False),
        sa.Column('processed', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('relay_lease',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('owner', sa.String(length=100), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
