"""The wait estimate's figures (answers in the window, operators on shift) are read once per
ESTIMATE_MEMO_SECONDS per line and process (issue 16), and again at once when this process
changes them, or when the clock has moved on."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from hotline.db import db
from hotline.operators.models import Operator, Presence
from hotline.queue import service
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import reach_queue, wait

from .test_statement_counts import counted

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _figure_reads(statements: list[str]) -> int:
    return sum(1 for s in statements if s.startswith("SELECT count(*)")) - 1  # minus position


def test_rounds_share_the_figures_until_a_change_or_the_clock_moves(app, twilio, make_operator):
    operator_id = make_operator("memo", display_name="备忘")  # on shift
    with time_machine.travel(START, tick=False) as clock:
        first = reach_queue(twilio, app, from_="+8613123456731")
        second = reach_queue(twilio, app, from_="+8613123456732")
        with counted() as again:
            assert wait(twilio, second, queue_time=5).status_code == 200
        assert _figure_reads(again.statements) == 0  # the first caller's round read them

        with app.app_context():  # the operator signs off, in this process
            operator = db.session.get(Operator, operator_id)
            assert operator.presence == Presence.AVAILABLE
            operator.presence = Presence.OFFLINE
            db.session.commit()
        with counted() as after_change:
            assert wait(twilio, first, queue_time=10).status_code == 200
        assert _figure_reads(after_change.statements) == 2

        clock.shift(service.ESTIMATE_MEMO_SECONDS + 1)
        with counted() as later:
            assert wait(twilio, second, queue_time=20).status_code == 200
        assert _figure_reads(later.statements) == 2
