"""Operator skills: the languages/dialects an operator speaks, the lines they serve, and each
line's "offer to anyone after N s" routing threshold

Revision ID: 0007_operator_skills
Revises: 0006_settings_version
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_operator_skills"
# Another revision (0006) may land in parallel; the lead chains them when merging.
down_revision: str | None = "0006_settings_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        # Existing operators keep serving every caller on every line: empty lists.
        batch_op.add_column(
            sa.Column("languages", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("line_ids", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "route_to_anyone_after_seconds",
                sa.Integer(),
                server_default=sa.text("120"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("route_to_anyone_after_seconds")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("line_ids")
        batch_op.drop_column("languages")
