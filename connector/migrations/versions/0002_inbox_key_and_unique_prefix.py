"""Inbox key includes the object id; transaction prefixes are unique across shops

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_constraint("uq_inbox_event", type_="unique")
        batch.create_unique_constraint("uq_inbox_event", ["shop_id", "topic", "event_id", "resource_id"])
    with op.batch_alter_table("shops") as batch:
        batch.create_unique_constraint("uq_shops_transaction_prefix", ["transaction_prefix"])


def downgrade() -> None:
    with op.batch_alter_table("shops") as batch:
        batch.drop_constraint("uq_shops_transaction_prefix", type_="unique")
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_constraint("uq_inbox_event", type_="unique")
        batch.create_unique_constraint("uq_inbox_event", ["shop_id", "topic", "event_id"])
