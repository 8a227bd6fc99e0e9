"""Panels attend only to their own tokens and their characters' caches unless sharing is on.

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
    with op.batch_alter_table("project_settings") as batch:
        batch.add_column(
            sa.Column(
                "share_between_panels", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.drop_column("share_between_panels")
