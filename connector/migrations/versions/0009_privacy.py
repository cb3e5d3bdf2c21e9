"""Privacy: a key per data subject that seals the personal fields of audit rows (destroyed by
erasure), a hash chain of seals over the audit trail, and inbox bodies that can be erased

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "privacy_keys",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("shop_id", BIG_ID, sa.ForeignKey("shops.id"), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("shop_id", "subject", name="uq_privacy_key"),
    )
    op.create_table(
        "audit_seals",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("first_event_id", BIG_ID, nullable=False),
        sa.Column("last_event_id", BIG_ID, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # ALTER TABLE … ADD COLUMN on both dialects: SQLite keeps the table (and its append-only
    # triggers); a batch copy would drop them.
    op.add_column("audit_events", sa.Column("key_id", BIG_ID, nullable=True))
    op.add_column("audit_events", sa.Column("sealed", sa.LargeBinary(), nullable=True))
    op.create_index("ix_audit_events_key_id", "audit_events", ["key_id"])
    op.add_column("inbox_events", sa.Column("body_erased_at", sa.DateTime(timezone=True), nullable=True))
    # what the retention purge looks for, and only that: processed rows whose body is still there
    op.create_index("ix_inbox_events_unpurged", "inbox_events", ["processed_at"],
                    postgresql_where=sa.text("body_erased_at IS NULL"),
                    sqlite_where=sa.text("body_erased_at IS NULL"))
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.create_foreign_key("fk_audit_events_key_id", "audit_events", "privacy_keys", ["key_id"], ["id"])
        op.execute("CREATE FUNCTION mlc_append_only() RETURNS trigger AS $$ "
                   "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER audit_seals_append_only BEFORE UPDATE OR DELETE ON audit_seals "
                   "FOR EACH ROW EXECUTE FUNCTION mlc_append_only()")
    elif dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_seals_no_{operation.lower()} BEFORE {operation} "
                       "ON audit_seals BEGIN SELECT RAISE(ABORT, 'audit_seals is append-only'); END")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_seals_append_only ON audit_seals")
        op.execute("DROP FUNCTION IF EXISTS mlc_append_only()")
        op.drop_constraint("fk_audit_events_key_id", "audit_events", type_="foreignkey")
    op.drop_index("ix_inbox_events_unpurged", table_name="inbox_events")
    op.drop_index("ix_audit_events_key_id", table_name="audit_events")
    # SQLite drops columns from 3.35 on; the audit table's triggers survive ALTER TABLE … DROP COLUMN
    op.drop_column("inbox_events", "body_erased_at")
    op.drop_column("audit_events", "sealed")
    op.drop_column("audit_events", "key_id")
    op.drop_table("audit_seals")
    op.drop_table("privacy_keys")
