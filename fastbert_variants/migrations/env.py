"""Alembic's environment: migrate on the connection that `history.migrate` hands over (online only)."""

from alembic import context

from fastbert_variants.history_schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
