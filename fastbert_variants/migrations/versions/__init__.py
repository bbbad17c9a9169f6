"""One revision per schema change, newest last; made with `alembic revision` against this folder."""
