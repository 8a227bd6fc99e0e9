"""Identity caches: storage precision and the disk budget of a project's caches.

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
    with op.batch_alter_table("project_settings") as batch:
        batch.add_column(
            sa.Column(
                "identity_cache_precision", sa.String(8), nullable=False, server_default="fp16"
            )
        )
        batch.add_column(
            sa.Column("identity_cache_budget_gb", sa.Float(), nullable=False, server_default="20.0")
        )


def downgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.drop_column("identity_cache_budget_gb")
        batch.drop_column("identity_cache_precision")
