"""Check-ins' own claim through a partial index of the live check-in callbacks (issue 14 on the
growing path of issue 16: 100,000 pending callbacks)

Revision ID: 0012_checkin_claim_index
Revises: 0011_speed
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_checkin_claim_index"
down_revision: str | None = "0011_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = "status IN ('pending', 'dialing') AND reason = 'check_in'"


def upgrade() -> None:
    op.create_index(
        "ix_callback_requests_own_schedule_claim",
        "callback_requests",
        ["original_arrival_at", "id"],
        unique=False,
        sqlite_where=sa.text(_WHERE),
        postgresql_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_callback_requests_own_schedule_claim", table_name="callback_requests")
