"""The Fusion poller: a watermark per (pod, resource), and each binding's document as Fusion
last reported it (status, balance, LastUpdateDate)

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fusion_poll_watermarks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("pod", sa.String(64), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("watermark", sa.String(40), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("ignored", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.UniqueConstraint("pod", "resource", name="uq_fusion_poll_watermark"),
    )
    with op.batch_alter_table("bindings") as batch:
        batch.add_column(sa.Column("fusion_status", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("fusion_balance", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("fusion_updated_at", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("bindings") as batch:
        batch.drop_column("fusion_updated_at")
        batch.drop_column("fusion_balance")
        batch.drop_column("fusion_status")
    op.drop_table("fusion_poll_watermarks")
