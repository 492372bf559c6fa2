"""Known login addresses: where each name last signed in (`login.succeeded`).

Revision 0003 of this service's schema (the one before: 0002). A new table only (an
expand): the login throttle's name-wide limit spares the addresses in it. Older events
hold no successes, so the table starts empty and fills as users sign in.
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'known_login_address',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('username', sa.String(length=150), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_known_login_address', 'known_login_address', ['username', 'address'])
