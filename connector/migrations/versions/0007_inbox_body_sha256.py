"""The inbox knows each stored body by its SHA-256, unique per shop and topic: the headers that
name a delivery are not signed, so a signed body sent again with fresh headers is a duplicate

Rows already stored get their hash here; a row whose body repeats an earlier row's of the same
shop and topic keeps none (the unique index allows several nulls), so the index can be built.

Revision ID: 0007
Revises: 0006
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("inbox_events") as batch:
        batch.add_column(sa.Column("body_sha256", sa.String(64), nullable=True))
    _backfill(op.get_bind())
    op.create_index("uq_inbox_events_body", "inbox_events", ["shop_id", "topic", "body_sha256"], unique=True)


def _backfill(connection) -> None:
    events = sa.table("inbox_events", sa.column("id"), sa.column("shop_id"), sa.column("topic"),
                      sa.column("body"), sa.column("body_sha256"))
    seen: set[tuple[int, str, str]] = set()
    last = 0
    while True:
        rows = connection.execute(sa.select(events.c.id, events.c.shop_id, events.c.topic, events.c.body)
                                  .where(events.c.id > last).order_by(events.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            digest = hashlib.sha256(row.body.encode("utf-8")).hexdigest()
            if (row.shop_id, row.topic, digest) in seen:
                continue
            seen.add((row.shop_id, row.topic, digest))
            connection.execute(sa.update(events).where(events.c.id == row.id).values(body_sha256=digest))
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("uq_inbox_events_body", table_name="inbox_events")
    with op.batch_alter_table("inbox_events") as batch:
        batch.drop_column("body_sha256")
