"""Alembic's migrations of the results history (fastbert_variants.history); `history.migrate` runs them."""
