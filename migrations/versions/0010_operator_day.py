"""The operator's day and presence: wrap-up that ends by itself (per-line time), away reasons,
the presence log, and the caller's language as an operator corrected it

Revision ID: 0010_operator_day
Revises: 0009_transfers_recording
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.db

revision: str = "0010_operator_day"
# Other revisions (0008, 0009) land in parallel; the lead chains them when merging.
down_revision: str | None = "0009_transfers_recording"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRESENCE = sa.Enum(
    "available", "busy", "wrap_up", "away", "offline", name="presence", native_enum=False, length=32
)


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "away_reason",
                sa.Enum(
                    "meal", "training", "other", name="awayreason", native_enum=False, length=32
                ),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("wrap_up_until", hotline.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wrap_up_seconds", sa.Integer(), server_default=sa.text("60"), nullable=False)
        )
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routing_language", sa.String(length=40), nullable=True))
    op.create_table(
        "presence_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("state", PRESENCE, nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("since", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_presence_log_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_log")),
    )
    with op.batch_alter_table("presence_log", schema=None) as batch_op:
        batch_op.create_index("ix_presence_log_operator_since", ["operator_id", "since"])
        batch_op.create_index("ix_presence_log_since", ["since"])


def downgrade() -> None:
    with op.batch_alter_table("presence_log", schema=None) as batch_op:
        batch_op.drop_index("ix_presence_log_since")
        batch_op.drop_index("ix_presence_log_operator_since")
    op.drop_table("presence_log")
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.drop_column("routing_language")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("wrap_up_seconds")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("wrap_up_until")
        batch_op.drop_column("away_reason")
