"""Outbound webhooks: subscriptions, their secrets and their deliveries.

Revision 0006 of this service's schema (the one before: 0005). `webhook_subscription` is
projected from the service's own `webhook_subscription.*` events; `webhook_secret` holds
each subscription's signing secret (never part of an event); `webhook_delivery` one row per
subscription and matching received event (services.audit.deliveries).

Tables already there (a database made from the models) are left as they are.
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("webhook_subscription"):
        op.create_table(
            "webhook_subscription",
            sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("target_url", sa.String(length=2000), nullable=False),
            sa.Column("event_types", sa.JSON(), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("description", sa.String(length=250), nullable=False),
            sa.Column("created", sa.DateTime(), nullable=False),
            sa.Column("updated", sa.DateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"))
    if not inspector.has_table("webhook_secret"):
        op.create_table(
            "webhook_secret",
            sa.Column("subscription_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("secret", sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint("subscription_id"))
    if not inspector.has_table("webhook_delivery"):
        op.create_table(
            "webhook_delivery",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                      autoincrement=True, nullable=False),
            sa.Column("subscription_id", sa.Integer(), nullable=False),
            sa.Column("event_id", sa.String(length=120), nullable=False),
            sa.Column("status", sa.String(length=12), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("created", sa.DateTime(), nullable=False),
            sa.Column("window_start", sa.DateTime(), nullable=False),
            sa.Column("next_attempt", sa.DateTime(), nullable=True),
            sa.Column("lease_until", sa.DateTime(), nullable=True),
            sa.Column("claim", sa.String(length=32), nullable=True),
            sa.Column("last_attempt", sa.DateTime(), nullable=True),
            sa.Column("response_code", sa.Integer(), nullable=True),
            sa.Column("latency_ms", sa.Float(), nullable=True),
            sa.Column("last_error", sa.String(length=500), nullable=False),
            sa.Column("delivered", sa.DateTime(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("subscription_id", "event_id",
                                name="uq_webhook_delivery_event"))
        op.create_index("ix_webhook_delivery_due", "webhook_delivery",
                        ["status", "next_attempt"])
        op.create_index("ix_webhook_delivery_subscription", "webhook_delivery",
                        ["subscription_id", "status", "next_attempt"])

