"""Story clock: a panel's revision is the next value of one number that only grows.

Migration 0017 counted each panel's revisions on its own, so the window's watcher
had to read every panel's id, position and revision after each commit to find the
ones that moved: a thousand rows on every edit of a thousand-panel story. Now each
change takes the story clock's next value as its panel's revision, and the watcher
reads only the panels past the clock it last saw (an indexed read) and the panel
count (which tells of a deletion). A new panel takes a value too, so it is found
the same way. Triggers keep the clock, so no writer (the command line, an older
tool, raw SQL) can forget it; the clock is a row of its own, not the largest
revision, so deleting the newest panel never hands its value out again.

A later migration that rebuilds the ``scenes``, ``takes`` or ``scene_characters``
table (Alembic's batch mode copies a table to change it) drops these triggers: it
must create them again (``tests/test_migrations.py`` checks a new project has them).

Revision ID: 0018
Revises: 0017
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_TRIGGERS = (
    "scene_revision_on_edit",
    "scene_revision_on_new_take",
    "scene_revision_on_deleted_take",
    "scene_revision_on_cast_added",
    "scene_revision_on_cast_removed",
)


def _tick(scene_id: str) -> str:
    return (
        "UPDATE story_clock SET value = value + 1 WHERE id = 1; "
        "UPDATE scenes SET revision = (SELECT value FROM story_clock WHERE id = 1) "
        f"WHERE id = {scene_id};"
    )


TRIGGERS = {
    # The trigger's own update moves the revision, so it does not fire again.
    "scene_revision_on_edit": (
        f"AFTER UPDATE ON scenes WHEN NEW.revision = OLD.revision BEGIN {_tick('NEW.id')} END"
    ),
    "scene_revision_on_new_scene": f"AFTER INSERT ON scenes BEGIN {_tick('NEW.id')} END",
    "scene_revision_on_new_take": f"AFTER INSERT ON takes BEGIN {_tick('NEW.scene_id')} END",
    "scene_revision_on_deleted_take": f"AFTER DELETE ON takes BEGIN {_tick('OLD.scene_id')} END",
    "scene_revision_on_cast_added": (
        f"AFTER INSERT ON scene_characters BEGIN {_tick('NEW.scene_id')} END"
    ),
    "scene_revision_on_cast_removed": (
        f"AFTER DELETE ON scene_characters BEGIN {_tick('OLD.scene_id')} END"
    ),
}


def upgrade() -> None:
    op.create_table(
        "story_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_story_clock")),
    )
    for name in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Every panel gets a distinct value in story order, and the clock starts past them.
    op.execute(
        "UPDATE scenes SET revision = (SELECT COUNT(*) FROM scenes AS earlier "
        "WHERE earlier.position < scenes.position "
        "OR (earlier.position = scenes.position AND earlier.id <= scenes.id))"
    )
    op.execute("INSERT INTO story_clock (id, value) SELECT 1, COUNT(*) FROM scenes")
    op.create_index(op.f("ix_scenes_revision"), "scenes", ["revision"])
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index(op.f("ix_scenes_revision"), table_name="scenes")
    op.drop_table("story_clock")
    for name, body in _triggers_of_0017().items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def _triggers_of_0017() -> dict[str, str]:
    """The per-panel counters this migration replaced, as 0017 defines them (its file
    name starts with a digit, so it is loaded by path rather than imported)."""
    path = Path(__file__).with_name("0017_scene_revisions.py")
    spec = importlib.util.spec_from_file_location("storyboard_migration_0017", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TRIGGERS)
