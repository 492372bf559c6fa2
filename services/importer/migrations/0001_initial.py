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
    op.create_table('import_column_map',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('column', sa.String(length=250), nullable=False),
        sa.Column('label', sa.String(length=250), nullable=False),
        sa.Column('description', sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_import_column_map_session_id', 'import_column_map', ['session_id'], unique=False)
    op.create_table('import_job_lease',
        sa.Column('session_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('owner', sa.String(length=100), nullable=False),
        sa.Column('until', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('session_id')
    )
    op.create_table('import_recompute',
        sa.Column('session_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('generation', sa.Integer(), nullable=False),
        sa.Column('next_row', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('session_id')
    )
    op.create_table('import_row',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('row_index', sa.Integer(), nullable=False),
        sa.Column('row_data', sa.JSON(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('errors', sa.JSON(), nullable=True),
        sa.Column('valid', sa.Boolean(), nullable=False),
        sa.Column('complete', sa.Boolean(), nullable=False),
        sa.Column('accepted', sa.Boolean(), nullable=False),
        sa.Column('target_pk', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_import_row_pending', 'import_row', ['accepted', 'session_id'], unique=False)
    op.create_index('ix_import_row_session', 'import_row', ['session_id', 'row_index'], unique=False)
    op.create_index('ix_import_row_valid', 'import_row', ['session_id', 'valid', 'id'], unique=False)
    op.create_table('import_session',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('timestamp', sa.DateTime(), nullable=False),
        sa.Column('data_file', sa.String(length=500), nullable=False),
        sa.Column('file_format', sa.String(length=10), nullable=False),
        sa.Column('model_type', sa.String(length=100), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('user_detail', sa.JSON(), nullable=True),
        sa.Column('field_defaults', sa.JSON(), nullable=False),
        sa.Column('field_overrides', sa.JSON(), nullable=False),
        sa.Column('field_filters', sa.JSON(), nullable=False),
        sa.Column('available_fields', sa.JSON(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('columns', sa.JSON(), nullable=False),
        sa.Column('file_rows', sa.Integer(), nullable=False),
        sa.Column('row_count', sa.Integer(), nullable=False),
        sa.Column('completed_row_count', sa.Integer(), nullable=False),
        sa.Column('next_index', sa.Integer(), nullable=False),
        sa.Column('accepted_by', sa.JSON(), nullable=True),
        sa.Column('error', sa.String(length=1000), nullable=True),
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
