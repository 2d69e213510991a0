"""Caller journeys through signed webhooks: the elderly-first rules, end to end."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from sqlalchemy import func, select

from conftest import follow
from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers.models import Caller
from hotline.calls.models import Call, CallStatus, WebhookEvent
from hotline.cases.models import AuditEntry
from hotline.db import db


def _xml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    return ET.fromstring(response.get_data())


def _spoken(root: ET.Element) -> str:
    return "".join(root.itertext())


def _start(twilio, **kw):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid, **kw)
    return sid, params, twilio.post("/twilio/voice", params)


def _preference_audits(caller_id: int) -> list[tuple[str, dict]]:
    """The caller's audited preference changes: (actor, what changed to)."""
    rows = db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.entity == "caller",
            AuditEntry.entity_id == caller_id,
            AuditEntry.action == "preferences_set",
        )
        .order_by(AuditEntry.id)
    )
    return [(row.actor, row.after) for row in rows]


def _call(app, sid) -> Call:
    with app.app_context():
        return db.session.scalar(select(Call).where(Call.call_sid == sid))


def _to_main_menu(twilio, params, first):
    """The first answer is already the main menu (no separate language prompt)."""
    root = _xml(first)
    assert "找人工服务,请按0" in _spoken(root)
    return first


def test_first_prompt_greets_and_offers_a_person(twilio):
    _sid, params, response = _start(twilio)
    root = _xml(response)
    assert "长者服务热线" in _spoken(root)
    menu = _to_main_menu(twilio, params, response)
    gather = _xml(menu).find("Gather")
    assert int(gather.get("timeout")) >= 8, "older callers need 8-10 s to press a key"
    assert gather.get("input") == "dtmf speech"
    prosody = gather.find("Say/prosody")
    assert prosody is not None and prosody.get("rate") == "85%"


def test_key_0_reaches_the_operator_queue(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    root = _xml(follow(twilio, menu, params, digits="0"))
    assert root.find("Enqueue") is not None
    assert root.find("Enqueue").text == "line-main"
    call = _call(app, sid)
    assert call.queued_at is not None
    assert call.menu_path[-1]["result"] == "choice:0"


def test_silence_twice_reaches_the_operator_queue(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    again = _xml(follow(twilio, menu, params))
    assert "没有听清楚" in _spoken(again), "the first silence gets a gentle repeat"
    assert again.find("Gather") is not None
    root = _xml(follow(twilio, _resp(again), params))
    assert root.find("Enqueue") is not None
    assert _call(app, sid).menu_path[-1]["result"] == "timeout_twice"


def _resp(root):
    """Wrap an already-parsed document so follow() can read it again."""

    class _R:
        def get_data(self, as_text=False):
            data = ET.tostring(root, encoding="unicode")
            return data if as_text else data.encode()

    return _R()


def test_invalid_key_twice_reaches_the_operator_queue(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    again = _xml(follow(twilio, menu, params, digits="7"))
    assert "没有听清楚" in _spoken(again)
    root = _xml(follow(twilio, _resp(again), params, digits="6"))
    assert root.find("Enqueue") is not None
    assert _call(app, sid).menu_path[-1]["result"] == "invalid_twice"


def test_star_repeats_without_counting_as_a_mistake(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    repeat = _xml(follow(twilio, menu, params, digits="*"))
    assert "找人工服务,请按0" in _spoken(repeat)
    once_wrong = _xml(follow(twilio, _resp(repeat), params, digits="7"))
    assert once_wrong.find("Gather") is not None, "one mistake after * is still only one"


def test_spoken_kanbing_reaches_the_medical_choice(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    root = _xml(follow(twilio, menu, params, speech="我想看病。"))
    assert root.find("Enqueue") is not None
    assert _call(app, sid).scenario == "medical"


def test_submenu_choice_records_the_scenario(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    sub = _xml(follow(twilio, menu, params, digits="3"))
    assert "手机和智能设备" in _spoken(sub)
    root = _xml(follow(twilio, _resp(sub), params, digits="2"))
    assert root.find("Enqueue") is not None
    assert _call(app, sid).scenario == "smart_devices"


def test_known_caller_is_greeted_by_name(twilio, make_caller):
    make_caller(phone_number="+8613123456702", display_name="李先生")
    _sid, _params, response = _start(twilio, from_="+8613123456702")
    assert "李先生,您好" in _spoken(_xml(response))


def test_straight_to_person_skips_the_menu(app, twilio, make_caller):
    make_caller(
        phone_number="+8613123456701",
        display_name="王阿姨",
        is_older_caller=True,
        is_straight_to_person=True,
    )
    sid, _params, response = _start(twilio, from_="+8613123456701")
    root = _xml(response)
    assert root.find("Gather") is None
    assert root.find("Enqueue") is not None
    assert "王阿姨,您好" in _spoken(root)
    assert _call(app, sid).menu_path[0]["result"] == "straight_to_person"


def test_choosing_always_a_person_is_remembered(app, twilio):
    sid, params, response = _start(twilio, from_="+8613123456705")
    menu = _to_main_menu(twilio, params, response)
    root = _xml(follow(twilio, menu, params, digits="4"))
    assert root.find("Enqueue") is not None
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == "+8613123456705"))
        assert caller.is_straight_to_person and caller.is_older_caller
        # Through the audited preference change, as the caller's own choice.
        assert _preference_audits(caller.id) == [
            ("caller", {"is_older_caller": True, "is_straight_to_person": True})
        ]
    _sid2, _p2, again = _start(twilio, from_="+8613123456705")
    assert _xml(again).find("Enqueue") is not None


def test_cantonese_choice_switches_language_and_is_remembered(app, twilio):
    sid, params, response = _start(twilio, from_="+8613123456706")
    root = _xml(follow(twilio, response, params, digits="9"))
    assert "搵人工服务" in _spoken(root)
    with app.app_context():
        caller = db.session.scalar(select(Caller).where(Caller.phone_number == "+8613123456706"))
        assert caller.language == "yue-HK"
        assert _preference_audits(caller.id) == [("caller", {"language": "yue-HK"})]


def test_looping_caller_is_sent_to_a_person(app, twilio):
    sid, params, response = _start(twilio)
    current = _to_main_menu(twilio, params, response)
    for _ in range(20):
        root = _xml(current)
        if root.find("Enqueue") is not None:
            break
        current = follow(twilio, current, params, digits="*")
    else:
        raise AssertionError("a caller pressing * forever was never sent to a person")
    assert _call(app, sid).menu_path[-1]["result"] == "loop_cap"


def test_duplicate_webhook_gets_the_same_answer_and_is_applied_once(app, twilio):
    sid, params, response = _start(twilio)
    menu = _to_main_menu(twilio, params, response)
    first = follow(twilio, menu, params, digits="7")
    second = follow(twilio, menu, params, digits="7")
    assert first.get_data() == second.get_data()
    assert _call(app, sid).node_failures == 1


def test_closed_line_sends_the_caller_to_voicemail_and_a_callback(app, twilio):
    from hotline.lines.models import Line

    with app.app_context():
        line = db.session.scalar(select(Line))
        line.is_open_every_day = False
        from datetime import time

        line.opens_at, line.closes_at = time(0, 0), time(0, 1)
        db.session.commit()
    sid, params, response = _start(twilio, from_="+8613123456707")
    root = _xml(response)
    assert root.find("Record") is not None, "closed: the voicemail in the first answer"
    assert "下班时间" in _spoken(root)
    with app.app_context():
        cb = db.session.scalar(select(CallbackRequest))
        assert cb.reason == CallbackReason.VOICEMAIL
        assert cb.phone_number == "+8613123456707"
    rec = twilio.post(
        "/twilio/voice/recorded?lang=zh-CN",
        {**params, "RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingDuration": "12"},
    )
    assert _xml(rec).find("Hangup") is not None
    assert _call(app, sid).recording_url.endswith("RE1")


def test_unsigned_forged_and_tampered_requests_get_403_and_write_nothing(app, twilio):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid)
    assert twilio.post("/twilio/voice", params, signature="").status_code == 403
    assert twilio.post("/twilio/voice", params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    good = twilio.sign("http://localhost/twilio/voice", params)
    tampered = {**params, "From": "+8613999999999"}
    assert twilio.post("/twilio/voice", tampered, signature=good).status_code == 403
    assert twilio.post("/twilio/no-such-url", params).status_code == 404
    assert twilio.post("/twilio/no-such-url", params, signature="").status_code == 403
    with app.app_context():
        for model in (Call, Caller, WebhookEvent):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0


def test_missing_callsid_is_a_400_with_no_rows(app, twilio):
    response = twilio.post("/twilio/voice", {"From": "+8613123456701", "To": "+861012345678"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 0
        assert db.session.scalar(select(func.count()).select_from(Caller)) == 0


def test_status_callbacks_duplicate_and_reversed_end_in_the_same_state(app, twilio):
    sid, params, _response = _start(twilio)
    events = [("initiated", 0), ("ringing", 1), ("in-progress", 2), ("completed", 3)]
    for status, seq in reversed(events + events):
        extra = {"CallDuration": "42"} if status == "completed" else {}
        r = twilio.post(
            "/twilio/voice/status",
            {**params, "CallStatus": status, "SequenceNumber": str(seq), **extra},
        )
        assert r.status_code == 204
    call = _call(app, sid)
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == 42
