"""Bindings remember the exact Shopify version whose every effect is in Fusion; inbox events
are indexed by object (a refund looks up its order's earlier events)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("settled_version", sa.String(64), nullable=False, server_default=""))
    op.create_index("ix_inbox_events_shop_resource", "inbox_events", ["shop_id", "resource_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_shop_resource", table_name="inbox_events")
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("settled_version")
