"""A named style per project ("none" by default), recorded by every take.

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
    for table in ("project_settings", "takes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("style", sa.String(40), nullable=False, server_default="none")
            )


def downgrade() -> None:
    for table in ("project_settings", "takes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("style")
