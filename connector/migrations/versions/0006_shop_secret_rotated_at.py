"""Shops remember when their client secret last changed: the previous secret verifies webhooks
only within MLC_SECRET_ROTATION_WINDOW of it

A shop that already keeps a previous secret takes the time that secret was stored (its
credential row's ``updated_at``, the best record there is); a shop without one has none.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.add_column(sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE shops SET secret_rotated_at = (SELECT c.updated_at FROM credentials c "
               "WHERE c.scope = 'shop:' || shops.domain AND c.name = 'previous_client_secret')")


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_column("secret_rotated_at")
