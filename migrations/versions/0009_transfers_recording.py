"""External transfers and call recording: the transfers and recordings tables, and each line's
recording setting

Revision ID: 0009_transfers_recording
Revises: 0008_checkins
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import hotline.db
from alembic import op

revision: str = "0009_transfers_recording"
# Other revisions may land in parallel; the lead chains them when merging.
down_revision: str | None = "0008_checkins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        # Existing lines keep not recording: recording needs the consent notice switched on.
        batch_op.add_column(
            sa.Column(
                "is_recording_enabled",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )
    op.create_table(
        "external_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("queue_entry_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target_name", sa.String(length=120), nullable=False),
        sa.Column("target_number", sa.String(length=64), nullable=False),
        sa.Column(
            "mode",
            sa.Enum("warm", "cold", name="transfermode", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ringing",
                "consulting",
                "three_way",
                "handed_over",
                "cancelled",
                "failed",
                "ended",
                name="transferstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("participant_call_sid", sa.String(length=64), nullable=True),
        sa.Column("started_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("end_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_external_transfers_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_external_transfers_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_external_transfers_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_entry_id"],
            ["queue_entries.id"],
            name=op.f("fk_external_transfers_queue_entry_id_queue_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_transfers")),
        sa.UniqueConstraint(
            "participant_call_sid", name=op.f("uq_external_transfers_participant_call_sid")
        ),
    )
    op.create_index("ix_external_transfers_call", "external_transfers", ["call_id", "started_at"])
    op.create_index(
        "ix_external_transfers_entry_status",
        "external_transfers",
        ["queue_entry_id", "status"],
    )
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_sid", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("queue_entry_id", sa.Integer(), nullable=True),
        sa.Column("conference_sid", sa.String(length=64), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("channels", sa.Integer(), nullable=True),
        sa.Column("media_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_recordings_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["queue_entry_id"],
            ["queue_entries.id"],
            name=op.f("fk_call_recordings_queue_entry_id_queue_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_recordings")),
        sa.UniqueConstraint("recording_sid", name=op.f("uq_call_recordings_recording_sid")),
    )
    op.create_index(op.f("ix_call_recordings_call_id"), "call_recordings", ["call_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_call_recordings_call_id"), table_name="call_recordings")
    op.drop_table("call_recordings")
    op.drop_index("ix_external_transfers_entry_status", table_name="external_transfers")
    op.drop_index("ix_external_transfers_call", table_name="external_transfers")
    op.drop_table("external_transfers")
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("is_recording_enabled")
