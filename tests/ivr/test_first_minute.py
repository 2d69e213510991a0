"""The first minute of a call (issue 17), measured through the signed voice webhooks.

Each journey of bench/first_minute.py is played as Twilio would play it; the assertions are on
what the caller heard (seconds of speech, prompts, requests) and on what the hotline recorded
(queue priority, scenario, callbacks, the menu path the operator sees).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import select

from bench.first_minute import Journey, journeys, run, table
from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.db import db
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority

LANGUAGES = ["zh-CN", "yue-HK", "en-US"]
WHO = {"zh-CN": "new", "yue-HK": "known", "en-US": "known"}


def _play(app, twilio, journey):
    return run(app, twilio.post, journey)


def _call(sid) -> Call:
    return db.session.scalar(select(Call).where(Call.call_sid == sid))


def _entry(sid) -> QueueEntry | None:
    call = _call(sid)
    return db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call.id))


@pytest.mark.parametrize("language", LANGUAGES)
def test_silence_reaches_a_person_in_two_prompts_and_under_30_s(app, twilio, language):
    outcome = _play(app, twilio, Journey("silence", language, (), WHO[language]))
    assert outcome.end == "queue"
    assert outcome.prompts == 2
    assert outcome.seconds_85 < 30, outcome.seconds_85
    with app.app_context():
        assert _call(outcome.sid).menu_path[-1]["result"] == "timeout_twice"


@pytest.mark.parametrize("language", LANGUAGES)
def test_invalid_keys_reach_a_person_in_two_prompts_and_under_30_s(app, twilio, language):
    outcome = _play(app, twilio, Journey("invalid", language, ("6", "6"), WHO[language]))
    assert (outcome.end, outcome.prompts) == ("queue", 2)
    assert outcome.seconds_85 < 30


@pytest.mark.parametrize("language", LANGUAGES)
def test_0_at_the_first_second_reaches_the_queue_in_one_request(app, twilio, language):
    outcome = _play(app, twilio, Journey("0", language, ("0",), WHO[language], at_once=True))
    assert (outcome.end, outcome.requests) == ("queue", 1)
    assert outcome.seconds_85 < 6, "a second of the first prompt, then 'putting you through'"


def test_the_first_prompt_offers_a_person_and_the_languages_and_waits_9_s(app, twilio):
    sid = twilio.new_call_sid()
    root = ET.fromstring(twilio.post("/twilio/voice", twilio.call_params(sid)).get_data())
    gather = root.find("Gather")
    spoken = "".join(gather.itertext())
    assert spoken.startswith("您好,这里是长者服务热线。找人工服务,请按0")
    assert "讲广东话,请按9" in spoken and "For English, press 8" in spoken
    assert gather.get("input") == "dtmf speech"
    assert gather.get("timeout") == "9"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_gather_of_every_journey_waits_8_to_10_seconds(app, twilio, language):
    timeouts: list[int] = []

    def post(path, params):
        response = twilio.post(path, params)
        root = ET.fromstring(response.get_data())
        timeouts.extend(int(g.get("timeout")) for g in root.iter("Gather"))
        return response

    for journey in (j for j in journeys() if j.language == language):
        assert run(app, post, journey).end in ("queue", "voicemail", "hangup")
    assert len(timeouts) > 10
    assert all(8 <= t <= 10 for t in timeouts), timeouts


@pytest.mark.parametrize("language", LANGUAGES)
def test_medical_words_at_the_first_prompt_reach_the_medical_choice(app, twilio, language):
    said = {"zh-CN": "我想看病", "yue-HK": "我想睇医生", "en-US": "I need a doctor"}[language]
    outcome = _play(app, twilio, Journey("看病", language, (said,), WHO[language]))
    assert (outcome.end, outcome.requests) == ("queue", 1)
    with app.app_context():
        call = _call(outcome.sid)
        assert call.scenario == "medical"
        assert call.language == language, "not a language switch"


@pytest.mark.parametrize(
    ("language", "said", "number"),
    [
        ("zh-CN", "救命,我摔倒了", "120"),
        ("zh-CN", "我喘不上气", "120"),
        ("zh-CN", "家里着火了", "119"),
        ("zh-CN", "有人闯进来了", "110"),
        ("yue-HK", "救命,我跌倒咗", "120"),
        ("en-US", "Help me, I fell", "120"),
        ("en-US", "there is a fire in the kitchen", "119"),
    ],
)
def test_an_emergency_phrase_at_the_first_prompt_is_urgent_in_one_request(
    app, twilio, language, said, number
):
    outcome = _play(
        app, twilio, Journey("emergency", language, (said,), WHO[language], at_once=True)
    )
    assert (outcome.end, outcome.requests) == ("queue", 1)
    last = outcome.said[-1]
    assert number in last, "one sentence with the number to dial, last before the queue"
    assert outcome.seconds_85 < 16
    with app.app_context():
        entry = _entry(outcome.sid)
        assert entry.priority == Priority.URGENT
        assert entry.priority_reason == "emergency"
        assert _call(outcome.sid).scenario == "emergency"
        assert _call(outcome.sid).menu_path[-1]["result"].startswith("emergency:")


def test_an_emergency_phrase_in_a_submenu_is_heard_too(app, twilio):
    sid = twilio.new_call_sid()
    params = {**twilio.call_params(sid), "CallStatus": "in-progress"}
    first = ET.fromstring(twilio.post("/twilio/voice", params).get_data())
    sub = ET.fromstring(
        twilio.post(first.find("Gather").get("action"), {**params, "Digits": "2"}).get_data()
    )
    assert "社保" in "".join(sub.itertext())
    url = sub.find("Gather").get("action")
    root = ET.fromstring(
        twilio.post(url, {**params, "SpeechResult": "胸口痛", "Confidence": "0.4"}).get_data()
    )
    assert root.find("Enqueue") is not None
    assert "120" in "".join(root.itertext())
    with app.app_context():
        assert _entry(sid).priority == Priority.URGENT


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_registered_elder_goes_straight_to_a_person(app, twilio, language):
    outcome = _play(app, twilio, Journey("elder", language, (), "elder"))
    assert (outcome.end, outcome.requests, outcome.prompts) == ("queue", 0, 0)
    assert outcome.seconds_85 < 12
    with app.app_context():
        assert _entry(outcome.sid).priority == Priority.OLDER


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_blocked_caller_gets_the_voicemail_and_no_queue_place(app, twilio, language):
    outcome = _play(app, twilio, Journey("blocked", language, (), "blocked"))
    assert (outcome.end, outcome.prompts) == ("voicemail", 0)
    heard = outcome.heard.lower()
    for word in ("block", "限制", "拉黑", "abusive", "下班", "closed"):
        assert word not in heard, "nothing tells them why (nor a false reason)"
    with app.app_context():
        assert _entry(outcome.sid) is None
        call = _call(outcome.sid)
        assert call.menu_path[0]["result"] == "blocked", "operators see that they called"


def test_an_expired_block_no_longer_applies(app, twilio):
    from hotline.timeutil import utcnow

    outcome = _play(app, twilio, Journey("blocked", "zh-CN", ("0",), "blocked"))
    assert outcome.end == "voicemail"
    with app.app_context():
        caller = db.session.scalar(
            select(Caller).where(Caller.phone_number == _call(outcome.sid).from_number)
        )
        caller.restriction_until = utcnow() - timedelta(minutes=1)
        db.session.commit()
        number = caller.phone_number
    sid = twilio.new_call_sid()
    root = ET.fromstring(
        twilio.post("/twilio/voice", twilio.call_params(sid, from_=number)).get_data()
    )
    assert root.find("Gather") is not None and root.find("Record") is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_family_proxy_is_greeted_for_their_elder_and_reaches_a_person(app, twilio, language):
    outcome = _play(app, twilio, Journey("family", language, ("0",), "family"))
    elder = {"zh-CN": "王阿姨", "yue-HK": "陈伯", "en-US": "Mrs Wang"}[language]
    assert elder in outcome.said[0]
    assert "5" not in outcome.said[1], "no callback offer without the permission"
    assert (outcome.end, outcome.requests) == ("queue", 1)
    with app.app_context():
        assert _call(outcome.sid).menu_path[0]["proxy_for"] == elder


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_family_proxy_may_ask_for_a_callback_to_the_elder(app, twilio, language):
    outcome = _play(app, twilio, Journey("family", language, ("5",), "family_callbacks"))
    assert outcome.end == "hangup"
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        elder = db.session.get(Caller, callback.caller_id)
        assert callback.reason == CallbackReason.FAMILY
        assert callback.phone_number == elder.phone_number
        assert "女儿" in callback.note
        assert _entry(outcome.sid) is None


def test_key_5_from_a_family_proxy_without_the_permission_is_not_a_callback(app, twilio):
    outcome = _play(app, twilio, Journey("family", "zh-CN", ("5", "0"), "family"))
    assert outcome.end == "queue"
    with app.app_context():
        assert db.session.scalar(select(CallbackRequest)) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_no_menu_line_puts_the_caller_through_and_keeps_their_words(app, twilio, language):
    said = {"zh-CN": "我想问养老金", "yue-HK": "我想问长者津贴", "en-US": "my pension"}[language]
    outcome = _play(app, twilio, Journey("nomenu", language, (said,), WHO[language], "nomenu"))
    assert (outcome.end, outcome.prompts) == ("queue", 1)
    assert outcome.seconds_85 < 15
    with app.app_context():
        path = _call(outcome.sid).menu_path
        assert path[-1] == {"node": "ask", "input": said, "result": "noted"}
    silent = _play(app, twilio, Journey("nomenu", language, (), WHO[language], "nomenu"))
    assert (silent.end, silent.prompts) == ("queue", 1)


def test_the_journey_table_has_a_row_per_journey():
    rows = table([]).splitlines()
    assert rows[0].startswith("| journey | language |")
    assert len(journeys()) == 3 * 11 + 1


def test_seed_demo_seeds_one_line_of_each_intake_kind(app):
    from hotline.lines.models import Line
    from hotline.seed import seed_demo_data

    with app.app_context():
        db.session.delete(db.session.scalar(select(Line)))
        db.session.commit()
        seed_demo_data(db.session)
        assert sorted(db.session.scalars(select(Line.script_key))) == ["main", "main", "nomenu"]
        # The third demo line is the key menu again, recording conversations (the first line
        # stays as the first minute is measured).
        recording = {
            line.key: line.is_recording_enabled for line in db.session.scalars(select(Line))
        }
        assert recording == {"main": False, "nomenu": False, "recorded": True}
