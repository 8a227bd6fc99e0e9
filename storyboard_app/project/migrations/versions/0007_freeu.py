"""FreeU: a project setting, recorded by every take (off for existing ones).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("project_settings", "takes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("freeu", sa.String(8), nullable=False, server_default="off"))


def downgrade() -> None:
    for table in ("project_settings", "takes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("freeu")
