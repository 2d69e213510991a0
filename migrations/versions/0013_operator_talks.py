"""Operator talks: one row per operator's stretch of talk with a caller (issue 15: the
operator's day credits each operator with their own stretches after hand-overs, transfers and
retakes; recording playback rights follow who talked on a call)

Revision ID: 0013_operator_talks
Revises: 0012_checkin_claim_index
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.db

revision: str = "0013_operator_talks"
down_revision: str | None = "0012_checkin_claim_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TALK_END = sa.Enum(
    "hung_up",
    "call_ended",
    "handed_over",
    "transferred",
    "cold_transfer",
    "left",
    name="talkend",
    native_enum=False,
    length=32,
)


def upgrade() -> None:
    op.create_table(
        "operator_talks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_entry_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("started_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_by", TALK_END, nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_operator_talks_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_operator_talks_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["queue_entry_id"],
            ["queue_entries.id"],
            name=op.f("fk_operator_talks_queue_entry_id_queue_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_talks")),
    )
    op.create_index(op.f("ix_operator_talks_call_id"), "operator_talks", ["call_id"])
    op.create_index(
        "ix_operator_talks_entry_ended", "operator_talks", ["queue_entry_id", "ended_at"]
    )
    op.create_index(
        "ix_operator_talks_operator_started", "operator_talks", ["operator_id", "started_at"]
    )
    op.create_index("ix_operator_talks_started", "operator_talks", ["started_at"])
    # The conversations finished before this revision, one stretch each (as the day report
    # counted them until now), so past days keep their figures.
    op.execute(
        "INSERT INTO operator_talks (queue_entry_id, call_id, operator_id, started_at, ended_at, "
        "ended_by) SELECT id, call_id, operator_id, connected_at, ended_at, 'call_ended' "
        "FROM queue_entries WHERE status = 'completed' AND operator_id IS NOT NULL "
        "AND connected_at IS NOT NULL AND ended_at IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index("ix_operator_talks_started", table_name="operator_talks")
    op.drop_index("ix_operator_talks_operator_started", table_name="operator_talks")
    op.drop_index("ix_operator_talks_entry_ended", table_name="operator_talks")
    op.drop_index(op.f("ix_operator_talks_call_id"), table_name="operator_talks")
    op.drop_table("operator_talks")
