"""Transitions record the takes their frames were made from.

A morph or motion whose panel now shows another take is stale. Existing
transitions take the ids their settings recorded (``from_take_id`` /
``to_take_id``, kept since transitions were added) when that take still
exists, else the panel's current take: an upgrade never makes a transition
stale that was fresh before it.

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (("from_take_id", "from_scene_id"), ("to_take_id", "to_scene_id"))


def upgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        for column, _ in COLUMNS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch.create_foreign_key(
                f"fk_transitions_{column}_takes", "takes", [column], ["id"], ondelete="SET NULL"
            )
    connection = op.get_bind()
    takes = set(connection.execute(sa.text("SELECT id FROM takes")).scalars())
    active = dict(connection.execute(sa.text("SELECT id, active_take_id FROM scenes")).all())
    rows = connection.execute(
        sa.text("SELECT id, from_scene_id, to_scene_id, settings_json FROM transitions")
    ).all()
    for row in rows:
        values = recorded_takes(row, takes, active)
        connection.execute(
            sa.text(
                "UPDATE transitions SET from_take_id = :from_take_id, "
                "to_take_id = :to_take_id WHERE id = :id"
            ),
            {**values, "id": row.id},
        )


def recorded_takes(row: sa.Row, takes: set[int], active: dict[int, int | None]) -> dict:
    """The takes a transition's settings name, where they exist, else the panels' current."""
    try:
        settings = json.loads(row.settings_json or "{}")
    except ValueError:
        settings = {}
    if not isinstance(settings, dict):
        settings = {}
    scenes = {"from_scene_id": row.from_scene_id, "to_scene_id": row.to_scene_id}
    values = {}
    for column, scene_column in COLUMNS:
        named = settings.get(column)
        if isinstance(named, int) and named in takes:
            values[column] = named
        else:
            values[column] = active.get(scenes[scene_column])
    return values


def downgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        for column, _ in COLUMNS:
            batch.drop_constraint(f"fk_transitions_{column}_takes", type_="foreignkey")
            batch.drop_column(column)
