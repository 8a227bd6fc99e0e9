"""Dialogue: a panel's speech, drawn as balloons, apart from its narration (the caption).

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
    with op.batch_alter_table("scenes") as batch:
        batch.add_column(sa.Column("dialogue", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("scenes") as batch:
        batch.drop_column("dialogue")
