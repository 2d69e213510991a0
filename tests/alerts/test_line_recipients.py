"""Who is told what, per line and per alert kind, and quiet hours for non-urgent alerts."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sms.fixtures import SUPERVISOR_PHONE

from alerts.test_supervisor_alerts import _alert_texts, _case, _enqueue
from hotline.db import db
from hotline.lines.models import Line, LineRecipient
from hotline.sms.recipients import DAILY_SUMMARY, recipients_for

OTHER_PHONE = "+8613800000002"


def _name(app, line_id, operator_id, *, summary=False, kinds=""):
    with app.app_context():
        db.session.add(
            LineRecipient(
                line_id=line_id,
                operator_id=operator_id,
                gets_daily_summary=summary,
                alert_kinds=kinds,
            )
        )
        db.session.commit()


def test_a_line_that_names_nobody_falls_back_to_every_supervisor(app, line_id, make_supervisor):
    make_supervisor("zhang", SUPERVISOR_PHONE)
    make_supervisor("li", OTHER_PHONE)
    with app.app_context():
        people = recipients_for(db.session, line_id, "long_wait")
        assert [op.username for op in people] == ["zhang", "li"]


def test_named_recipients_get_only_their_kinds(app, line_id, make_supervisor):
    zhang = make_supervisor("zhang", SUPERVISOR_PHONE)
    li = make_supervisor("li", OTHER_PHONE)
    _name(app, line_id, zhang, summary=True, kinds="long_wait")
    _name(app, line_id, li, kinds="urgent_case")
    with app.app_context():
        names = {
            kind: [op.username for op in recipients_for(db.session, line_id, kind)]
            for kind in ("long_wait", "urgent_case", DAILY_SUMMARY, "service_level")
        }
    assert names == {
        "long_wait": ["zhang"],
        "urgent_case": ["li"],
        DAILY_SUMMARY: ["zhang"],
        "service_level": [],
    }


def test_a_long_wait_alert_goes_only_to_whom_the_line_names(
    app, line_id, make_supervisor, clock, now, time_machine
):
    zhang = make_supervisor("zhang", SUPERVISOR_PHONE)
    make_supervisor("li", OTHER_PHONE)
    _name(app, line_id, zhang, kinds="long_wait")
    _enqueue(app, line_id)
    time_machine.move_to(now + timedelta(minutes=6), tick=False)
    clock.alerts()
    assert [m.to_number for m in _alert_texts(app)] == [SUPERVISOR_PHONE]


def test_quiet_hours_hold_non_urgent_alerts_but_not_urgent_ones(
    app, line_id, make_supervisor, clock, now, time_machine
):
    make_supervisor("zhang", SUPERVISOR_PHONE)
    with app.app_context():
        line = db.session.get(Line, line_id)
        line.quiet_hours_start, line.quiet_hours_end = time(13, 0), time(18, 0)
        db.session.commit()
    _enqueue(app, line_id)
    _case(app, line_id, scenario="emergency", is_urgent=True, summary="摔倒")
    time_machine.move_to(now + timedelta(minutes=6), tick=False)
    clock.alerts()
    by_kind = {m.kind: m for m in _alert_texts(app)}
    quiet_end = datetime.combine(
        (now + timedelta(minutes=6)).astimezone(ZoneInfo("Asia/Shanghai")).date(),
        time(18, 0),
        ZoneInfo("Asia/Shanghai"),
    )
    assert by_kind["alert_long_wait"].send_after == quiet_end
    assert by_kind["alert_urgent_case"].send_after <= now + timedelta(minutes=6)
