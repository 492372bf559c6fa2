"""The trace context of each event.

Revision 0005 of this service's schema (the one before: 0004). `event_log.trace_context`:
the W3C traceparent of the span that recorded the event (svckit.tracing), empty for events
recorded with tracing off and for those recorded before this revision; published with the
event so that a subscriber's span links to the request that caused it.

A column already there (a database made from the models) is left as it is.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    columns = [c['name'] for c in sa.inspect(op.get_bind()).get_columns('event_log')]
    if 'trace_context' not in columns:
        with op.batch_alter_table('event_log', schema=None) as batch_op:
            batch_op.add_column(sa.Column('trace_context', sa.String(length=128),
                                          nullable=True))

