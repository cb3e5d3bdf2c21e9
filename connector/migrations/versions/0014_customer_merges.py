"""Customers Shopify merged (customers/merge): the merged-away customer's id and its survivor's,
so that its later documents bill the survivor

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("shop_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.ForeignKey("shops.id"),
                  nullable=False),
        sa.Column("merged_id", sa.String(64), nullable=False),
        sa.Column("merged_gid", sa.String(128), nullable=False),
        sa.Column("surviving_id", sa.String(64), nullable=False),
        sa.Column("surviving_gid", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("shop_id", "merged_id", name="uq_customer_merge"),
    )


def downgrade() -> None:
    op.drop_table("customer_merges")
