"""Timeline: transitions between neighbouring scenes and the project frame rate.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("project_settings") as batch:
        batch.add_column(sa.Column("frame_rate", sa.Integer(), nullable=False, server_default="24"))
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_scene_id", sa.Integer(), nullable=False),
        sa.Column("to_scene_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("media_json", sa.Text(), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_scene_id"],
            ["scenes.id"],
            name="fk_transitions_from_scene_id_scenes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_scene_id"],
            ["scenes.id"],
            name="fk_transitions_to_scene_id_scenes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_transitions"),
        sa.UniqueConstraint("from_scene_id", "to_scene_id", name="uq_transitions_from_scene_id"),
    )
    op.create_index("ix_transitions_from_scene_id", "transitions", ["from_scene_id"])


def downgrade() -> None:
    op.drop_index("ix_transitions_from_scene_id", table_name="transitions")
    op.drop_table("transitions")
    with op.batch_alter_table("project_settings") as batch:
        batch.drop_column("frame_rate")
