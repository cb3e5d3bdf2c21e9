"""One row per processing attempt of an inbox event

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processing_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("inbox_events.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("worker", sa.String(255), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False, server_default="running"),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("fusion_calls", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_processing_attempts_inbox_id", "processing_attempts", ["inbox_id"])


def downgrade() -> None:
    op.drop_index("ix_processing_attempts_inbox_id", table_name="processing_attempts")
    op.drop_table("processing_attempts")
