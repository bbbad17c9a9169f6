"""every scenario's results (offline, server, any installed scenario's), and a run's fingerprint

A run was stored with its fixed cells and accuracy only; the offline and server results were dropped and a
run added twice was pooled twice. Results of any other kind now go to `scenario_results`, whole, by kind;
`runs.fingerprint` (the run's commit, time and machine, hashed) is unique, so the same run is refused.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False, index=True),
        sa.Column("where", sa.String(100), nullable=False),
        sa.Column("speedup", sa.Float),
        sa.Column("result", sa.JSON, nullable=False),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("fingerprint", sa.String(64)))
        batch.create_index("ix_runs_fingerprint", ["fingerprint"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_fingerprint")
        batch.drop_column("fingerprint")
    op.drop_table("scenario_results")
