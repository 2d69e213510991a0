"""The console's callbacks page: pending callbacks with who, why, due, attempts and last
outcome; call now, reschedule, cancel with a reason, schedule; bilingual; CSRF; roles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.db import db

from .conftest import dispatch, get_callback, local, login, number


@pytest.fixture
def operator(make_operator, client):
    operator_id = make_operator(display_name="坐席 刘芳")
    login(client, operator_id)
    return operator_id


def test_the_page_needs_a_signed_in_operator(client):
    response = client.get("/console/callbacks")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_pending_callbacks_show_who_why_due_attempts_and_last_outcome(
    app, clock, client, operator, make_callback, make_caller, fake_calls, twilio
):
    from .conftest import placed_call

    caller_id = make_caller(phone_number=number(1), display_name="王阿姨")
    first = make_callback(phone_number=number(1), caller_id=caller_id, note="等了 4 分钟")
    dispatch(app)
    placed_call(app, twilio, first).status("no-answer", 3)
    make_callback(phone_number=number(2), reason=CallbackReason.VOICEMAIL)
    page = client.get("/console/callbacks")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "王阿姨 " + number(1) in html
    assert "排队时挂断: 等了 4 分钟" in html and "留言" in html
    assert "03-04 10:30" in html, "the retry's due time, in the line's local time"
    assert "1/4" in html and "无人接听" in html
    assert 'href="/console/callbacks"' in html, "the page is in the console navigation"
    client.post("/console/lang/en")
    text = client.get("/console/callbacks").get_data(as_text=True)
    assert "Pending callbacks" in text and "no answer" in text and "hung up while waiting" in text


def test_what_callers_said_is_escaped(app, clock, client, operator, make_callback):
    make_callback(note="<script>alert(1)</script>")
    html = client.get("/console/callbacks").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_call_now_makes_it_due_at_once(app, clock, client, operator, make_callback):
    from datetime import timedelta

    from hotline.timeutil import utcnow

    callback_id = make_callback(due_at=utcnow() + timedelta(hours=2))
    response = client.post(f"/console/callbacks/{callback_id}/call-now", follow_redirects=True)
    assert "马上回电" in response.get_data(as_text=True)
    assert get_callback(app, callback_id).due_at == utcnow()


def test_reschedule_uses_local_time_and_stays_inside_the_window(
    app, clock, client, operator, make_callback
):
    callback_id = make_callback()
    client.post(f"/console/callbacks/{callback_id}/reschedule", data={"due_at": "2025-03-05T15:00"})
    assert get_callback(app, callback_id).due_at == local(2025, 3, 5, 15, 0)
    response = client.post(
        f"/console/callbacks/{callback_id}/reschedule",
        data={"due_at": "2025-03-05T21:30"},
        follow_redirects=True,
    )
    assert get_callback(app, callback_id).due_at == local(2025, 3, 6, 8, 30)
    assert "03-06 08:30" in response.get_data(as_text=True)


def test_cancel_needs_a_reason_and_records_who(app, clock, client, operator, make_callback):
    callback_id = make_callback()
    response = client.post(
        f"/console/callbacks/{callback_id}/cancel", data={"reason": "  "}, follow_redirects=True
    )
    assert "需要填写原因" in response.get_data(as_text=True)
    assert get_callback(app, callback_id).status == CallbackStatus.PENDING
    client.post(f"/console/callbacks/{callback_id}/cancel", data={"reason": "家人已联系上"})
    callback = get_callback(app, callback_id)
    assert callback.status == CallbackStatus.CANCELED
    assert callback.cancel_reason == "家人已联系上" and callback.canceled_by_operator_id == operator


def test_a_ringing_callback_cannot_be_changed(
    app, clock, client, operator, make_callback, fake_calls
):
    callback_id = make_callback()
    dispatch(app)
    response = client.post(
        f"/console/callbacks/{callback_id}/cancel", data={"reason": "x"}, follow_redirects=True
    )
    assert "正在拨打或已经结束" in response.get_data(as_text=True)
    assert get_callback(app, callback_id).status == CallbackStatus.DIALING


def test_an_operator_schedules_a_callback_for_themselves(app, clock, client, operator):
    client.post(
        "/console/callbacks/schedule",
        data={"phone_number": "131 2345 6709", "due_at": "2025-03-04T15:00", "note": "问社保"},
    )
    with app.app_context():
        row = db.session.scalars(select(CallbackRequest)).one()
        assert row.phone_number == "+8613123456709"
        assert row.reason == CallbackReason.OPERATOR
        assert row.requested_by_operator_id == operator
        assert row.due_at == local(2025, 3, 4, 15, 0) and row.note == "问社保"


def test_clock_last_seen_is_shown_and_a_stopped_clock_is_a_warning(app, clock, client, operator):
    from datetime import timedelta

    from hotline.schedule import record_heartbeat

    html = client.get("/console/callbacks").get_data(as_text=True)
    assert "时钟进程没有运行" in html
    with app.app_context():
        record_heartbeat(db.session, clock="host:1", job_ids=["callbacks.dispatch"])
        db.session.commit()
    clock.shift(timedelta(seconds=12))
    html = client.get("/console/callbacks").get_data(as_text=True)
    assert "时钟进程最后在线" in html and "12 秒前" in html and "没有运行" not in html


def test_forms_need_the_csrf_token(app_config, clock, make_callback):
    from hotline import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    application = create_app(app_config)
    client = application.test_client()
    with application.app_context():
        from hotline.operators.models import Operator

        operator = Operator(username="csrf", display_name="x")
        db.session.add(operator)
        db.session.commit()
        operator_id = operator.id
    login(client, operator_id)
    callback_id = make_callback()
    response = client.post(f"/console/callbacks/{callback_id}/cancel", data={"reason": "x"})
    assert response.status_code == 400
    with application.app_context():
        assert db.session.get(CallbackRequest, callback_id).status == CallbackStatus.PENDING
    page = client.get("/console/callbacks").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    with application.app_context():
        db.session.close()
        db.engine.dispose()
