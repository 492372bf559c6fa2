"""Event lines, the table of event types, an index of actor and type (issue 14, Performance).

Revision 0007 of this service's schema (the one before: 0006). `audit_event.line` holds
each event's JSON as the export writes it, rendered once when the event is recorded
(services.audit.eventlines); rows recorded before have none and are rendered from their
columns when read. `audit_event_type` lists every type the trail holds, so a type wildcard
is read as the types it matches, each from its own index range (services.audit.eventquery);
it is filled from the rows already there. `ix_audit_event_actor_type_id` serves an actor's
events of some types. Tables, columns and indexes already there (a database made from the
models) are left as they are.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("audit_event_type"):
        op.create_table(
            "audit_event_type",
            sa.Column("type", sa.String(length=100), nullable=False),
            sa.PrimaryKeyConstraint("type"))
        op.execute("INSERT INTO audit_event_type (type) SELECT DISTINCT type FROM audit_event")
    if "line" not in {c["name"] for c in inspector.get_columns("audit_event")}:
        op.add_column("audit_event", sa.Column("line", sa.Text(), nullable=True))
    if "ix_audit_event_actor_type_id" not in {
            i["name"] for i in inspector.get_indexes("audit_event")}:
        op.create_index("ix_audit_event_actor_type_id", "audit_event",
                        ["actor", "type", "created", "id"])


def downgrade():
    inspector = sa.inspect(op.get_bind())
    if "ix_audit_event_actor_type_id" in {
            i["name"] for i in inspector.get_indexes("audit_event")}:
        op.drop_index("ix_audit_event_actor_type_id", table_name="audit_event")
    if "line" in {c["name"] for c in inspector.get_columns("audit_event")}:
        with op.batch_alter_table("audit_event") as batch:
            batch.drop_column("line")
    if inspector.has_table("audit_event_type"):
        op.drop_table("audit_event_type")
