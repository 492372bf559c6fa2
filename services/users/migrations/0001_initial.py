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
    op.create_table('auth_group',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('name', sa.String(length=150), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )
    op.create_table('auth_user',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('username', sa.String(length=150), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('first_name', sa.String(length=150), nullable=False),
        sa.Column('last_name', sa.String(length=150), nullable=False),
        sa.Column('password', sa.String(length=200), nullable=False),
        sa.Column('is_staff', sa.Boolean(), nullable=False),
        sa.Column('is_superuser', sa.Boolean(), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('date_joined', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username')
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
    op.create_table('failed_login',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('username', sa.String(length=150), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_failed_login_address', 'failed_login', ['address', 'at'], unique=False)
    op.create_index('ix_failed_login_name', 'failed_login', ['username', 'at'], unique=False)
    op.create_table('id_sequence',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name')
    )
    op.create_table('owner',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('owner_type', sa.String(length=10), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=150), nullable=False),
        sa.PrimaryKeyConstraint('id')
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
    op.create_table('api_token',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=32), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('expiry', sa.Date(), nullable=False),
        sa.Column('revoked', sa.Boolean(), nullable=False),
        sa.Column('last_seen', sa.Date(), nullable=True),
        sa.Column('meta', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash')
    )
    op.create_index('ix_api_token_user_id', 'api_token', ['user_id'], unique=False)
    op.create_table('auth_user_groups',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('group_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['auth_group.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'group_id')
    )
    op.create_table('magic_link',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('expires', sa.DateTime(), nullable=False),
        sa.Column('used', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash')
    )
    op.create_table('user_session',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False),
        sa.Column('expires', sa.DateTime(), nullable=False),
        sa.Column('ended', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['auth_user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key_hash')
    )
    op.create_index('ix_user_session_user_id', 'user_session', ['user_id'], unique=False)
