"""Shot in prompt: a project setting that starts each panel's prompt with its shot type.

New projects have it on; projects made before it keep rendering their prompts as
they did (off), so no picture of theirs goes stale on opening.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.add_column(
            sa.Column("shot_in_prompt", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.drop_column("shot_in_prompt")
