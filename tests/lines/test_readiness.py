"""The readiness check on /healthz and the Lines page: what stops a line, in plain words."""

from __future__ import annotations

import logging
from datetime import time

from factories import make_call, make_operator

from hotline.app import QUIET_LOGGERS
from hotline.db import db
from hotline.lines.models import Line, LineRecipient
from hotline.operators.models import Role


def _problems(client) -> list[str]:
    response = client.get("/healthz")
    assert response.status_code == 200, "readiness informs; it does not fail liveness"
    return response.get_json()["readiness"]


def test_a_fresh_line_lists_what_is_missing(app, client):
    problems = _problems(client)
    assert any("names no supervisor for alerts" in p for p in problems)
    assert any("No active operator has a phone number" in p for p in problems)


def test_each_problem_goes_away_when_it_is_fixed(app, client):
    with app.app_context():
        line = db.session.query(Line).filter_by(key="main").one()
        boss = make_operator(db.session, role=Role.SUPERVISOR, phone_number="+8613800000001")
        db.session.add(LineRecipient(line_id=line.id, operator_id=boss.id, alert_kinds="long_wait"))
        db.session.commit()
    assert _problems(client) == []


def test_calls_to_unknown_numbers_a_broken_script_and_a_window_outside_the_hours(app, client):
    with app.app_context():
        line = db.session.query(Line).filter_by(key="main").one()
        make_operator(db.session, role=Role.OPERATOR, phone_number="+8613800000003")
        make_call(db.session, line_id=line.id, caller_id=None, to_number="+861099990000")
        line.is_open_every_day = False
        line.opens_at, line.closes_at = time(9), time(17)
        line.callback_window_start, line.callback_window_end = time(8, 30), time(20)
        line.script_key = "missing"
        db.session.commit()
    problems = " | ".join(_problems(client))
    assert "Calls came in to +86******0000, which is not an active line's number" in problems
    assert "script missing.zh-CN is missing or fails the checker" in problems
    assert "calling window for callbacks is outside the opening hours" in problems


def test_the_lines_page_shows_the_problems(app, signed_in):
    client = signed_in(Role.ADMIN)
    page = client.get("/console/admin/lines").get_data(as_text=True)
    assert "These stop a line from working" in page and "names no supervisor" in page
    client.post("/console/lang/zh")
    chinese = client.get("/console/admin/lines").get_data(as_text=True)
    assert "以下问题会让线路无法正常工作" in chinese and "没有指定接收提醒的值班负责人" in chinese
    assert "names no supervisor" not in chinese, "the problems speak the console's language"


def test_library_chatter_is_kept_out_of_the_info_log(app):
    for name in QUIET_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def test_the_console_follows_the_browser_until_the_operator_chooses(app, signed_in):
    client = signed_in(Role.ADMIN, console_language="zh")
    with client.session_transaction() as session:
        session.pop("lang")
    english = client.get("/console/admin/lines", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Lines" in english.get_data(as_text=True) and 'lang="en"' in english.get_data(
        as_text=True
    )
    chinese = client.get("/console/admin/lines", headers={"Accept-Language": "zh-CN"})
    assert 'lang="zh-CN"' in chinese.get_data(as_text=True)
    client.post("/console/lang/zh", data={"next": "/console/admin/lines"})
    chosen = client.get("/console/admin/lines", headers={"Accept-Language": "en"})
    assert 'lang="zh-CN"' in chosen.get_data(as_text=True)


def test_each_call_state_change_is_one_info_line(app, twilio, caplog):
    sid = twilio.new_call_sid()
    caplog.set_level(logging.INFO, logger="hotline")
    twilio.post("/twilio/voice", twilio.call_params(sid))
    twilio.post("/twilio/voice/status", twilio.call_params(sid, CallStatus="completed"))
    changes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("call CA")]
    assert changes == [f"call {sid}: ringing -> completed"]


def test_the_demo_names_its_supervisor_for_both_lines(app, client):
    """`flask seed-demo` leaves no "names no supervisor" problem for the quick start."""
    from hotline.seed import seed_demo_data

    with app.app_context():
        seed_demo_data(db.session)
    assert not [p for p in _problems(client) if "names no supervisor" in p]
