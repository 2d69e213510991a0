"""directory: agencies, volunteers (邻里守望) and the elders they look after

Revision ID: 0005_directory
Revises: 0004_line_admin
Create Date: 2026-12-04 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import hotline.db

revision: str = "0005_directory"
down_revision: str | None = "0004_line_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "emergency",
                "medical",
                "community_office",
                "government_service",
                "social_worker",
                "other",
                name="agencykind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("phone_number", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("phone_number", name=op.f("uq_agencies_phone_number")),
    )
    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone_number", sa.String(length=64), nullable=False),
        sa.Column("district", sa.String(length=80), nullable=False),
        sa.Column("languages", sa.String(length=120), nullable=False),
        sa.Column("availability", sa.String(length=200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("consented_on", sa.Date(), nullable=False),
        sa.Column(
            "consent_way",
            sa.Enum(
                "in_writing",
                "in_person",
                "by_phone",
                "by_sms",
                name="consentway",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("phone_number", name=op.f("uq_volunteers_phone_number")),
    )
    with op.batch_alter_table("volunteers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volunteers_district"), ["district"], unique=False)
    op.create_table(
        "volunteer_elders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["caller_id"], ["callers.id"], name=op.f("fk_volunteer_elders_caller_id_callers")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_volunteer_elders_volunteer_id_volunteers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_elders")),
        sa.UniqueConstraint(
            "volunteer_id", "caller_id", name=op.f("uq_volunteer_elders_volunteer_id")
        ),
    )
    with op.batch_alter_table("volunteer_elders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_elders_caller_id"), ["caller_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_volunteer_elders_volunteer_id"), ["volunteer_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("volunteer_elders")
    op.drop_table("volunteers")
    op.drop_table("agencies")
