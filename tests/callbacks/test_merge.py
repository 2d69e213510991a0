"""One active callback per number and line: a new request merges into the pending one."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callbacks.service import request_callback
from hotline.db import db
from hotline.lines.models import Line
from hotline.timeutil import utcnow

from .conftest import dispatch, get_callback, number, placed_call


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CallbackRequest))


def test_second_request_merges_keeping_the_earliest_place_and_the_sooner_promise(
    app, clock, make_callback
):
    now = utcnow()
    first = make_callback(
        phone_number=number(1),
        reason=CallbackReason.VIRTUAL_HOLD,
        original_arrival_at=now - timedelta(minutes=10),
        due_at=now + timedelta(minutes=30),
        note="asked while waiting",
    )
    second = make_callback(
        phone_number=number(1),
        reason=CallbackReason.VOICEMAIL,
        original_arrival_at=now - timedelta(minutes=20),
        due_at=now + timedelta(minutes=5),
        note="left a message",
    )
    assert first == second and _count(app) == 1
    row = get_callback(app, first)
    assert row.original_arrival_at == now - timedelta(minutes=20)
    assert row.due_at == now + timedelta(minutes=5)
    assert row.reason == CallbackReason.VIRTUAL_HOLD
    assert row.note == "asked while waiting; also voicemail: left a message"


@pytest.mark.parametrize("first_is_check_in", [True, False])
def test_a_request_for_a_person_outranks_a_check_in_in_either_order(
    app, clock, make_callback, first_is_check_in
):
    check_in = {"reason": CallbackReason.CHECK_IN, "due_at": utcnow(), "note": "check-in"}
    person = {"reason": CallbackReason.OPERATOR, "note": "about the referral"}
    first, second = (check_in, person) if first_is_check_in else (person, check_in)
    row_id = make_callback(phone_number=number(1), **first)
    assert make_callback(phone_number=number(1), **second) == row_id and _count(app) == 1
    row = get_callback(app, row_id)
    assert row.reason == CallbackReason.OPERATOR, "the answered call goes to a person"
    with app.app_context():
        line_attempts = db.session.scalar(select(Line.callback_max_attempts).limit(1))
    assert row.max_attempts == line_attempts, "the person's callback keeps the line's attempts"
    assert "check-in" in row.note and "about the referral" in row.note


def test_a_check_in_keeps_its_reason_when_another_check_in_merges(app, clock, make_callback):
    first = make_callback(phone_number=number(1), reason=CallbackReason.CHECK_IN, due_at=utcnow())
    make_callback(phone_number=number(1), reason=CallbackReason.CHECK_IN, due_at=utcnow())
    row = get_callback(app, first)
    assert (row.reason, row.max_attempts) == (CallbackReason.CHECK_IN, 1)


def test_later_promise_does_not_delay_an_earlier_one(app, clock, make_callback):
    now = utcnow()
    first = make_callback(phone_number=number(1), due_at=now + timedelta(minutes=5))
    make_callback(phone_number=number(1), due_at=now + timedelta(hours=3))
    assert get_callback(app, first).due_at == now + timedelta(minutes=5)


def test_merge_fills_in_what_the_first_request_did_not_know(app, clock, make_callback, make_caller):
    caller_id = make_caller(phone_number=number(1))
    first = make_callback(phone_number=number(1))
    make_callback(phone_number=number(1), caller_id=caller_id, language="yue-HK")
    row = get_callback(app, first)
    assert row.caller_id == caller_id and row.language == "yue-HK"


def test_different_numbers_or_lines_are_separate(app, clock, make_callback):
    make_callback(phone_number=number(1))
    make_callback(phone_number=number(2))
    with app.app_context():
        other = Line(key="bank", name="银行长者专线", phone_number="+861012340000")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    make_callback(phone_number=number(1), line_id=other_id)
    assert _count(app) == 3


def test_a_request_while_ringing_merges_without_a_second_call(
    app, clock, make_callback, fake_calls
):
    first = make_callback(phone_number=number(1))
    dispatch(app)
    assert get_callback(app, first).status == CallbackStatus.DIALING
    due_before = get_callback(app, first).due_at
    again = make_callback(phone_number=number(1), reason=CallbackReason.SMS)
    assert again == first and _count(app) == 1
    assert get_callback(app, first).due_at == due_before
    assert dispatch(app).claimed == []


def test_after_a_callback_is_done_a_new_request_is_a_new_promise(
    app, clock, make_callback, fake_calls, twilio
):
    first = make_callback(phone_number=number(1))
    dispatch(app)
    call = placed_call(app, twilio, first)
    call.answer("human")
    call.status("completed", 3, duration=100)
    assert get_callback(app, first).status == CallbackStatus.DONE
    second = make_callback(phone_number=number(1))
    assert second != first and get_callback(app, second).status == CallbackStatus.PENDING


@pytest.mark.postgres
def test_concurrent_requests_for_the_same_person_end_as_one_row(pg_app, clock):
    with pg_app.app_context():
        line_id = db.session.scalar(select(Line.id))
    barrier = threading.Barrier(6)
    ids: list[int] = []
    errors: list[BaseException] = []

    def request(i: int) -> None:
        try:
            with pg_app.app_context():
                barrier.wait(timeout=30)
                row = request_callback(
                    db.session,
                    line_id=line_id,
                    phone_number=number(1),
                    reason=CallbackReason.ABANDONED,
                    original_arrival_at=utcnow() - timedelta(minutes=i),
                    note=f"request {i}",
                )
                db.session.commit()  # the test is the entry point: services only flush
                ids.append(row.id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(set(ids)) == 1
    with pg_app.app_context():
        row = db.session.scalars(select(CallbackRequest)).one()
        assert row.original_arrival_at == utcnow() - timedelta(minutes=5)
        assert row.note.count("request") == 6
