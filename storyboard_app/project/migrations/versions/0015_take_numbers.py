"""Takes are numbered per panel (take 1, 2, 3...), and a hand-picked active take is recorded.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: rebuilding ``scenes`` would cascade-delete its cast links.
    op.add_column("takes", sa.Column("number", sa.Integer(), nullable=False, server_default="0"))
    op.add_column(
        "scenes",
        sa.Column("active_take_picked", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # Existing takes are numbered in the order they were made, per panel.
    op.execute(
        "UPDATE takes SET number = (SELECT COUNT(*) FROM takes AS earlier "
        "WHERE earlier.scene_id = takes.scene_id AND earlier.id <= takes.id)"
    )


def downgrade() -> None:
    op.drop_column("scenes", "active_take_picked")
    op.drop_column("takes", "number")
