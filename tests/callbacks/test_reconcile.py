"""Status callbacks that never arrive: the reconcile job asks Twilio and finishes the attempt."""

from __future__ import annotations

from datetime import timedelta

from hotline.callbacks.dispatcher import reconcile_stale_attempts
from hotline.callbacks.models import AttemptOutcome, CallbackStatus

from .conftest import attempts_of, dispatch, get_callback, local, placed_call


def _reconcile(app) -> int:
    with app.app_context():
        return reconcile_stale_attempts(app)


def test_a_lost_no_answer_is_fetched_from_twilio_and_retried(
    app, clock, make_callback, fake_calls, http_client, twilio
):
    callback_id = make_callback()
    (sid,) = dispatch(app).placed
    clock.shift(timedelta(minutes=5))
    assert _reconcile(app) == 0, "too early to worry"
    assert not [r for r in http_client.requests if r.method == "GET"]
    clock.shift(timedelta(minutes=11))
    fake_calls.set_status(http_client, sid, "no-answer")
    assert _reconcile(app) == 1
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.PENDING and callback.attempts == 1
    assert callback.due_at == local(2025, 3, 4, 10, 46)
    assert attempts_of(app, callback_id)[0].outcome == AttemptOutcome.NO_ANSWER
    # A late status callback for the same call changes nothing.
    placed_call_again = placed_call(app, twilio, callback_id)
    placed_call_again.status("no-answer", 2)
    assert get_callback(app, callback_id).due_at == local(2025, 3, 4, 10, 46)


def test_a_call_still_ringing_at_twilio_is_left_alone(
    app, clock, make_callback, fake_calls, http_client
):
    callback_id = make_callback()
    (sid,) = dispatch(app).placed
    clock.shift(timedelta(minutes=20))
    fake_calls.set_status(http_client, sid, "ringing")
    assert _reconcile(app) == 0
    assert get_callback(app, callback_id).status == CallbackStatus.DIALING


def test_a_lost_completed_after_a_person_answered_completes_the_callback(
    app, clock, make_callback, fake_calls, http_client, twilio
):
    callback_id = make_callback()
    dispatch(app)
    call = placed_call(app, twilio, callback_id)
    call.answer("human")
    clock.shift(timedelta(hours=5))
    fake_calls.set_status(
        http_client, call.call_sid, "completed", duration=1800, answered_by="human"
    )
    assert _reconcile(app) == 1
    assert get_callback(app, callback_id).status == CallbackStatus.DONE
