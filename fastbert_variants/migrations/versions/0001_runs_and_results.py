"""runs, their latency results and their accuracy results

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ran_at", sa.String(40)),
        sa.Column("commit_id", sa.String(64), index=True),
        sa.Column("branch", sa.String(200), nullable=False, index=True),
        sa.Column("dirty", sa.Boolean),
        sa.Column("machine_kind", sa.String(300), nullable=False, index=True),
        sa.Column("machine", sa.JSON, nullable=False),
        sa.Column("model", sa.String(500)),
        sa.Column("source", sa.String(1000), nullable=False),
    )
    op.create_table(
        "latency_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("device", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False, index=True),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("seq_len", sa.Integer, nullable=False),
        sa.Column("cell", sa.String(100), nullable=False),
        sa.Column("median_ms", sa.Float, nullable=False),
        sa.Column("speedup", sa.Float, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )
    op.create_table(
        "accuracy_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("accuracy", sa.Float, nullable=False),
        sa.Column("drop_points", sa.Float, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("result", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("accuracy_results")
    op.drop_table("latency_results")
    op.drop_table("runs")
