"""The project's aspect ratio (width:height), which an auto size fits to the model.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.add_column(
            sa.Column("aspect_ratio", sa.String(16), nullable=False, server_default="1:1")
        )


def downgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.drop_column("aspect_ratio")
