"""A person's callback held beside a check-in on a closed line (issue 14): `held_reason` on
callback_requests, and the one-active-callback-per-number index split into the not-held and
the held rows (at most one of each per number and line)

Revision ID: 0014_callback_held_reason
Revises: 0013_operator_talks
Create Date: 2026-12-06 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_callback_held_reason"
down_revision: str | None = "0013_operator_talks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('pending', 'dialing')"
_ACTIVE_NOT_HELD = "status IN ('pending', 'dialing') AND held_reason IS NULL"
_ACTIVE_HELD = "status IN ('pending', 'dialing') AND held_reason IS NOT NULL"


def _unique(name: str, where: str) -> None:
    op.create_index(
        name,
        "callback_requests",
        ["line_id", "phone_number"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    op.add_column("callback_requests", sa.Column("held_reason", sa.String(200), nullable=True))
    op.drop_index("uq_callback_requests_active_number", table_name="callback_requests")
    _unique("uq_callback_requests_active_number", _ACTIVE_NOT_HELD)
    _unique("uq_callback_requests_held_number", _ACTIVE_HELD)


def downgrade() -> None:
    # A held row and the check-in beside it cannot both stay active under the old index: the
    # held one is closed as canceled, with a reason saying why, as an operator would have to.
    op.execute(
        "UPDATE callback_requests SET status = 'canceled', "
        "cancel_reason = 'held callback closed by a database downgrade', "
        "last_outcome = 'canceled' "
        f"WHERE {_ACTIVE_HELD} AND EXISTS (SELECT 1 FROM callback_requests AS other "
        "WHERE other.line_id = callback_requests.line_id "
        "AND other.phone_number = callback_requests.phone_number "
        "AND other.status IN ('pending', 'dialing') AND other.held_reason IS NULL)"
    )
    op.drop_index("uq_callback_requests_held_number", table_name="callback_requests")
    op.drop_index("uq_callback_requests_active_number", table_name="callback_requests")
    _unique("uq_callback_requests_active_number", _ACTIVE)
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("held_reason")
