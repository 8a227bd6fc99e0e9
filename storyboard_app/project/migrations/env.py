"""Alembic environment: the store passes its own connection, so no URL is configured here."""

from __future__ import annotations

from alembic import context

from storyboard_app.project.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through storyboard_app.project.schema, not the alembic CLI.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
