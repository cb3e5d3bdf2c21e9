"""Inbox events say where they came from: a webhook, or reconciliation (an event whose webhook
Shopify never delivered, read back over the Admin API)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN on both dialects: SQLite keeps the table and its triggers (no batch copy).
    op.add_column("inbox_events", sa.Column("source", sa.String(16), nullable=False, server_default="webhook"))


def downgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_column("source")
