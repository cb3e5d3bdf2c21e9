"""Shops may ask for each order, refund and customer event to be read again from the Admin API
before anything reaches Fusion

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shops", sa.Column("reread_from_admin", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("reread_from_admin")
