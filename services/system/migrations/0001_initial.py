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
    op.create_table('custom_unit',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('symbol', sa.String(length=10), nullable=False),
        sa.Column('definition', sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    op.create_table('error_report',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=128), nullable=False),
        sa.Column('info', sa.Text(), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('path', sa.String(length=200), nullable=False),
        sa.Column('when', sa.DateTime(), nullable=False),
        sa.Column('source_event', sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_event')
    )
    op.create_table('error_report_group',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_seen', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('fingerprint')
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
    op.create_table('exchange_rate',
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('rate', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('currency')
    )
    op.create_table('exchange_state',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('base_currency', sa.String(length=3), nullable=False),
        sa.Column('updated', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
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
    op.create_table('news_entry',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('feed_id', sa.String(length=250), nullable=False),
        sa.Column('title', sa.String(length=250), nullable=False),
        sa.Column('link', sa.String(length=250), nullable=False),
        sa.Column('published', sa.DateTime(), nullable=True),
        sa.Column('author', sa.String(length=250), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('read', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('feed_id')
    )
    op.create_table('notification',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('category', sa.String(length=250), nullable=False),
        sa.Column('name', sa.String(length=250), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('target', sa.JSON(), nullable=True),
        sa.Column('source', sa.JSON(), nullable=True),
        sa.Column('creation', sa.DateTime(), nullable=False),
        sa.Column('read', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notification_user_id', 'notification', ['user_id'], unique=False)
    op.create_table('processed_event',
        sa.Column('consumer', sa.String(length=100), nullable=False),
        sa.Column('event_id', sa.String(length=120), nullable=False),
        sa.Column('processed', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('consumer', 'event_id')
    )
    op.create_table('project_code',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('description', sa.String(length=200), nullable=False),
        sa.Column('responsible', sa.Integer(), nullable=True),
        sa.Column('metadata', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code')
    )
    op.create_table('relay_lease',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('owner', sa.String(length=100), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
    op.create_table('serial_ledger',
        sa.Column('part', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('latest', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('part')
    )
    op.create_table('webhook_endpoint',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('endpoint_id', sa.String(length=255), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('token', sa.String(length=255), nullable=False),
        sa.Column('secret', sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('endpoint_id')
    )
    op.create_table('webhook_message',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('endpoint', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('header', sa.JSON(), nullable=False),
        sa.Column('body', sa.JSON(), nullable=True),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('worked_on', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhook_message_endpoint', 'webhook_message', ['endpoint'], unique=False)
