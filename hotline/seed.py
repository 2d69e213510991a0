"""Demo data: three lines, demo operators and callers, an agency, a volunteer and a check-in
enrolment (fictional names and example numbers)."""

from __future__ import annotations

from datetime import time

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from hotline.callers.models import Caller
from hotline.callers.service import find_caller
from hotline.db import db
from hotline.directory.models import Agency, AgencyKind
from hotline.lines.models import Line, LineRecipient
from hotline.operators.models import Operator, Role
from hotline.sms.models import AlertKind

#: Example numbers only (the phonenumbers example ranges); none belongs to a real person.
DEMO_LINE_NUMBER = "+861012345678"
#: A second demo line with the "no menu" intake (GB/T 33358): greeting, then a person.
DEMO_NOMENU_LINE_NUMBER = "+861012345679"
#: A third demo line, the key menu like the first, that records conversations with operators
#: (its greeting says so). The first line stays as the first minute is measured (no notice).
DEMO_RECORDED_LINE_NUMBER = "+861012345677"
DEMO_LINES = (
    # key, name, number, script key, records conversations with operators
    ("main", "长者服务热线", DEMO_LINE_NUMBER, "main", False),
    ("nomenu", "长者服务热线(无菜单)", DEMO_NOMENU_LINE_NUMBER, "nomenu", False),
    ("recorded", "长者服务热线(录音)", DEMO_RECORDED_LINE_NUMBER, "main", True),
)
DEMO_CALLERS = [
    # number, name, display name, older caller, straight to person, hard of hearing, language
    ("+8613123456701", "王秀英", "王阿姨", True, True, False, "zh-CN"),
    ("+8613123456702", "李建国", "李先生", False, False, False, "zh-CN"),
    ("+8613123456703", "陈伯", "陈伯", True, False, True, "yue-HK"),
]
DEMO_OPERATORS = [
    # username, display name, role, password, phone
    ("admin", "管理员 Admin", Role.ADMIN, "admin-demo-pass", None),
    ("supervisor", "值班长 张敏", Role.SUPERVISOR, "supervisor-demo-pass", "+8613123456780"),
    ("operator", "坐席 刘芳", Role.OPERATOR, "operator-demo-pass", "+8613123456781"),
    ("operator2", "坐席 赵强", Role.OPERATOR, "operator-demo-pass", "+8613123456782"),
]
#: A demo community volunteer (邻里守望) who looks after the enrolled elders.
DEMO_VOLUNTEER = ("赵志愿", "+8613123456790", "东城街道")
#: Demo check-ins (关爱回访): (elder's number, local window). A long window, so a fresh
#: `python3 dev.py run` rings 王阿姨's dev phone within a minute at most times of day.
DEMO_CHECKINS = [("+8613123456701", time(7, 0), time(22, 0))]
#: The demo floor speaks two dialects, so routing by language shows: 刘芳 Mandarin and English,
#: 赵强 Cantonese only. "Take the next caller" offers 赵强 the Cantonese caller even when a
#: Mandarin caller has waited longer (who stays 刘芳's), and offers him a Mandarin caller only
#: once nobody speaking Mandarin took them within the line's threshold (120 s).
DEMO_LANGUAGES = {"operator": ["zh-CN", "en-US"], "operator2": ["yue-HK"]}


#: An agency of the directory to transfer to from the call panel (the dev gateway answers its
#: phone, and 120/110/119, by itself: see dev.py).
DEMO_AGENCIES = [("和平里社区居委会", AgencyKind.COMMUNITY_OFFICE, "+861055550101")]


def seed_demo_data(session) -> dict:
    """Create the demo rows if they are missing (safe to run twice)."""
    created = {"lines": 0, "operators": 0, "callers": 0, "checkins": 0}
    for key, name, number, script_key, recorded in DEMO_LINES:
        if session.scalar(select(Line).where(Line.key == key)) is not None:
            continue
        session.add(
            Line(
                key=key,
                name=name,
                phone_number=number,
                script_key=script_key,
                # Open around the clock so the demo answers whenever someone tries it; a real
                # line sets its hours (and working days only) in the database.
                is_open_every_day=True,
                opens_at=time(0, 0),
                closes_at=time(0, 0),
                is_recording_enabled=recorded,
            )
        )
        created["lines"] += 1
    for username, name, role, password, phone in DEMO_OPERATORS:
        if session.scalar(select(Operator).where(Operator.username == username)) is None:
            session.add(
                Operator(
                    username=username,
                    display_name=name,
                    role=role,
                    password_hash=generate_password_hash(password),
                    phone_number=phone,
                    languages=DEMO_LANGUAGES.get(username, []),
                )
            )
            created["operators"] += 1
    session.flush()
    # The demo supervisor is told about both lines (the summary and every alert), so the
    # readiness check of a fresh demo is clean.
    supervisor = session.scalar(select(Operator).where(Operator.username == "supervisor"))
    for line in session.scalars(select(Line).where(Line.key.in_([key for key, *_ in DEMO_LINES]))):
        named = session.scalar(
            select(LineRecipient).where(
                LineRecipient.line_id == line.id, LineRecipient.operator_id == supervisor.id
            )
        )
        if named is None:
            session.add(
                LineRecipient(
                    line_id=line.id,
                    operator_id=supervisor.id,
                    gets_daily_summary=True,
                    alert_kinds=",".join(kind.value for kind in AlertKind),
                )
            )
    for name, kind, number in DEMO_AGENCIES:
        if session.scalar(select(Agency).where(Agency.phone_number == number)) is None:
            session.add(Agency(name=name, kind=kind, phone_number=number))
    for number, name, display, older, straight, hoh, language in DEMO_CALLERS:
        if find_caller(session, number) is None:
            session.add(
                Caller(
                    phone_number=number,
                    name=name,
                    display_name=display,
                    is_older_caller=older,
                    is_straight_to_person=straight,
                    is_hard_of_hearing=hoh,
                    language=language,
                )
            )
            created["callers"] += 1
    session.flush()
    created["checkins"] = _seed_checkins(session)
    session.commit()
    return created


def _seed_checkins(session) -> int:
    """The demo volunteer and the demo elders' check-in enrolments (consent in person)."""
    from datetime import date

    from hotline.checkins.service import enrol, live_enrolment
    from hotline.directory.models import ConsentWay, Volunteer

    name, number, district = DEMO_VOLUNTEER
    volunteer = session.scalar(select(Volunteer).where(Volunteer.phone_number == number))
    if volunteer is None:
        volunteer = Volunteer(
            name=name,
            phone_number=number,
            district=district,
            languages="普通话",
            consented_on=date(2026, 1, 5),
            consent_way=ConsentWay.IN_WRITING,
        )
        session.add(volunteer)
        session.flush()
    line = session.scalar(select(Line).where(Line.key == "main"))
    made = 0
    for elder_number, start, end in DEMO_CHECKINS:
        elder = find_caller(session, elder_number)
        if line is None or elder is None or live_enrolment(session, elder.id, line.id):
            continue
        enrol(
            session,
            caller_id=elder.id,
            line_id=line.id,
            window_start=start,
            window_end=end,
            consent_method="elder_in_person",
            consent_witness="社区工作人员",
            operator_id=None,
            retry_minutes="5,10",
            volunteer_id=volunteer.id,
        )
        made += 1
    return made


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create a demo line, operators (passwords printed) and callers.

    Refused when real Twilio credentials are configured: the demo passwords are public, and an
    admin/admin-demo-pass account beside a real number would open the console to anyone.
    """
    from flask import current_app

    from hotline.config import DEV_AUTH_TOKEN

    if current_app.config.get("TWILIO_AUTH_TOKEN") != DEV_AUTH_TOKEN:
        raise click.ClickException(
            "refusing to create demo accounts with public passwords: real Twilio credentials "
            "are configured. Create accounts with `flask operators create` instead."
        )
    created = seed_demo_data(db.session)
    click.echo(f"demo data: {created}")
    for username, _name, role, password, _phone in DEMO_OPERATORS:
        click.echo(f"  login {username!r} / {password!r} ({role.value})")
