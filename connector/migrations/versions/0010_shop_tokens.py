"""Shopify tokens per shop: how the token is obtained (client credentials, expiring offline,
offline), when the stored access and refresh tokens expire, and whether the app must be
authorized again (the tokens themselves are credentials, encrypted in ``credentials``)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a shop set up before this release fetched its token with the client-credentials grant
    op.add_column("shops", sa.Column("token_mode", sa.String(24), nullable=False,
                                     server_default="client_credentials"))
    op.add_column("shops", sa.Column("access_token_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shops", sa.Column("refresh_token_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("shops", sa.Column("auth_state", sa.String(16), nullable=False, server_default="ok"))
    op.add_column("shops", sa.Column("auth_reason", sa.Text(), nullable=False, server_default=""))
    op.add_column("shops", sa.Column("auth_changed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("auth_changed_at", "auth_reason", "auth_state", "refresh_token_expires_at",
                   "access_token_expires_at", "token_mode"):
        op.drop_column("shops", column)
