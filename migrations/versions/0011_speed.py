"""Speed (issue 16): stored webhooks pruned by age through an index on received_at

Revision ID: 0011_speed
Revises: 0010_operator_day
Create Date: 2026-12-05 07:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_speed"
# Other revisions may land in parallel; the lead chains them when merging.
down_revision: str | None = "0010_operator_day"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_received_at", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_received_at")
