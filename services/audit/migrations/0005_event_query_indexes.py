"""Indexes for the audit trail's queries (issue 14: lists, history, export, live feed).

Revision 0005 of this service's schema (the one before: 0004). Each filter of
`GET /api/events/` gets an index with the id after it (`service`, `type`, stream type and
id, `actor`, `request_id`), so a filtered page in id order, and the keyset pages of the
export and live feed (`id > last`), read their rows in order from the index; the single
column indexes of `service` and `type` they replace are dropped. On PostgreSQL the `type`
index uses the pattern operator class, which serves the prefix LIKE of a type wildcard
(`attachment.*`) under any collation. Indexes already there (a database made from the
models) are left as they are.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_event_service_id": ["service", "id"],
    "ix_audit_event_type_id": ["type", "id"],
    "ix_audit_event_stream_id": ["stream_type", "stream_id", "id"],
    "ix_audit_event_actor_id": ["actor", "id"],
    "ix_audit_event_request_id": ["request_id", "id"],
}
REPLACED = ("ix_audit_event_service", "ix_audit_event_type")


def upgrade():
    existing = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("audit_event")}
    for name, columns in INDEXES.items():
        if name not in existing:
            extra = ({"postgresql_ops": {"type": "varchar_pattern_ops"}}
                     if name == "ix_audit_event_type_id" else {})
            op.create_index(name, "audit_event", columns, **extra)
    for name in REPLACED:
        if name in existing:
            op.drop_index(name, table_name="audit_event")


def downgrade():
    existing = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("audit_event")}
    for name, column in zip(REPLACED, ("service", "type")):
        if name not in existing:
            op.create_index(name, "audit_event", [column])
    for name in INDEXES:
        if name in existing:
            op.drop_index(name, table_name="audit_event")
