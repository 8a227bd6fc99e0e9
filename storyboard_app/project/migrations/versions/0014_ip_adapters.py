"""A character's reference picture can be read by an IP-Adapter, with a scale.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("characters") as batch:
        batch.add_column(sa.Column("ip_adapter", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("ip_adapter_scale", sa.Float(), nullable=False, server_default="0.6")
        )


def downgrade() -> None:
    with op.batch_alter_table("characters") as batch:
        batch.drop_column("ip_adapter_scale")
        batch.drop_column("ip_adapter")
