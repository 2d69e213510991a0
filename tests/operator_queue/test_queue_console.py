"""The console's pages and JSON: roles, presence, what an operator sees about each caller,
operator administration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.db import db
from hotline.operators.models import Operator, Presence, Role

from .queue_support import *  # noqa: F403
from .queue_support import PASSWORD, login, operator_of, reach_queue


@pytest.mark.parametrize(
    ("role", "queue_status", "admin_status"),
    [(Role.OPERATOR, 200, 403), (Role.SUPERVISOR, 200, 403), (Role.ADMIN, 200, 200)],
)
def test_roles_open_what_they_may(app, make_operator, role, queue_status, admin_status):
    make_operator("someone", role=role)
    client = app.test_client()
    login(client, "someone")
    assert client.get("/console/queue").status_code == queue_status
    assert client.get("/console/admin/operators").status_code == admin_status
    assert client.post(
        "/console/admin/operators", data={"username": "x", "password": "p" * 12}
    ).status_code in (
        admin_status,
        302,
    )
    if admin_status == 403:
        with app.app_context():
            assert db.session.scalar(select(Operator).where(Operator.username == "x")) is None


def test_signed_out_browsers_get_a_login_page_or_a_401(client):
    assert client.get("/console/queue").status_code == 302
    response = client.get("/console/api/queue")
    assert response.status_code == 401 and response.get_json() == {"error": "login required"}
    assert client.post("/console/api/queue/take-next").status_code == 401


def test_queue_page_is_bilingual_and_links_its_script(operator_client):
    client, _operator_id = operator_client
    page = client.get("/console/queue").get_data(as_text=True)
    assert "接听下一位" in page and "/console/static/queue/queue.js" in page
    client.post("/console/lang/en", data={"next": "/console/queue"})
    page = client.get("/console/queue").get_data(as_text=True)
    assert "Take the next caller" in page
    script = client.get("/console/static/queue/queue.js")
    assert script.status_code == 200
    script.close()


def test_console_home_opens_the_queue(operator_client):
    client, _operator_id = operator_client
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/queue")


def test_json_describes_each_waiting_caller(app, twilio, operator_client, make_caller):
    client, _operator_id = operator_client
    make_caller(phone_number="+8613123456751", display_name="<b>王阿姨</b>", is_older_caller=True)
    reach_queue(twilio, app, from_="+8613123456751", speech="<script>alert(1)</script>人工")
    reach_queue(twilio, app, from_="+8613123456752")
    state = client.get("/console/api/queue").get_json()
    first, second = state["waiting"]
    assert first["position"] == 1 and first["priority_label"] == "长者"
    assert first["priority_reason_label"] == "登记的长者来电"
    assert first["caller_name"] == "<b>王阿姨</b>", "sent as data; the page writes it as text"
    assert first["said"] == "<script>alert(1)</script>人工"
    assert first["caller_number"].endswith("6751") and "*" in first["caller_number"]
    assert first["earlier_cases"] == 0 and first["language_label"] == "普通话"
    assert second["position"] == 2 and second["priority_label"] == "普通"
    assert second["reason_label"] == "要人工服务"
    assert state["stats"]["waiting"] == 2
    assert state["me"]["presence"] == "available"


def test_polling_brings_an_offline_operator_back_and_a_silent_console_goes_offline(
    app, make_operator
):
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        lin = make_operator("lin", presence=Presence.OFFLINE, seen_at=start - timedelta(hours=9))
        zhao = make_operator("zhao", presence=Presence.AVAILABLE, seen_at=start)
        busy = make_operator("qian", presence=Presence.BUSY, seen_at=start)
        client = app.test_client()
        login(client, "lin")
        assert client.get("/console/api/queue").get_json()["me"]["presence"] == "available"
        clock.shift(61)
        client.get("/console/api/queue")
        assert operator_of(app, zhao).presence == Presence.OFFLINE
        assert operator_of(app, busy).presence == Presence.BUSY, (
            "on the phone with the browser closed"
        )
        assert operator_of(app, lin).presence == Presence.AVAILABLE


def test_operator_chooses_away_and_back(app, operator_client):
    client, operator_id = operator_client
    assert client.post("/console/api/presence", data={"presence": "away"}).get_json()["ok"]
    assert operator_of(app, operator_id).presence == Presence.AWAY
    assert client.post("/console/api/presence", data={"presence": "busy"}).status_code == 400
    assert client.post("/console/api/presence", data={"presence": "available"}).get_json()["ok"]
    assert operator_of(app, operator_id).presence == Presence.AVAILABLE


def test_signing_out_goes_offline(app, operator_client):
    client, operator_id = operator_client
    client.post("/console/logout")
    assert operator_of(app, operator_id).presence == Presence.OFFLINE


def test_admin_creates_updates_and_resets_an_account(app, make_operator):
    make_operator("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    created = admin.post(
        "/console/admin/operators",
        data={
            "username": "new.op",
            "display_name": "新坐席",
            "role": "operator",
            "phone_number": "131 2345 6799",
            "console_language": "en",
            "password": "a long enough pw",
        },
    )
    assert created.status_code == 302
    with app.app_context():
        op = db.session.scalar(select(Operator).where(Operator.username == "new.op"))
        assert op.phone_number == "+8613123456799" and op.console_language == "en"
        op_id = op.id
    admin.post(
        f"/console/admin/operators/{op_id}",
        data={"display_name": "新坐席", "role": "supervisor", "phone_number": "", "is_active": "y"},
    )
    assert (
        operator_of(app, op_id).role == Role.SUPERVISOR
        and operator_of(app, op_id).phone_number is None
    )
    assert (
        admin.post(
            f"/console/admin/operators/{op_id}/password", data={"password": "short"}
        ).status_code
        == 302
    )
    admin.post(f"/console/admin/operators/{op_id}/password", data={"password": "another long pw"})
    fresh = app.test_client()
    login(fresh, "new.op", "another long pw")
    assert fresh.get("/console/queue").status_code == 200


def test_admin_cannot_lock_themselves_out(app, make_operator):
    boss = make_operator("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    admin.post(
        f"/console/admin/operators/{boss}",
        data={"display_name": "b", "role": "operator", "is_active": "y"},
    )
    assert operator_of(app, boss).role == Role.ADMIN


def test_names_on_the_admin_page_are_escaped(app, make_operator):
    make_operator("boss", role=Role.ADMIN)
    make_operator("evil", display_name='<img src=x onerror="alert(1)">')
    admin = app.test_client()
    login(admin, "boss", PASSWORD)
    page = admin.get("/console/admin/operators").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img src=x" in page
