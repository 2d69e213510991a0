"""Line administration: hours per weekday, quiet hours, who is told what per line

Revision ID: 0004_line_admin
Revises: 0003_callback_refusal
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_line_admin"
down_revision: str | None = "0003_callback_refusal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        # Existing lines keep their single opens_at/closes_at: an empty mapping means "every
        # weekday the same".
        batch_op.add_column(
            sa.Column("weekly_hours", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(sa.Column("quiet_hours_start", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("quiet_hours_end", sa.Time(), nullable=True))
    op.create_table(
        "line_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("gets_daily_summary", sa.Boolean(), nullable=False),
        sa.Column("alert_kinds", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["lines.id"],
            name=op.f("fk_line_recipients_line_id_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_line_recipients_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_recipients")),
        sa.UniqueConstraint("line_id", "operator_id", name=op.f("uq_line_recipients_line_id")),
    )


def downgrade() -> None:
    op.drop_table("line_recipients")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours_end")
        batch_op.drop_column("quiet_hours_start")
        batch_op.drop_column("weekly_hours")
