"""An enrolled elder calling the line: "check in now" with the menu's check-in key before the
window, recognised in the window, and nothing different for anyone else."""

from __future__ import annotations

from datetime import timedelta

from hotline.checkins.models import EpisodeOutcome, EpisodeStatus
from tests.conftest import follow

from .conftest import ELDER_PHONE, enrol_elder, episodes

OFFER = "今天报平安,请按6。"


def _ring(twilio, from_: str = ELDER_PHONE):
    params = twilio.call_params(twilio.new_call_sid(), from_=from_)
    response = twilio.post("/twilio/voice", params)
    assert response.status_code == 200
    return params, response


def test_before_the_window_the_elder_presses_6_to_check_in(app, elder, clock, twilio, jobs):
    clock.shift(timedelta(hours=-1, minutes=-30))  # 08:00, the window opens at 09:00
    params, first = _ring(twilio)
    assert OFFER in first.get_data(as_text=True)
    done = follow(twilio, first, params, digits="6")
    body = done.get_data(as_text=True)
    assert "已为您报平安" in body and "<Hangup" in body
    [episode] = episodes(app)
    assert (episode.status, episode.outcome, episode.answered_via) == (
        EpisodeStatus.OK,
        EpisodeOutcome.CALLED_IN,
        "key",
    )
    # When the window opens, nobody is called: today is done.
    clock.shift(timedelta(hours=1, minutes=30))
    jobs.open_due()
    assert [e.callback_id for e in episodes(app)] == [None]


def test_in_the_window_the_call_itself_is_the_check_in(app, elder, clock, twilio, jobs):
    params, first = _ring(twilio)  # 09:30, inside 09:00-11:00
    assert OFFER not in first.get_data(as_text=True)
    [episode] = episodes(app)
    assert (episode.status, episode.answered_via) == (EpisodeStatus.OK, "recognised")
    # The menu goes on as for any caller (6 is no choice here).
    after = follow(twilio, first, params, digits="0")
    assert "<Enqueue" in after.get_data(as_text=True)
    jobs.open_due()
    assert len(episodes(app)) == 1 and episodes(app)[0].callback_id is None


def test_a_call_while_the_check_in_is_being_placed_confirms_it(
    app, elder, clock, twilio, jobs, fake_calls
):
    jobs.open_due()
    jobs.dispatch()
    assert episodes(app)[0].status == EpisodeStatus.CALLING
    _ring(twilio)
    assert episodes(app)[0].status == EpisodeStatus.OK


def test_other_callers_hear_no_offer_and_6_is_not_a_choice(app, elder, clock, twilio):
    clock.shift(timedelta(hours=-1, minutes=-30))
    params, first = _ring(twilio, from_="+8613100000077")
    assert OFFER not in first.get_data(as_text=True)
    after = follow(twilio, first, params, digits="6")
    assert "报平安" not in after.get_data(as_text=True)
    assert episodes(app) == []


def test_a_stopped_enrolment_is_not_offered(app, clock, twilio):
    from hotline.checkins import service
    from hotline.checkins.models import CheckinEnrolment
    from hotline.db import db

    enrolled = enrol_elder(app)
    with app.app_context():
        service.stop(
            db.session, db.session.get(CheckinEnrolment, enrolled.enrolment_id), operator_id=None
        )
        db.session.commit()
    clock.shift(timedelta(hours=-1))
    _params, first = _ring(twilio)
    assert OFFER not in first.get_data(as_text=True)
