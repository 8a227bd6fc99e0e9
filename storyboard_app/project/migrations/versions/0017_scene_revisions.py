"""Scene revisions: a number SQLite itself bumps whenever a panel, its cast or its
takes change, whoever writes.

The open window looks for other programs' commits twice a second, and after
every commit (its own included) it used to read every panel's row, cast and
take count to find what differed: about 6 ms at a thousand panels on every
edit. Now it reads each panel's id, position and revision and re-reads only the
panels whose revision moved. Triggers keep the number, so no writer (the
command line, an older tool, raw SQL) can forget it.

A later migration that rebuilds the ``scenes``, ``takes`` or ``scene_characters``
table (Alembic's batch mode copies a table to change it) drops these triggers:
it must create them again (``tests/test_migrations.py`` checks a new project
has them).

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BUMP = "UPDATE scenes SET revision = revision + 1 WHERE id = {row}.scene_id;"
TRIGGERS = {
    # The trigger's own update leaves the revision moved, so it does not fire again.
    "scene_revision_on_edit": (
        "AFTER UPDATE ON scenes WHEN NEW.revision = OLD.revision BEGIN "
        "UPDATE scenes SET revision = OLD.revision + 1 WHERE id = NEW.id; END"
    ),
    "scene_revision_on_new_take": f"AFTER INSERT ON takes BEGIN {BUMP.format(row='NEW')} END",
    "scene_revision_on_deleted_take": f"AFTER DELETE ON takes BEGIN {BUMP.format(row='OLD')} END",
    "scene_revision_on_cast_added": (
        f"AFTER INSERT ON scene_characters BEGIN {BUMP.format(row='NEW')} END"
    ),
    "scene_revision_on_cast_removed": (
        f"AFTER DELETE ON scene_characters BEGIN {BUMP.format(row='OLD')} END"
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("scenes") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("scenes") as batch:
        batch.drop_column("revision")
