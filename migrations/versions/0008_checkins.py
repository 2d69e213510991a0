"""check-ins (关爱回访): enrolments and their daily episodes with the cascade

Revision ID: 0008_checkins
Revises: 0007_operator_skills
Create Date: 2026-12-05 07:15:41
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.db


revision: str = "0008_checkins"
# Other revisions (0008_*) land in parallel; the lead chains them when merging.
down_revision: str | None = "0007_operator_skills"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active", "paused", "stopped", name="enrolmentstatus", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column(
            "calendar_rule",
            sa.Enum(
                "every_day",
                "working_days",
                "chosen_days",
                name="calendarrule",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("days_of_week", sa.JSON(), nullable=False),
        sa.Column("skip_public_holidays", sa.Boolean(), nullable=False),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("retry_minutes", sa.String(length=40), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("notify_family", sa.Boolean(), nullable=False),
        sa.Column("family_contact_ids", sa.JSON(), nullable=True),
        sa.Column("consented_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "consent_method",
            sa.Enum(
                "elder_on_call",
                "elder_in_person",
                "elder_in_writing",
                name="consentmethod",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("consent_witness", sa.String(length=120), nullable=False),
        sa.Column("consent_recorded_by", sa.Integer(), nullable=True),
        sa.Column("paused_until", sa.Date(), nullable=True),
        sa.Column("pause_reason", sa.String(length=200), nullable=False),
        sa.Column("stopped_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stop_reason", sa.String(length=200), nullable=False),
        sa.Column("enrolled_by_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["callers.id"], name=op.f("fk_checkin_enrolments_caller_id_callers")
        ),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by"],
            ["operators.id"],
            name=op.f("fk_checkin_enrolments_consent_recorded_by_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["enrolled_by_id"],
            ["operators.id"],
            name=op.f("fk_checkin_enrolments_enrolled_by_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_checkin_enrolments_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_checkin_enrolments_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_enrolments")),
    )
    with op.batch_alter_table("checkin_enrolments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_checkin_enrolments_caller_id"), ["caller_id"], unique=False
        )
        batch_op.create_index("ix_checkin_enrolments_status", ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_checkin_enrolments_volunteer_id"), ["volunteer_id"], unique=False
        )
        batch_op.create_index(
            "uq_checkin_enrolments_live",
            ["caller_id", "line_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('active', 'paused')"),
            postgresql_where=sa.text("status IN ('active', 'paused')"),
        )

    op.create_table(
        "checkin_episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("window_start_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("window_end_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "due",
                "calling",
                "ok",
                "help",
                "missed",
                "cascade",
                "reached",
                "unreachable",
                "canceled",
                name="episodestatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_step_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("callback_id", sa.Integer(), nullable=True),
        sa.Column("last_attempt_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_attempt_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_via", sa.String(length=16), nullable=True),
        sa.Column("missed_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("volunteer_sms_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("family_sms_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("family_sms_count", sa.Integer(), nullable=False),
        sa.Column("case_opened_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("supervisor_alerted_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("reply_by", sa.String(length=16), nullable=True),
        sa.Column("reply_code", sa.String(length=8), nullable=True),
        sa.Column("replied_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=16), nullable=True),
        sa.Column("closed_by_operator_id", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "ok",
                "called_in",
                "help",
                "reached_by_volunteer",
                "reached_by_family",
                "unreachable",
                "closed_by_operator",
                "canceled",
                name="episodeoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback_requests.id"],
            name=op.f("fk_checkin_episodes_callback_id_callback_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["callers.id"], name=op.f("fk_checkin_episodes_caller_id_callers")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_checkin_episodes_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_operator_id"],
            ["operators.id"],
            name=op.f("fk_checkin_episodes_closed_by_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["checkin_enrolments.id"],
            name=op.f("fk_checkin_episodes_enrolment_id_checkin_enrolments"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_checkin_episodes_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_checkin_episodes_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_episodes")),
        sa.UniqueConstraint(
            "enrolment_id", "due_date", name=op.f("uq_checkin_episodes_enrolment_id")
        ),
    )
    with op.batch_alter_table("checkin_episodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkin_episodes_caller_date", ["caller_id", "due_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_checkin_episodes_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_checkin_episodes_line_date", ["line_id", "due_date"], unique=False
        )
        batch_op.create_index("ix_checkin_episodes_sweep", ["status", "next_step_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkin_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_episodes_sweep")
        batch_op.drop_index("ix_checkin_episodes_line_date")
        batch_op.drop_index(batch_op.f("ix_checkin_episodes_case_id"))
        batch_op.drop_index("ix_checkin_episodes_caller_date")

    op.drop_table("checkin_episodes")
    with op.batch_alter_table("checkin_enrolments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_checkin_enrolments_live",
            sqlite_where=sa.text("status IN ('active', 'paused')"),
            postgresql_where=sa.text("status IN ('active', 'paused')"),
        )
        batch_op.drop_index(batch_op.f("ix_checkin_enrolments_volunteer_id"))
        batch_op.drop_index("ix_checkin_enrolments_status")
        batch_op.drop_index(batch_op.f("ix_checkin_enrolments_caller_id"))

    op.drop_table("checkin_enrolments")
