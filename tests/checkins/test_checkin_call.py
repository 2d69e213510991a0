"""The check-in call answered by the elder: the greeting by name, keys and words in three
languages, emergency words, silence twice, and what each does to the episode and the queue."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from hotline.callers.models import Caller
from hotline.checkins.models import EpisodeOutcome, EpisodeStatus
from hotline.db import db
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority
from tests.callbacks.conftest import CallbackCall

from .conftest import ELDER_PHONE, current_attempt, episodes


def _set_language(app, elder, language: str) -> None:
    with app.app_context():
        db.session.get(Caller, elder.caller_id).language = language
        db.session.commit()


def _answered(app, jobs, twilio) -> tuple[CallbackCall, str]:
    jobs.open_due()
    jobs.dispatch()
    [episode] = episodes(app)
    attempt = current_attempt(app, episode.callback_id)
    call = CallbackCall(twilio, attempt.id, attempt.call_sid, ELDER_PHONE)
    response = call.answer(answered_by="human")
    assert response.status_code == 200
    return call, response.get_data(as_text=True)


def _action(twiml: str) -> str:
    match = re.search(r'<Gather action="([^"]+)"', twiml)
    assert match, twiml
    return unescape(match.group(1))


def _say(call: CallbackCall, twiml: str, *, digits=None, speech=None) -> str:
    params = call.params(Digits=digits, SpeechResult=speech, Confidence="0.9" if speech else None)
    response = call.twilio.post(_action(twiml), params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _queue(app) -> list[QueueEntry]:
    with app.app_context():
        rows = db.session.scalars(select(QueueEntry)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


@pytest.mark.parametrize(
    ("language", "greeting", "speech_language"),
    [
        ("zh-CN", "王阿姨,您好!这里是长者服务热线的关爱回访。", "zh-CN"),
        ("yue-HK", "王阿姨,您好!呢度系长者服务热线嘅关爱回访。", "yue-HK"),
        ("en-US", "Hello 王阿姨, this is your 长者服务热线 check-in.", "en-US"),
    ],
)
def test_the_elder_is_greeted_by_name_in_their_language(
    app, elder, jobs, fake_calls, twilio, language, greeting, speech_language
):
    _set_language(app, elder, language)
    _call, twiml = _answered(app, jobs, twilio)
    assert greeting in twiml
    assert 'input="dtmf speech"' in twiml and 'numDigits="1"' in twiml
    assert f'language="{speech_language}"' in twiml or "language=" in twiml
    assert "<Enqueue" not in twiml  # no operator needed to ask the question
    [episode] = episodes(app)
    assert f"episode={episode.id}" in _action(twiml) and "turn=0" in _action(twiml)


OK, PERSON, EMERGENCY = "ok", "person", "emergency"


@pytest.mark.parametrize(
    ("language", "digits", "speech", "expected"),
    [
        ("zh-CN", "1", None, OK),
        ("zh-CN", None, "好的", OK),
        ("zh-CN", None, "我没事", OK),
        ("zh-CN", None, "不太好,头有点晕", PERSON),
        ("zh-CN", None, "我摔倒了", EMERGENCY),
        ("zh-CN", "0", None, PERSON),
        ("yue-HK", "1", None, OK),
        ("yue-HK", None, "冇事,几好", OK),
        ("yue-HK", None, "唔系几好", PERSON),
        ("yue-HK", None, "救命", EMERGENCY),
        ("yue-HK", "0", None, PERSON),
        ("en-US", "1", None, OK),
        ("en-US", None, "I'm fine thank you", OK),
        ("en-US", None, "not good", PERSON),
        ("en-US", None, "I have chest pain", EMERGENCY),
        ("en-US", "0", None, PERSON),
    ],
)
def test_keys_and_words_in_three_languages(
    app, elder, jobs, fake_calls, twilio, language, digits, speech, expected
):
    _set_language(app, elder, language)
    call, twiml = _answered(app, jobs, twilio)
    after = _say(call, twiml, digits=digits, speech=speech)
    [episode] = episodes(app)
    queue = _queue(app)
    if expected == OK:
        assert "<Hangup" in after and "<Enqueue" not in after
        assert (episode.status, episode.outcome) == (EpisodeStatus.OK, EpisodeOutcome.OK)
        assert episode.answered_via == ("key" if digits else "speech")
        assert queue == []
    else:
        assert "<Enqueue" in after
        assert (episode.status, episode.outcome) == (EpisodeStatus.HELP, EpisodeOutcome.HELP)
        [entry] = queue
        wanted = Priority.URGENT if expected == EMERGENCY else Priority.CALLBACK
        assert entry.priority == wanted
    if expected == EMERGENCY:
        assert any(n in after for n in ("120", "119", "110"))
    # The call ends: the episode keeps the elder's answer (not a missed attempt).
    call.status("completed", 9, duration=40)
    assert episodes(app)[0].status in (EpisodeStatus.OK, EpisodeStatus.HELP)


def test_silence_twice_reaches_a_person(app, elder, jobs, fake_calls, twilio):
    call, twiml = _answered(app, jobs, twilio)
    again = _say(call, twiml)
    assert "没有听清楚。" in again and "turn=1" in _action(again)
    assert episodes(app)[0].status == EpisodeStatus.CALLING
    after = _say(call, again, digits="7")
    assert "<Enqueue" in after
    [entry] = _queue(app)
    assert entry.priority == Priority.CALLBACK
    assert episodes(app)[0].status == EpisodeStatus.HELP


def test_an_answer_for_another_call_is_refused_without_changes(
    app, elder, jobs, fake_calls, twilio
):
    call, twiml = _answered(app, jobs, twilio)
    stranger = CallbackCall(twilio, call.attempt_id, "CA" + "f" * 32, ELDER_PHONE)
    response = twilio.post(_action(twiml), stranger.params(Digits="1"))
    assert response.status_code == 400
    assert episodes(app)[0].status == EpisodeStatus.CALLING


@pytest.mark.parametrize("query", ["", "episode=1&turn=x", "episode=999&turn=0"])
def test_a_malformed_check_in_answer_gets_a_400_and_changes_nothing(
    app, elder, jobs, fake_calls, twilio, query
):
    call, _twiml = _answered(app, jobs, twilio)
    url = "/twilio/checkins/input" + (f"?{query}" if query else "")
    response = twilio.post(url, call.params(Digits="1"))
    assert response.status_code == 400
    assert episodes(app)[0].status == EpisodeStatus.CALLING


def test_an_unsigned_check_in_answer_is_refused(app, elder, jobs, fake_calls, twilio, client):
    call, twiml = _answered(app, jobs, twilio)
    response = client.post(_action(twiml), data=call.params(Digits="1"))
    assert response.status_code in (401, 403)
    assert episodes(app)[0].status == EpisodeStatus.CALLING


def test_the_question_keeps_to_the_elders_pacing(app, elder, jobs, fake_calls, twilio):
    with app.app_context():
        caller = db.session.get(Caller, elder.caller_id)
        caller.is_hard_of_hearing = True
        caller.speech_rate_percent = 70
        db.session.commit()
    call, twiml = _answered(app, jobs, twilio)
    assert 'timeout="12"' in twiml  # more time to find the key
    assert 'rate="70%"' in twiml and 'rate="85%"' not in twiml
    again = _say(call, twiml)  # silence: the question again, at the same pace
    assert "没有听清楚。" in again
    assert 'timeout="12"' in again
    assert 'rate="70%"' in again and 'rate="85%"' not in again


def test_asking_for_a_person_while_the_line_is_closed_reaches_the_voicemail(
    app, elder, jobs, fake_calls, twilio
):
    from hotline.callbacks.models import CallbackReason, CallbackRequest
    from hotline.lines.models import Line

    with app.app_context():
        line = db.session.get(Line, elder.line_id)
        line.is_open_every_day = False  # Saturday: closed; the elder chose every day
        db.session.commit()
    call, twiml = _answered(app, jobs, twilio)
    after = _say(call, twiml, digits="0")
    assert "<Record" in after and "<Enqueue" not in after
    assert episodes(app)[0].status == EpisodeStatus.HELP
    assert _queue(app) == []
    with app.app_context():
        owed = db.session.scalars(
            select(CallbackRequest).where(CallbackRequest.reason == CallbackReason.VOICEMAIL)
        ).all()
        assert [c.phone_number for c in owed] == [ELDER_PHONE]
