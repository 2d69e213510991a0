"""The day report's call figures computed by the database (issue 16) agree with `classify` and
`call_figures`, the Python definitions, on a day of varied calls: every outcome, calls with and
without an answer time, waits on the service-level and short-abandon thresholds exactly,
negative waits from clock skew, calls still waiting, and calls of other days and lines."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.calls.models import Call, CallDirection, CallOutcome, CallStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.reports import metrics
from hotline.timeutil import local_day_bounds

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 28)
SCENARIOS = [None, "medical", "travel", "other"]
OUTCOMES = [None, *CallOutcome]


def _random_calls(line_id: int, rng: random.Random, count: int) -> list[Call]:
    start = datetime.combine(DAY, time(0), tzinfo=SHANGHAI).astimezone(UTC)
    calls = []
    for i in range(count):
        queued = start + timedelta(seconds=rng.randrange(-3600, 25 * 3600))
        queued += timedelta(microseconds=rng.choice([0, 0, 250_000, 999_999]))
        # Waits on the thresholds exactly (T = 20 s, short abandon 10 s), around them, long.
        wait = rng.choice([0, 5, 9.5, 10, 10.5, 19.999, 20, 20.001, 45, 600, -3])
        answered = rng.random() < 0.4
        ended = rng.random() < 0.85
        calls.append(
            Call(
                call_sid=f"CA{i:032x}",
                line_id=line_id,
                direction=CallDirection.INBOUND if rng.random() < 0.95 else CallDirection.OUTBOUND,
                status=CallStatus.COMPLETED if ended else CallStatus.IN_PROGRESS,
                menu_path=[],
                scenario=rng.choice(SCENARIOS),
                queued_at=queued if rng.random() < 0.97 else None,
                answered_at=queued + timedelta(seconds=wait) if answered else None,
                ended_at=queued + timedelta(seconds=wait + (90 if answered else 0))
                if ended
                else None,
                outcome=rng.choice(OUTCOMES),
                created_at=queued - timedelta(seconds=30),
            )
        )
    return calls


@pytest.mark.parametrize("seed", [1, 2])
def test_the_database_classifies_every_call_as_python_does(app, seed):
    rng = random.Random(seed)
    with app.app_context():
        session = db.session
        line = Line(
            key=f"sql{seed}",
            name="热线",
            phone_number="+861055550001",
            service_level_seconds=20,
            abandon_callback_after_seconds=10,
        )
        other = Line(key=f"other{seed}", name="东区", phone_number="+861055550002")
        session.add_all([line, other])
        session.flush()
        calls = _random_calls(line.id, rng, 400) + _random_calls(other.id, rng, 20)
        for n, call in enumerate(calls):
            call.call_sid = f"CA{seed:02d}{n:030x}"
        session.add_all(calls)
        session.commit()

        start, end = local_day_bounds(DAY, line.timezone)
        figures, offered, answered = metrics.aggregated_call_figures(session, line, start, end)

        queued = metrics.queued_calls(session, line.id, start, end)
        expected = metrics.call_figures(
            queued,
            threshold_seconds=line.service_level_seconds,
            short_abandon_seconds=line.abandon_callback_after_seconds,
        )
        expected_offered: Counter[str] = Counter()
        expected_answered: Counter[str] = Counter()
        for call in queued:
            result, _ = metrics.classify(call, line.abandon_callback_after_seconds)
            code = call.scenario or "other"
            if result != metrics.QueueResult.WAITING and result != (
                metrics.QueueResult.SHORT_ABANDON
            ):
                expected_offered[code] += 1
            if result == metrics.QueueResult.ANSWERED:
                expected_answered[code] += 1

    assert len(queued) > 300
    assert figures.offered > 0 and figures.short_abandons > 0 and figures.waiting_now > 0
    exact = {k: v for k, v in vars(figures).items() if k != "answer_wait_total_seconds"}
    assert exact == {k: v for k, v in vars(expected).items() if k != "answer_wait_total_seconds"}
    assert figures.answer_wait_total_seconds == pytest.approx(
        expected.answer_wait_total_seconds, abs=0.01
    )
    assert offered == expected_offered and answered == expected_answered
