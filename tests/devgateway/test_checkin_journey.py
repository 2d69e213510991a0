"""A check-in journey (关爱回访, issue 14) through the dev gateway, over real HTTP: 王阿姨 is
enrolled by the service (as the console does) and 李伯 by `flask checkins enrol`; the clock
places the day's check-in calls; 王阿姨's dev phone rings, she answers and presses 1; 李伯 does
not answer, so the cascade texts his volunteer and his daughter (both dev phones receive it) and
opens a 失联 case; the volunteer's dev phone replies 1: the episode and the case are closed."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from hotline.callbacks.jobs import dispatch_due_callbacks
from hotline.cases.models import Case, CaseStatus
from hotline.checkins.jobs import open_due_checkins, run_checkin_cascade
from hotline.checkins.models import CheckinEpisode, EpisodeOutcome, EpisodeStatus
from hotline.db import db
from hotline.sms.jobs import send_outbox
from tests import factories

from .harness import LINE, Gateway

WANG = "+8613123456701"
LI = "+8613123456702"
VOLUNTEER = "+8613123456790"
DAUGHTER = "+8613123456791"


@pytest.fixture
def gateway(app, hotline_gateway) -> Gateway:
    """The app and the emulator wired together; no pacing or ringing cap, texts sent at once."""
    app.config.update(
        CALLBACK_CALLS_PER_SECOND=0, CALLBACK_RINGING_MARGIN=None, SMS_SEGMENTS_PER_SECOND=100
    )
    return hotline_gateway


def _enrol(app, runner) -> dict[str, int]:
    """王阿姨 (by the service) and 李伯 (by the CLI), enrolled all day (the test runs at any
    hour), no retries, one volunteer; 李伯's daughter may be told (consented)."""
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        volunteer = factories.make_volunteer(session, phone_number=VOLUNTEER)
        wang = factories.make_caller(session, phone_number=WANG, display_name="王阿姨")
        li = factories.make_caller(session, phone_number=LI, display_name="李伯")
        operator = factories.make_operator(session)
        factories.make_family_contact(
            session, caller_id=li.id, phone_number=DAUGHTER, operator_id=operator.id
        )
        factories.make_enrolment(
            session,
            caller_id=wang.id,
            line_id=line.id,
            window_start=time(0, 0),
            window_end=time(23, 59, 59),
            retry_minutes="",
            volunteer_id=volunteer.id,
        )
        ids = {WANG: wang.id, LI: li.id}
        session.commit()
    result = runner.invoke(
        args=[
            "checkins", "enrol", LI, "--window", "00:00-23:59:59", "--retries", "",
            "--volunteer", VOLUNTEER, "--consent", "elder_in_person", "--witness", "社工 张",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "enrolled" in result.output
    return ids


def _run(app, job) -> None:
    with app.app_context():
        job(app)


def _episode(app, caller_id: int) -> CheckinEpisode:
    with app.app_context():
        row = db.session.scalar(select(CheckinEpisode).where(CheckinEpisode.caller_id == caller_id))
        db.session.expunge(row)
        return row


def _ringing(gateway: Gateway, number: str) -> dict:
    calls = gateway.api("GET", "/calls?active=1", expect=200)["calls"]
    [call] = [c for c in calls if c["to"] == number]
    return call


def test_one_elder_presses_1_the_other_misses_and_the_volunteer_replies_1(app, gateway, runner):
    ids = _enrol(app, runner)
    gateway.api("GET", f"/phones/{WANG}", expect=200)  # 王阿姨's dev phone is on
    gateway.api("GET", f"/phones/{VOLUNTEER}", expect=200)  # and the volunteer's
    gateway.api("GET", f"/phones/{DAUGHTER}", expect=200)  # and 李伯's daughter's
    _run(app, open_due_checkins)
    _run(app, dispatch_due_callbacks)
    gateway.idle()

    # 王阿姨's phone rings: she answers, hears her name and the question, and presses 1.
    wang_call = _ringing(gateway, WANG)
    gateway.api("POST", f"/calls/{wang_call['sid']}/answer", expect=200, answered_by="human")
    gateway.idle()
    heard = " ".join(
        e["text"] for e in gateway.call(wang_call["sid"])["transcript"] if e["kind"] == "say"
    )
    assert "王阿姨,您好!这里是长者服务热线的关爱回访。" in heard
    gateway.press(wang_call["sid"], "1")
    gateway.idle()
    wang = _episode(app, ids[WANG])
    assert (wang.status, wang.outcome) == (EpisodeStatus.OK, EpisodeOutcome.OK)

    # 李伯's phone is off: it rings until the timeout, no answer.
    li_call = _ringing(gateway, LI)
    gateway.advance(120)
    gateway.idle()
    assert gateway.call(li_call["sid"])["status"] == "no-answer"
    assert _episode(app, ids[LI]).status == EpisodeStatus.CASCADE

    # The clock runs the cascade, in order and each recorded: the volunteer's text, the
    # family's text, the 失联 case; the texts reach both dev phones.
    _run(app, run_checkin_cascade)
    _run(app, send_outbox)
    gateway.idle()
    inbox = gateway.api("GET", f"/phones/{VOLUNTEER}/messages", expect=200)["messages"]
    [visit] = [m for m in inbox if "关爱回访" in m["body"]]
    assert "李伯今天1次未接电话" in visit["body"] and "回复1已联系上、2无法联系" in visit["body"]
    family = gateway.api("GET", f"/phones/{DAUGHTER}/messages", expect=200)["messages"]
    [told] = [m for m in family if "李伯" in m["body"]]
    assert told["from"] == LINE
    li = _episode(app, ids[LI])
    assert li.status == EpisodeStatus.CASCADE and li.family_sms_count == 1
    assert li.volunteer_sms_at <= li.family_sms_at <= li.case_opened_at
    with app.app_context():
        case = db.session.get(Case, li.case_id)
        assert (case.status, case.sub_topic) == (CaseStatus.OPEN, "失联")
    assert li.next_step_at is not None, "the volunteer's reply deadline is set"

    # The volunteer replies 1 from the dev phone: the episode and the 失联 case are closed.
    gateway.api("POST", f"/phones/{VOLUNTEER}/messages", expect=201, to=LINE, body="1")
    gateway.idle()
    li = _episode(app, ids[LI])
    assert (li.status, li.outcome, li.reply_by) == (
        EpisodeStatus.REACHED,
        EpisodeOutcome.REACHED_BY_VOLUNTEER,
        "volunteer",
    )
    with app.app_context():
        assert db.session.get(Case, li.case_id).status == CaseStatus.RESOLVED
    _run(app, send_outbox)
    gateway.idle()
    inbox = gateway.api("GET", f"/phones/{VOLUNTEER}/messages", expect=200)["messages"]
    assert any("已联系上老人" in m["body"] for m in inbox)


def test_an_answering_machine_is_a_missed_check_in(app, gateway, runner):
    ids = _enrol(app, runner)
    gateway.api("GET", f"/phones/{WANG}", expect=200)
    _run(app, open_due_checkins)
    _run(app, dispatch_due_callbacks)
    gateway.idle()
    wang_call = _ringing(gateway, WANG)
    # The dev phone's "answer as a machine" button.
    gateway.api(
        "POST", f"/calls/{wang_call['sid']}/answer", expect=200, answered_by="machine_end_beep"
    )
    gateway.idle()
    gateway.advance(60)
    gateway.idle()
    view = gateway.call(wang_call["sid"])
    assert view["status"] == "completed"
    # The machine heard the short message with the line's number, not the check-in question.
    heard = " ".join(e["text"] for e in view["transcript"] if e["kind"] == "say")
    assert "关爱回访" not in heard
    # AnsweredBy reached the hotline: the attempt ended as "machine", a missed check-in.
    wang = _episode(app, ids[WANG])
    assert (wang.status, wang.last_attempt_outcome) == (EpisodeStatus.CASCADE, "machine")
