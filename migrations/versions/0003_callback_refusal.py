"""callback_requests.refusal_reason: callbacks the number policy refused, with the reason;
indexes for the daily call caps (calls placed today, per number)

The status column stores enum values as text (no database enum type, no check constraint), so
the new status "refused" needs no change of type.

Revision ID: 0003_callback_refusal
Revises: 0002_session_version
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_callback_refusal"
down_revision: str | None = "0002_session_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refusal_reason", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_callback_requests_phone_number", ["phone_number"], unique=False)
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_callback_attempts_placed_at", ["placed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_attempts_placed_at")
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_requests_phone_number")
        batch_op.drop_column("refusal_reason")
