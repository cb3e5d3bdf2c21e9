"""Shops may have the receipts people enter in Fusion pushed to Shopify as payments (off unless
turned on with ``ml-connector shops set DOMAIN --push-fusion-receipts``)

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("push_fusion_receipts", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("push_fusion_receipts")
