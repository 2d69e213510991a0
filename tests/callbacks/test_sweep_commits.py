"""A sweep commits once per placed call (issue 16): each call's record rides on the next
claim's lease renewal, which is durable before that claim's REST call, and the last one on the
sweep's final commit."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from hotline.callbacks.models import CallbackAttempt
from hotline.db import db

from .conftest import dispatch, number


def _recorded_sids(app) -> list[str]:
    """The call_sids recorded on attempts, as another process sees them (own connection)."""
    with app.app_context(), db.engine.connect() as connection:
        table = CallbackAttempt.__table__
        rows = connection.execute(
            select(table.c.call_sid).where(table.c.call_sid.is_not(None))
        ).all()
    return sorted(row.call_sid for row in rows)


def test_each_record_is_durable_before_the_next_call_and_one_commit_per_call(
    app, clock, make_callback, fake_calls, http_client
):
    for i in range(3):
        make_callback(phone_number=number(i + 1))
    seen_at_create: list[list[str]] = []
    create = fake_calls.create

    def create_and_look(form):
        seen_at_create.append(_recorded_sids(app))
        return create(form)

    http_client.responses.insert(0, (r"^POST \S+/Calls\.json$", create_and_look))
    commits = []

    def count(_connection) -> None:
        commits.append(1)

    event.listen(Engine, "commit", count)
    try:
        report = dispatch(app)
    finally:
        event.remove(Engine, "commit", count)
    placed = report.placed
    assert len(placed) == 3
    # Before each REST call, every earlier call's record is committed.
    assert seen_at_create == [[], sorted(placed[:1]), sorted(placed[:2])]
    assert _recorded_sids(app) == sorted(placed)
    # The claim, one lease renewal per call, the last record: 1 + 3 + 1 (was 1 + 2 x 3).
    assert len(commits) <= 5, len(commits)
