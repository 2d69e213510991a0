"""The humane wait, through signed webhooks: position and estimate, `*`, the callback offer,
the wait cap."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.calls.models import CallOutcome
from hotline.db import db
from hotline.queue.models import QueueStatus
from hotline.queue.twiml import LISTEN_SECONDS

from .queue_support import *  # noqa: F403
from .queue_support import (
    call_of,
    entry_of,
    press,
    queue_exit,
    reach_queue,
    spoken,
    wait,
    xml,
)

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai


def _callbacks(app) -> list[CallbackRequest]:
    with app.app_context():
        rows = list(db.session.scalars(select(CallbackRequest)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_waiting_caller_hears_position_and_estimate_slowly_with_no_music(app, twilio):
    queued = reach_queue(twilio, app, first_wait=False)
    root = xml(wait(twilio, queued))
    gather = root.find("Gather")
    assert gather is not None and gather.get("input") == "dtmf speech"
    assert int(gather.get("timeout")) >= 8, "older callers need time to press a key"
    text = spoken(gather)
    assert "下一位就是您" in text and "分钟" in text
    assert "星号键" in text, "the first announcement says how to repeat it"
    assert all(p.get("rate") == "85%" for p in root.iter("prosody"))
    assert not list(root.iter("Play")), "no music anywhere in the wait"
    assert root.find("Redirect") is not None
    assert entry_of(app, queued.entry_id).queue_sid is not None


def test_announcements_come_round_every_60_to_90_seconds(app, twilio):
    queued = reach_queue(twilio, app, first_wait=False)
    root = xml(wait(twilio, queued))
    quiet = root.find("Gather[2]")
    pause = int(quiet.find("Pause").get("length"))
    speech_seconds = (
        len(spoken(root.find("Gather"))) / 4
    )  # about 4 Chinese syllables a second at 85 %
    cycle = speech_seconds + LISTEN_SECONDS + pause + int(quiet.get("timeout"))
    assert 60 <= cycle <= 90, cycle


def test_every_gather_of_the_wait_waits_8_to_10_seconds_for_a_key(app, twilio):
    """Mission rule 4 holds in the queue too: no Gather cuts a slow key press off."""
    queued = reach_queue(twilio, app, first_wait=False)
    gathers = xml(wait(twilio, queued)).findall(".//Gather")
    assert len(gathers) == 2
    assert all(8 <= int(gather.get("timeout")) <= 10 for gather in gathers)


def test_third_caller_hears_they_are_third(app, twilio):
    reach_queue(twilio, app, from_="+8613123456791")
    reach_queue(twilio, app, from_="+8613123456792")
    third = reach_queue(twilio, app, from_="+8613123456793", first_wait=False)
    assert "您现在排在第3位" in spoken(xml(wait(twilio, third)))


def test_star_repeats_the_announcement(app, twilio):
    queued = reach_queue(twilio, app, first_wait=False)
    first = wait(twilio, queued)
    again = xml(press(twilio, queued, first, digits="*"))
    assert "下一位就是您" in spoken(again.find("Gather"))


def test_other_keys_keep_the_caller_waiting_quietly(app, twilio):
    queued = reach_queue(twilio, app, first_wait=False)
    first = wait(twilio, queued)
    quiet = xml(press(twilio, queued, first, digits="5"))
    assert quiet.find("Leave") is None
    assert "下一位" not in spoken(quiet)
    assert quiet.find("Gather/Pause") is not None and quiet.find("Redirect") is not None


def test_no_callback_offer_before_the_configured_wait(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, first_wait=False)
        clock.shift(60)
        document = wait(twilio, queued)
        assert "回电" not in spoken(xml(document))
        assert xml(press(twilio, queued, document, digits="1")).find("Leave") is None
    assert entry_of(app, queued.entry_id).status == QueueStatus.WAITING
    assert _callbacks(app) == []


def test_round_ends_in_time_for_the_callback_offer(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, first_wait=False)
        clock.shift(150)  # the offer is due at 180 s
        root = xml(wait(twilio, queued))
        assert int(root.find("Gather[2]/Pause").get("length")) <= 30 - 20 + 5


def test_pressing_1_after_the_offer_leaves_with_a_callback_keeping_the_place(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, from_="+8613123456788", first_wait=False)
        arrived = entry_of(app, queued.entry_id).arrived_at
        clock.shift(181)
        document = wait(twilio, queued)
        root = xml(document)
        assert "请按1" in spoken(root) and "回电" in spoken(root)
        assert "回电" in root.find("Gather").get("hints")
        assert xml(press(twilio, queued, document, digits="1")).find("Leave") is not None
        goodbye = xml(queue_exit(twilio, queued, "leave", queue_time=181))
    assert "按您排队的先后给您回电话" in spoken(goodbye)
    assert goodbye.find("Hangup") is not None
    [callback] = _callbacks(app)
    assert callback.reason == CallbackReason.VIRTUAL_HOLD
    assert callback.phone_number == "+8613123456788"
    assert callback.original_arrival_at == arrived
    assert entry_of(app, queued.entry_id).status == QueueStatus.CALLBACK
    assert call_of(app, queued.sid).outcome == CallOutcome.CALLBACK_REQUESTED


def test_saying_huidian_takes_the_callback(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, first_wait=False)
        clock.shift(200)
        document = wait(twilio, queued)
        assert xml(press(twilio, queued, document, speech="我要回电。")).find("Leave") is not None
    assert [c.reason for c in _callbacks(app)] == [CallbackReason.VIRTUAL_HOLD]


def test_wait_cap_moves_the_caller_to_voicemail_and_a_callback(app, twilio):
    with time_machine.travel(START, tick=False) as clock:
        queued = reach_queue(twilio, app, first_wait=False)
        clock.shift(1201)
        assert xml(wait(twilio, queued)).find("Leave") is not None
        voicemail = xml(queue_exit(twilio, queued, "leave", queue_time=1201))
    assert voicemail.find("Record") is not None
    assert voicemail.find("Record").get("action").startswith("/twilio/voice/recorded")
    assert "让您久等了" in spoken(voicemail)
    [callback] = _callbacks(app)
    assert callback.reason == CallbackReason.VOICEMAIL and "wait cap" in callback.note
    assert entry_of(app, queued.entry_id).status == QueueStatus.VOICEMAIL
    assert call_of(app, queued.sid).outcome == CallOutcome.WAIT_CAP


def test_a_full_twilio_queue_still_reaches_voicemail_and_a_callback(app, twilio):
    queued = reach_queue(twilio, app)
    root = xml(queue_exit(twilio, queued, "queue-full"))
    assert root.find("Record") is not None
    assert [c.reason for c in _callbacks(app)] == [CallbackReason.VOICEMAIL]


def test_cantonese_caller_waits_in_cantonese(app, twilio):
    from .queue_support import follow

    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, from_="+8613123456787")
    menu = follow(twilio, twilio.post("/twilio/voice", params), params, digits="9")
    person = xml(follow(twilio, menu, params, digits="0"))
    assert "lang=yue-HK" in person.find("Enqueue").get("waitUrl")
    response = twilio.post(
        "/twilio/voice/wait?lang=yue-HK",
        {**params, "CallStatus": "in-progress", "QueueSid": "QU" + "b" * 32, "QueueTime": "0"},
    )
    root = xml(response)
    assert "下一位就到您" in spoken(root)
    assert root.find("Gather").get("language") == "zh-HK"
