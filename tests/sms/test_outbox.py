"""The outbox: texts are rows, sent by the clock through the real twilio SDK, exactly once,
paced per sender, retried on transient errors, with 21610 final."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.db import db
from hotline.sms.models import OptOutSource, SmsMessage, SmsOptOut, SmsPurpose, SmsStatus
from hotline.sms.outbox import queue_sms, send_due
from sms.fixtures import CALLER_PHONE, LINE_NUMBER, PUBLIC_URL, status_params


def _queue(app, line_id, *, to=CALLER_PHONE, body="工单1 你好", purpose=SmsPurpose.REPLY, **kw):
    with app.app_context():
        message = queue_sms(db.session, to=to, body=body, purpose=purpose, line_id=line_id, **kw)
        db.session.commit()
        return message.id


def _row(app, message_id) -> SmsMessage:
    with app.app_context():
        return db.session.get(SmsMessage, message_id)


@pytest.fixture
def caller(make_caller):
    return make_caller(phone_number=CALLER_PHONE, display_name="王阿姨")


def test_clock_sends_a_queued_text_through_the_real_sdk_field_by_field(
    app, line_id, caller, clock, http_client, texts_sent
):
    message_id = _queue(app, line_id, body="工单20261129-0042 11-29 14:05 已收到您的短信。")
    assert texts_sent() == [], "queueing sends nothing: only the clock does"
    clock.send()
    (request,) = http_client.find("POST", "/Messages.json")
    assert request.auth[0] == "AC" + "1" * 32
    assert texts_sent() == [
        {
            "To": CALLER_PHONE,
            "From": LINE_NUMBER,
            "Body": "工单20261129-0042 11-29 14:05 已收到您的短信。",
            "StatusCallback": f"{PUBLIC_URL}/twilio/sms/status",
        }
    ]
    row = _row(app, message_id)
    assert row.status == SmsStatus.SENT
    assert row.message_sid.startswith("SM") and row.sent_at is not None
    assert row.attempts == 1 and row.lease_expires_at is None
    clock.send()
    assert len(texts_sent()) == 1, "a sent text is never sent again"


def test_a_text_due_later_waits_for_its_time(
    app, line_id, caller, clock, texts_sent, now, time_machine
):
    _queue(app, line_id, send_after=now + timedelta(minutes=5))
    clock.send()
    assert texts_sent() == []
    time_machine.move_to(now + timedelta(minutes=5, seconds=1), tick=False)
    clock.send()
    assert len(texts_sent()) == 1


def test_transient_errors_are_retried_with_a_growing_pause(
    app, line_id, caller, clock, http_client, texts_sent, now, time_machine
):
    failures = {"left": 2}

    def flaky(_form):
        if failures["left"]:
            failures["left"] -= 1
            return 503, {"code": 20503, "message": "Service unavailable", "status": 503}
        return 201, {"sid": "SM" + "a" * 32, "status": "queued"}

    http_client.responses.append((r"POST .*/Messages\.json", flaky))
    message_id = _queue(app, line_id)
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.QUEUED and row.error_code == 20503
    assert row.send_after == now + timedelta(seconds=30)
    clock.send()
    assert len(texts_sent()) == 1, "not before the pause is over"
    time_machine.move_to(now + timedelta(seconds=31), tick=False)
    clock.send()
    row = _row(app, message_id)
    assert row.send_after == now + timedelta(seconds=31 + 60), "the pause doubles"
    time_machine.move_to(now + timedelta(seconds=92), tick=False)
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.SENT and row.attempts == 3
    assert row.message_sid == "SM" + "a" * 32
    assert len(texts_sent()) == 3


def test_gives_up_after_the_last_attempt(
    app, line_id, caller, clock, http_client, now, time_machine
):
    app.config["SMS_MAX_ATTEMPTS"] = 2
    http_client.responses.append(
        (r"POST .*/Messages\.json", (500, {"code": 20500, "message": "Internal", "status": 500}))
    )
    message_id = _queue(app, line_id)
    clock.send()
    time_machine.move_to(now + timedelta(minutes=1), tick=False)
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.FAILED
    assert row.status_reason.startswith("gave up after 2 attempts")


def test_error_21610_is_final_and_opts_the_number_out(
    app, line_id, caller, clock, http_client, texts_sent, caplog
):
    http_client.responses.append(
        (
            r"POST .*/Messages\.json",
            (
                400,
                {
                    "code": 21610,
                    "message": "Attempt to send to unsubscribed recipient",
                    "more_info": "https://www.twilio.com/docs/errors/21610",
                    "status": 400,
                },
            ),
        )
    )
    message_id = _queue(app, line_id, purpose=SmsPurpose.CALLBACK_FAILED)
    clock.send()
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.FAILED and row.error_code == 21610
    assert len(texts_sent()) == 1, "21610 is never retried"
    with app.app_context():
        opt_out = db.session.scalar(select(SmsOptOut).where(SmsOptOut.phone_number == CALLER_PHONE))
        assert opt_out.is_opted_out and opt_out.source == OptOutSource.CARRIER
    # After a carrier opt-out even essential texts are refused, with the reason.
    with caplog.at_level(logging.WARNING, logger="hotline.sms.outbox"):
        later = _row(app, _queue(app, line_id, purpose=SmsPurpose.REPLY))
    assert later.status == SmsStatus.REFUSED
    assert "21610" in later.status_reason
    assert "refused" in caplog.text and "+86*******6701" in caplog.text
    assert CALLER_PHONE not in caplog.text, "numbers are masked in logs"


def test_a_permanent_error_fails_at_once(app, line_id, caller, clock, http_client, texts_sent):
    http_client.responses.append(
        (
            r"POST .*/Messages\.json",
            (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
        )
    )
    message_id = _queue(app, line_id)
    clock.send()
    clock.send()
    row = _row(app, message_id)
    assert (row.status, row.error_code, len(texts_sent())) == (SmsStatus.FAILED, 21211, 1)


def _claimed_by_a_clock_that_died(app, message_id, now):
    with app.app_context():
        row = db.session.get(SmsMessage, message_id)
        row.status = SmsStatus.SENDING
        row.leased_by = "dead-clock"
        row.attempts = 1
        row.lease_expires_at = now + timedelta(seconds=120)
        db.session.commit()


def _twilio_list(*messages):
    """A Messages.list page as Twilio returns it."""
    return 200, {
        "messages": list(messages),
        "end": max(len(messages) - 1, 0),
        "first_page_uri": "/2010-04-01/Accounts/AC/Messages.json?PageSize=20&Page=0",
        "next_page_uri": None,
        "page": 0,
        "page_size": 20,
        "previous_page_uri": None,
        "start": 0,
        "uri": "/2010-04-01/Accounts/AC/Messages.json?PageSize=20&Page=0",
    }


def test_a_crashed_clocks_lease_expires_and_another_clock_sends_the_text(
    app, line_id, caller, http_client, texts_sent, now, time_machine
):
    http_client.responses.append((r"GET .*/Messages\.json", _twilio_list()))
    message_id = _queue(app, line_id)
    _claimed_by_a_clock_that_died(app, message_id, now)
    with app.app_context():
        assert send_due(db.session, clock="other").handled == 0, "the lease is still held"
        time_machine.move_to(now + timedelta(seconds=121), tick=False)
        result = send_due(db.session, clock="other")
    assert result.sent == [message_id]
    (asked,) = http_client.find("GET", "/Messages.json")
    assert asked.params == {"To": CALLER_PHONE, "From": LINE_NUMBER, "PageSize": 20}
    assert len(texts_sent()) == 1
    assert _row(app, message_id).attempts == 2


def test_a_takeover_does_not_resend_a_text_twilio_already_has(
    app, line_id, caller, http_client, texts_sent, now, time_machine
):
    message_id = _queue(app, line_id, body="工单1 你好")
    _claimed_by_a_clock_that_died(app, message_id, now)
    earlier = {
        "sid": "SM" + "f" * 32,
        "body": "工单1 你好",
        "to": CALLER_PHONE,
        "from": LINE_NUMBER,
        "status": "delivered",
        "date_created": "Sun, 29 Nov 2026 06:05:01 +0000",
    }
    older = {**earlier, "sid": "SM" + "0" * 32, "date_created": "Sat, 28 Nov 2026 06:05:01 +0000"}
    http_client.responses.append((r"GET .*/Messages\.json", _twilio_list(earlier, older)))
    time_machine.move_to(now + timedelta(seconds=121), tick=False)
    with app.app_context():
        result = send_due(db.session, clock="other")
    assert result.sent == [message_id]
    assert texts_sent() == [], "Twilio had it already: not sent twice"
    row = _row(app, message_id)
    assert (row.status, row.message_sid) == (SmsStatus.SENT, "SM" + "f" * 32)


def test_after_a_network_error_the_retry_asks_twilio_before_sending_again(
    app, line_id, caller, clock, http_client, texts_sent, now, time_machine
):
    """The request may have reached Twilio and only the answer got lost."""
    calls = {"n": 0}

    def lost_answer(form):
        calls["n"] += 1
        raise ConnectionError("read timed out")

    http_client.responses.append((r"POST .*/Messages\.json", lost_answer))
    accepted = {
        "sid": "SM" + "b" * 32,
        "body": "工单1 你好",
        "to": CALLER_PHONE,
        "from": LINE_NUMBER,
        "status": "sent",
        "date_created": "Sun, 29 Nov 2026 06:05:00 +0000",
    }
    http_client.responses.append((r"GET .*/Messages\.json", _twilio_list(accepted)))
    message_id = _queue(app, line_id, body="工单1 你好")
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.QUEUED and "read timed out" in row.status_reason
    time_machine.move_to(now + timedelta(seconds=31), tick=False)
    clock.send()
    row = _row(app, message_id)
    assert (row.status, row.message_sid) == (SmsStatus.SENT, "SM" + "b" * 32)
    assert calls["n"] == 1, "not sent a second time"


def test_texts_are_paced_per_sender(app, line_id, caller, clock, texts_sent, now, time_machine):
    app.config["SMS_SEGMENTS_PER_SECOND"] = 1
    app.config["SMS_PACING_WINDOW_SECONDS"] = 10
    app.config["SMS_DAILY_CAP_PER_NUMBER"] = 20
    for i in range(12):
        _queue(app, line_id, body=f"第{i}条")
    clock.send()
    assert len(texts_sent()) == 10, "one segment a second over a 10 s window"
    clock.send()
    assert len(texts_sent()) == 10
    time_machine.move_to(now + timedelta(seconds=11), tick=False)
    clock.send()
    assert len(texts_sent()) == 12


def test_status_callbacks_move_a_text_forward_only(app, line_id, caller, clock, twilio):
    message_id = _queue(app, line_id)
    clock.send()
    sid = _row(app, message_id).message_sid
    for status in ("sent", "delivered", "sent", "queued"):
        assert twilio.post("/twilio/sms/status", status_params(sid, status)).status_code == 204
    row = _row(app, message_id)
    assert (row.status, row.twilio_status) == (SmsStatus.DELIVERED, "delivered")
    twilio.post("/twilio/sms/status", status_params(sid, "undelivered", "30003"))
    assert _row(app, message_id).status == SmsStatus.DELIVERED, "a final status stays"


def test_undelivered_with_21610_in_the_status_callback_opts_out(
    app, line_id, caller, clock, twilio
):
    message_id = _queue(app, line_id)
    clock.send()
    sid = _row(app, message_id).message_sid
    twilio.post("/twilio/sms/status", status_params(sid, "failed", "21610"))
    row = _row(app, message_id)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, 21610)
    with app.app_context():
        assert db.session.scalar(select(SmsOptOut.source)) == OptOutSource.CARRIER


def test_a_status_callback_that_outruns_the_send_is_applied_afterwards(
    app, line_id, caller, clock, twilio, http_client
):
    early_sid = "SM" + "e" * 32
    http_client.responses.append(
        (r"POST .*/Messages\.json", (201, {"sid": early_sid, "status": "queued"}))
    )
    twilio.post("/twilio/sms/status", status_params(early_sid, "delivered"))
    message_id = _queue(app, line_id)
    clock.send()
    assert _row(app, message_id).status == SmsStatus.DELIVERED


def test_status_callback_needs_a_valid_signature_and_a_sid(app, twilio):
    params = status_params("SM" + "1" * 32, "delivered")
    assert twilio.post("/twilio/sms/status", params, signature="forged").status_code == 403
    assert twilio.post("/twilio/sms/status", {"MessageStatus": "sent"}).status_code == 400
    assert twilio.post("/twilio/sms/status", params).status_code == 204, "unknown sid: no error"


# --------------------------------------------------------------------------- refusals


def test_texts_to_unknown_or_foreign_numbers_are_refused_with_a_logged_reason(
    app, line_id, caller, clock, texts_sent, caplog
):
    cases = [
        ("+442071838750", "country code +44 is not allowed (allowed: +86)"),
        ("+8613900000077", "number not linked to a caller, case, supervisor or volunteer"),
        ("not a number", "not an E.164 number"),
    ]
    with caplog.at_level(logging.WARNING, logger="hotline.sms.outbox"):
        rows = [_row(app, _queue(app, line_id, to=to)) for to, _reason in cases]
    for row, (_to, reason) in zip(rows, cases, strict=True):
        assert (row.status, row.status_reason) == (SmsStatus.REFUSED, reason)
        assert reason in caplog.text
    clock.send()
    assert texts_sent() == []


def test_allowed_country_codes_are_configurable(app, line_id, make_caller, clock, texts_sent):
    make_caller(phone_number="+85291234567")
    assert _row(app, _queue(app, line_id, to="+85291234567")).status == SmsStatus.REFUSED
    app.config["SMS_ALLOWED_COUNTRY_CODES"] = (86, 852)
    assert _row(app, _queue(app, line_id, to="+85291234567")).status == SmsStatus.QUEUED


def test_a_text_with_a_link_is_refused(app, line_id, caller):
    row = _row(app, _queue(app, line_id, body="请点击 http://example.cn/x 领取"))
    assert (row.status, row.status_reason) == (SmsStatus.REFUSED, "the text contains a link")


def test_staff_texts_go_to_registered_supervisors_only(app, line_id, caller):
    row = _row(app, _queue(app, line_id, purpose=SmsPurpose.SUPERVISOR_ALERT))
    assert row.status == SmsStatus.REFUSED
    assert row.status_reason == "supervisor_alert goes to registered supervisors only"


def test_daily_cap_per_destination_counts_only_texts_that_may_go(app, line_id, caller, caplog):
    app.config["SMS_DAILY_CAP_PER_NUMBER"] = 3
    _queue(app, line_id, body="http://x.cn")  # refused (a link): does not count
    statuses = [_row(app, _queue(app, line_id, body=f"{i}")).status for i in range(4)]
    assert statuses == [SmsStatus.QUEUED] * 3 + [SmsStatus.REFUSED]
    assert "daily cap of 3 texts to this number reached" in caplog.text


def test_daily_cap_resets_at_local_midnight(app, line_id, caller, now, time_machine):
    app.config["SMS_DAILY_CAP_PER_NUMBER"] = 1
    assert _row(app, _queue(app, line_id)).status == SmsStatus.QUEUED
    # 23:59 Shanghai is still the same day...
    time_machine.move_to(now.replace(hour=15, minute=59), tick=False)
    assert _row(app, _queue(app, line_id)).status == SmsStatus.REFUSED
    # ...00:00 Shanghai (16:00 UTC) is a new one.
    time_machine.move_to(now.replace(hour=16, minute=0), tick=False)
    assert _row(app, _queue(app, line_id)).status == SmsStatus.QUEUED


def test_daily_cap_per_line(app, line_id, make_caller):
    app.config["SMS_DAILY_CAP_PER_LINE"] = 2
    app.config["SMS_DAILY_RESERVE_PER_LINE"] = 0  # the reserve: tests/security
    numbers = [f"+86131234567{i:02d}" for i in range(3)]
    for number in numbers:
        make_caller(phone_number=number)
    rows = [_row(app, _queue(app, line_id, to=n)) for n in numbers]
    assert [r.status for r in rows] == [SmsStatus.QUEUED, SmsStatus.QUEUED, SmsStatus.REFUSED]
    assert rows[2].status_reason == "daily cap of 2 texts for this line reached"


def test_a_stop_that_arrives_before_sending_is_respected(app, line_id, caller, clock, texts_sent):
    from hotline.sms.outbox import mark_opted_out

    message_id = _queue(app, line_id, purpose=SmsPurpose.CHECK_IN)
    with app.app_context():
        mark_opted_out(db.session, CALLER_PHONE, source=OptOutSource.KEYWORD, trigger="TD")
        db.session.commit()
    clock.send()
    row = _row(app, message_id)
    assert row.status == SmsStatus.REFUSED and "opted out (TD)" in row.status_reason
    assert texts_sent() == []


def test_outbox_rows_keep_segments_and_sender(app, line_id, caller):
    row = _row(app, _queue(app, line_id, body="中" * 71))
    assert (row.segments, row.from_number) == (2, LINE_NUMBER)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SmsMessage)) == 1
