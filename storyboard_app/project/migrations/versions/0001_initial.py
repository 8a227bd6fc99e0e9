"""Initial schema: settings, characters, scenes and takes.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("model_source", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("guidance", sa.Float(), nullable=False),
        sa.Column("scheduler", sa.String(40), nullable=False),
        sa.Column("style_preset", sa.Text(), nullable=False),
        sa.Column("base_seed", sa.Integer(), nullable=False),
        sa.Column("sampling_rate", sa.Float(), nullable=False),
        sa.Column("sampling_rate_high_res", sa.Float(), nullable=False),
        sa.Column("window_size", sa.Integer(), nullable=False),
        sa.Column("identity_images", sa.Integer(), nullable=False),
        sa.Column("consistency_blocks", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_project_settings"),
    )
    op.create_table(
        "characters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("reference_media", sa.String(100), nullable=True),
        sa.Column("color", sa.String(9), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_characters"),
        sa.UniqueConstraint("name", name="uq_characters_name"),
    )
    op.create_index("ix_characters_position", "characters", ["position"])
    op.create_table(
        "scenes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("shot_type", sa.String(40), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("seed_locked", sa.Boolean(), nullable=False),
        sa.Column("active_take_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["active_take_id"],
            ["takes.id"],
            name="fk_scenes_active_take_id_takes",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_scenes"),
    )
    op.create_index("ix_scenes_position", "scenes", ["position"])
    op.create_table(
        "scene_characters",
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("character_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name="fk_scene_characters_character_id_characters",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scene_id"],
            ["scenes.id"],
            name="fk_scene_characters_scene_id_scenes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scene_id", "character_id", name="pk_scene_characters"),
    )
    op.create_table(
        "takes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scene_id", sa.Integer(), nullable=False),
        sa.Column("media", sa.String(100), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("model_source", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("guidance", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("scheduler", sa.String(40), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=False),
        sa.Column("consistency_json", sa.Text(), nullable=False),
        sa.Column("identity_fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scene_id"], ["scenes.id"], name="fk_takes_scene_id_scenes", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_takes"),
    )
    op.create_index("ix_takes_scene_id", "takes", ["scene_id"])


def downgrade() -> None:
    op.drop_index("ix_takes_scene_id", table_name="takes")
    op.drop_table("takes")
    op.drop_table("scene_characters")
    op.drop_index("ix_scenes_position", table_name="scenes")
    op.drop_table("scenes")
    op.drop_index("ix_characters_position", table_name="characters")
    op.drop_table("characters")
    op.drop_table("project_settings")
