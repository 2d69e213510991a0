"""The check-ins in the console: the day's figures (hand-computed), today's page with the open
失联 cases first, enrol with field errors, pause / resume / stop with their role rules, the
history strip on the caller page, and the figures on the supervisor page and in the summary."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from hotline.alerts.summary import send_summary, summary_text
from hotline.cases.models import AuditEntry, Case
from hotline.checkins import queries, service
from hotline.checkins.models import (
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
    EpisodeStatus,
)
from hotline.directory.models import Volunteer
from hotline.operators.models import Role
from hotline.reports import metrics
from hotline.sms.models import SmsMessage, SmsPurpose
from hotline.timeutil import local_day, utcnow
from tests import factories
from tests.checkins.episodes import local, make_episode, missed

S = EpisodeStatus
DAY = date(2026, 12, 3)


def sign_in(client, session, role: Role, *, lang: str = "en", **fields) -> int:
    operator = factories.make_operator(session, role=role, **fields)
    session.commit()
    with client.session_transaction() as s:
        s["_user_id"] = str(operator.id)
        s["_fresh"] = True
        s["lang"] = lang
    return operator.id


def elder(session, n: int, *, district: str = "东城街道", volunteer=None, **fields):
    """Elder n (number +86 10 5555 00nn), enrolled on the main line."""
    caller = factories.make_caller(
        session,
        phone_number=f"+8610555500{n:02d}",
        display_name=f"老人{n}",
        district=district,
        is_older_caller=True,
    )
    enrolment = factories.make_enrolment(
        session,
        caller_id=caller.id,
        line_id=factories.main_line(session).id,
        volunteer_id=volunteer.id if volunteer else None,
        **fields,
    )
    return caller, enrolment


@pytest.fixture
def day_of_everything(session):
    """Nine elders on DAY, one of each state, plus noise on other days and lines."""
    volunteer = factories.make_volunteer(session)
    states = [
        (S.OK, {"attempts": 1, "answered_at": local(DAY, 9, 5)}),
        (S.OK, {"attempts": 0, "answered_at": local(DAY, 8, 40), "answered_via": "called_in"}),
        (S.HELP, {"attempts": 1}),
        (S.REACHED, missed(DAY, reached_after_minutes=30, reply_by="volunteer", reply_code="1")),
        (S.CASCADE, missed(DAY, volunteer_sms_at=local(DAY, 11, 1))),
        (S.UNREACHABLE, missed(DAY, reply_by="volunteer", reply_code="2")),
        (S.DUE, {}),
        (S.MISSED, {"attempts": 1}),
        (S.CANCELED, {}),
    ]
    episodes = []
    for n, (status, fields) in enumerate(states, start=1):
        _caller, enrolment = elder(session, n, volunteer=volunteer)
        episodes.append(make_episode(session, enrolment, DAY, status, **fields))
        make_episode(session, enrolment, DAY - timedelta(days=1), S.OK)  # another day
    session.commit()
    return episodes


def test_the_days_figures_match_a_hand_count(session, day_of_everything):
    line = factories.main_line(session)
    figures = queries.day_figures(session, line, DAY)
    # 9 episodes, the canceled one counts nowhere; answered: 2 OK + 1 help; missed: the
    # reached, the cascade, the unreachable; still open: cascade + unreachable; pending: due +
    # a missed attempt with a retry due.
    assert figures == queries.CheckinFigures(
        due=8, done=3, ok=2, help=1, missed=3, reached=1, still_open=2, pending=2
    )
    assert queries.day_figures(session, line, DAY - timedelta(days=1)).due == 9


def test_summary_sms_and_supervisor_page_carry_the_days_figures(
    app, client, session, day_of_everything
):
    line = factories.main_line(session)
    report = metrics.day_report(session, line, DAY, now=local(DAY, 20, 30))
    zh = summary_text(session, line, report, "zh", local(DAY, 20, 30))
    en = summary_text(session, line, report, "en", local(DAY, 20, 30))
    assert "回访完成3 平安2 未接3 联系上1 未结2 待访2" in zh
    assert "Check-ins done 3, OK 2, missed 3, reached 1, open 2, to call 2." in en

    sign_in(client, session, Role.SUPERVISOR)
    today = local_day(utcnow(), line.timezone)
    for episode in day_of_everything:  # move them to today, the page's day
        episode.due_date = today
    session.commit()
    page = client.get("/console/reports/").get_data(as_text=True)
    for key, value in [("due", 8), ("done", 3), ("ok", 2), ("missed", 3), ("open", 2)]:
        assert f'id="m-ck-{key}">{value}<' in page
    assert "Check-ins done 3, OK 2, missed 3, reached 1, open 2, to call 2." in page


def test_today_page_lists_open_lost_contact_cases_first_by_deadline(
    app, client, session, day_of_everything, time_machine
):
    # After the elders' 09:00-11:00 window: yesterday's elder below is not due later today.
    time_machine.move_to("2026-12-05T15:00:00+08:00", tick=False)
    line = factories.main_line(session)
    today = local_day(utcnow(), line.timezone)
    cascade, unreachable = day_of_everything[4], day_of_everything[5]
    numbers = []
    for episode, hours in ((cascade, 6), (unreachable, 2)):
        case = factories.make_case(session, caller_id=episode.caller_id, line_id=line.id)
        case.escalation_deadline_at = utcnow() + timedelta(hours=hours)
        episode.case_id, episode.case_opened_at = case.id, utcnow()
        numbers.append(case.number)
    for episode in day_of_everything:
        episode.due_date = today
    # Yesterday's elder nobody has reached yet, deadline in 1 h, is still on today's page.
    _caller, enrolment = elder(session, 10)
    yesterday = make_episode(
        session, enrolment, today - timedelta(days=1), S.UNREACHABLE, **missed(today)
    )
    case = factories.make_case(session, caller_id=yesterday.caller_id, line_id=line.id)
    case.escalation_deadline_at = utcnow() + timedelta(hours=1)
    yesterday.case_id = case.id
    numbers.append(case.number)
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    response = client.get("/console/checkins/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    lost = page.index('id="rows-lost_contact"')
    assert lost < page.index('id="section-cascade"') < page.index('id="section-pending"')
    # soonest deadline first: yesterday's (1 h), the unreachable elder's (2 h), the cascade (6 h)
    first, second, third = (page.find(n, lost) for n in (numbers[2], numbers[1], numbers[0]))
    assert lost < first < second < third
    assert 'data-status="unreachable"' in page
    assert "volunteer: 2 (could not reach)" in page
    assert page.count("Lost-contact case opened") == 2, "the furthest cascade step per row"
    for key, value in [("due", 8), ("ok", 2), ("help", 1), ("pending", 2)]:
        assert f'id="f-{key}">{value}<' in page


def _enrol_data(session, **override) -> dict:
    volunteer = session.scalar(select(Volunteer))
    data = {
        "line_id": str(factories.main_line(session).id),
        "calendar_rule": "chosen_days",
        "days_of_week": ["0", "2", "4"],
        "window_start": "09:00",
        "window_end": "10:30",
        "retry_minutes": "20,60",
        "volunteer_id": str(volunteer.id),
        "consented_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "consent_method": "elder_in_person",
        "consent_witness": "社区网格员 周敏",
    }
    data.update(override)
    return {k: v for k, v in data.items() if v is not None}


def test_enrol_shows_each_field_error_then_enrols(app, client, session):
    caller = factories.make_caller(session, phone_number="+861055550101", display_name="王阿姨")
    factories.make_volunteer(session)
    session.commit()
    operator_id = sign_in(client, session, Role.OPERATOR)
    form_page = client.get(f"/console/checkins/enrol/{caller.id}")
    assert form_page.status_code == 200 and "李志愿 · 东城街道" in form_page.get_data(as_text=True)

    bad = _enrol_data(
        session,
        consent_witness=None,
        volunteer_id="",
        window_end="08:00",
        days_of_week=None,
        retry_minutes="20,abc",
    )
    response = client.post(f"/console/checkins/enrol/{caller.id}", data=bad)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for message in (
        "Enter the witness (who heard the elder consent).",
        "Choose the volunteer who looks after this elder from the roster.",
        "The window must end after it starts.",
        "Choose at least one day of the week.",
        "Retries are minutes separated by commas",
    ):
        assert message in page, message
    assert session.scalar(select(CheckinEnrolment)) is None

    future = _enrol_data(
        session, consented_at=(utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    )
    response = client.post(f"/console/checkins/enrol/{caller.id}", data=future)
    assert response.status_code == 400
    assert "The consent cannot be dated in the future." in response.get_data(as_text=True)

    response = client.post(f"/console/checkins/enrol/{caller.id}", data=_enrol_data(session))
    assert response.status_code == 303
    session.expire_all()
    enrolment = session.scalar(select(CheckinEnrolment))
    assert response.headers["Location"].endswith(f"/console/checkins/enrolments/{enrolment.id}")
    assert enrolment.days_of_week == [0, 2, 4]
    assert (enrolment.window_start, enrolment.window_end) == (time(9), time(10, 30))
    assert enrolment.consent_witness == "社区网格员 周敏"
    assert enrolment.consent_recorded_by == operator_id
    assert enrolment.status == EnrolmentStatus.ACTIVE
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Mon, Wed, Fri" in page and "社区网格员 周敏" in page


def test_enrol_errors_speak_chinese_to_a_chinese_console(app, client, session):
    caller = factories.make_caller(session, phone_number="+861055550102")
    factories.make_volunteer(session)
    session.commit()
    sign_in(client, session, Role.OPERATOR, lang="zh")
    response = client.post(
        f"/console/checkins/enrol/{caller.id}",
        data=_enrol_data(session, consent_witness=None, consent_method=""),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请填写见证人(谁在场听到老人同意)。" in page
    assert "请选择老人表示同意的方式。" in page


def test_pause_resume_and_stop_follow_the_role_rules(app, client, session):
    caller, enrolment = elder(session, 1)
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    url = f"/console/checkins/enrolments/{enrolment.id}"
    today = local_day(utcnow(), "Asia/Shanghai")

    response = client.post(f"{url}/pause", data={"until": (today - timedelta(days=1)).isoformat()})
    assert response.status_code == 400
    assert "The pause cannot end before today." in response.get_data(as_text=True)
    response = client.post(f"{url}/pause", data={"until": "", "reason": "住院"})
    assert "Enter the last day of the pause." in response.get_data(as_text=True)

    until = today + timedelta(days=10)
    response = client.post(f"{url}/pause", data={"until": until.isoformat(), "reason": "住院"})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(CheckinEnrolment, enrolment.id).paused_until == until
    assert client.post(f"{url}/resume").status_code == 303
    session.expire_all()
    assert session.get(CheckinEnrolment, enrolment.id).status == EnrolmentStatus.ACTIVE

    assert client.post(f"{url}/stop", data={"reason": "搬走了"}).status_code == 403
    assert "Stop check-ins" not in client.get(url).get_data(as_text=True)
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.entity == "checkin_enrolment", AuditEntry.entity_id == enrolment.id
        )
    ).all()
    assert actions == ["enrolled", "paused", "resumed"]


def test_a_supervisor_stops_check_ins_with_a_reason(app, client, session):
    # (one user per test: the test's app context keeps Flask-Login's user for its requests)
    _caller, enrolment = elder(session, 1)
    session.commit()
    sign_in(client, session, Role.SUPERVISOR)
    url = f"/console/checkins/enrolments/{enrolment.id}"
    assert "Stop check-ins" in client.get(url).get_data(as_text=True)
    response = client.post(f"{url}/stop", data={"reason": ""})
    assert response.status_code == 400
    assert "Please give the reason." in response.get_data(as_text=True)
    assert client.post(f"{url}/stop", data={"reason": "搬走了"}).status_code == 303
    session.expire_all()
    stopped = session.get(CheckinEnrolment, enrolment.id)
    assert stopped.status == EnrolmentStatus.STOPPED and stopped.stop_reason == "搬走了"


def test_caller_page_shows_the_history_strip_with_a_missed_day(app, client, session):
    caller, enrolment = elder(session, 1)
    today = local_day(utcnow(), "Asia/Shanghai")
    make_episode(session, enrolment, today - timedelta(days=3), S.OK, attempts=1)
    make_episode(session, enrolment, today - timedelta(days=2), S.UNREACHABLE, **missed(today))
    make_episode(
        session,
        enrolment,
        today - timedelta(days=1),
        S.REACHED,
        closed_by="volunteer",
        **missed(today),
    )
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    page = client.get(f"/console/callers/{caller.id}").get_data(as_text=True)
    assert 'id="caller-history-strip"' in page
    states = {
        (today - timedelta(days=d)).isoformat(): s
        for d, s in ((3, "ok"), (2, "missed"), (1, "reached"), (4, "none"))
    }
    for day, state in states.items():
        assert f'data-state="{state}" data-day="{day}"' in page, (day, state)
    assert page.count("<li data-state=") == 28
    assert "Reached · volunteer" in page
    assert 'id="enrol-link"' not in page, "already enrolled"


def test_caller_page_offers_enrolment_to_an_elder_not_enrolled(app, client, session):
    caller = factories.make_caller(session, phone_number="+861055550103")
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    page = client.get(f"/console/callers/{caller.id}").get_data(as_text=True)
    assert "Not enrolled in check-ins." in page and 'id="enrol-link"' in page
    assert "caller-history-strip" not in page


def test_today_page_lists_the_elders_due_later_before_the_clock_creates_their_day(
    app, client, session
):
    today = local_day(utcnow(), "Asia/Shanghai")
    tomorrow = today + timedelta(days=1)
    every_day, _ = elder(session, 1)
    chosen, _ = elder(
        session,
        2,
        calendar_rule="chosen_days",
        days_of_week=[(tomorrow.weekday() + 1) % 7],  # not tomorrow
    )
    paused, paused_enrolment = elder(session, 3)
    started, started_enrolment = elder(session, 4)
    session.commit()
    service.pause(session, paused_enrolment, until=tomorrow, operator_id=None, today=today)
    make_episode(session, started_enrolment, tomorrow, S.DUE)
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    page = client.get(f"/console/checkins/?day={tomorrow.isoformat()}").get_data(as_text=True)
    scheduled = page[page.index('id="rows-scheduled"') :]
    assert every_day.display_name in scheduled and "09:00–11:00" in scheduled
    for name in (chosen.display_name, paused.display_name, started.display_name):
        assert name not in scheduled, name
    assert 'id="f-scheduled">1<' in page
    assert started.display_name in page[: page.index('id="rows-scheduled"')], "it has its day"


def test_an_operator_who_reached_a_missed_elder_closes_the_day_and_its_case(app, client, session):
    line = factories.main_line(session)
    today = local_day(utcnow(), line.timezone)
    _caller, enrolment = elder(session, 1)
    episode = make_episode(session, enrolment, today, S.CASCADE, **missed(today))
    ok = make_episode(session, enrolment, today - timedelta(days=1), S.OK, attempts=1)
    case = factories.make_case(session, caller_id=episode.caller_id, line_id=line.id)
    episode.case_id = case.id
    session.commit()
    operator_id = sign_in(client, session, Role.OPERATOR)
    page = client.get("/console/checkins/").get_data(as_text=True)
    assert f"/console/checkins/episodes/{episode.id}/close" in page
    assert "I could not either" in page

    response = client.post(f"/console/checkins/episodes/{episode.id}/close", data={"reached": "1"})
    assert response.status_code == 303
    session.expire_all()
    closed = session.get(CheckinEpisode, episode.id)
    assert closed.status == S.REACHED and closed.closed_by == "operator"
    assert closed.closed_by_operator_id == operator_id
    assert not session.get(Case, case.id).is_active, "the 失联 case is resolved"

    response = client.post(f"/console/checkins/episodes/{ok.id}/close", data={"reached": "1"})
    assert response.status_code == 303
    assert "This check-in is already closed." in client.get("/console/checkins/").get_data(
        as_text=True
    )
    session.expire_all()
    assert session.get(CheckinEpisode, ok.id).status == S.OK


def test_an_operator_changes_the_schedule_and_volunteer(app, client, session):
    first = factories.make_volunteer(session)
    second = factories.make_volunteer(session, name="赵志愿", phone_number="+8613800000198")
    _caller, enrolment = elder(session, 1, volunteer=first)
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    url = f"/console/checkins/enrolments/{enrolment.id}"
    page = client.get(url).get_data(as_text=True)
    assert (
        'id="schedule-window-start" name="window_start" required type="time" value="09:00"' in page
    )

    change = {
        "calendar_rule": "working_days",
        "window_start": "15:00",
        "window_end": "14:00",
        "retry_minutes": "30",
        "volunteer_id": str(second.id),
    }
    response = client.post(f"{url}/schedule", data=change)
    assert response.status_code == 400
    assert "The window must end after it starts." in response.get_data(as_text=True)

    response = client.post(f"{url}/schedule", data={**change, "window_end": "16:30"})
    assert response.status_code == 303
    session.expire_all()
    changed = session.get(CheckinEnrolment, enrolment.id)
    assert (changed.window_start, changed.window_end) == (time(15), time(16, 30))
    assert changed.calendar_rule.value == "working_days" and changed.retry_minutes == "30"
    assert changed.volunteer_id == second.id and changed.notify_family is False
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "checkin_enrolment", AuditEntry.action == "updated"
        )
    ).one()
    assert entry.after["volunteer_id"] == second.id


def test_every_check_in_page_speaks_chinese(app, client, session, day_of_everything):
    line = factories.main_line(session)
    enrolment_id = day_of_everything[0].enrolment_id
    caller_id = day_of_everything[0].caller_id
    newcomer = factories.make_caller(session, phone_number="+861055550199")
    session.commit()
    sign_in(client, session, Role.SUPERVISOR, lang="zh")
    pages = {
        f"/console/checkins/?line={line.key}&day={DAY.isoformat()}": "联络中",
        f"/console/checkins/enrolments/{enrolment_id}": "近28天",
        f"/console/checkins/enrol/{newcomer.id}": "老人的同意",
        "/console/checkins/reports?date_from=2026-12-01&date_to=2026-12-31": "关爱回访统计",
        f"/console/callers/{caller_id}": "关爱回访",
        "/console/reports/": "仍未联系上",
    }
    for url, words in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert words in response.get_data(as_text=True), url


def test_the_daily_summary_records_and_sends_the_days_check_in_figures(
    app, session, day_of_everything
):
    line = factories.main_line(session)
    factories.make_operator(
        session, role=Role.SUPERVISOR, phone_number="+8613800000001", console_language="zh"
    )
    session.commit()
    row = send_summary(session, line, DAY, now=local(DAY, 20, 30))
    assert row.metrics["checkins"] == {
        "due": 8,
        "done": 3,
        "ok": 2,
        "help": 1,
        "missed": 3,
        "reached": 1,
        "still_open": 2,
        "pending": 2,
        "later": 0,
    }
    body = session.scalars(
        select(SmsMessage.body).where(SmsMessage.purpose == SmsPurpose.SUPERVISOR_SUMMARY)
    ).one()
    assert "回访完成3 平安2 未接3 联系上1 未结2 待访2" in body


def test_the_list_of_enrolled_elders_hides_stopped_ones_unless_asked(app, client, session):
    volunteer = factories.make_volunteer(session)
    active, _ = elder(
        session, 1, volunteer=volunteer, calendar_rule="chosen_days", days_of_week=[0, 3]
    )
    paused, paused_enrolment = elder(session, 2)
    stopped, stopped_enrolment = elder(session, 3)
    session.commit()
    today = local_day(utcnow(), "Asia/Shanghai")
    service.pause(session, paused_enrolment, until=today + timedelta(days=3), operator_id=None)
    service.stop(session, stopped_enrolment, operator_id=None, reason="搬走了")
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    page = client.get("/console/checkins/enrolments").get_data(as_text=True)
    assert active.display_name in page and "Chosen days of the week: Mon, Thu" in page
    assert (
        paused.display_name in page and f"until {(today + timedelta(days=3)).isoformat()}" in page
    )
    assert stopped.display_name not in page
    page = client.get("/console/checkins/enrolments?stopped=1").get_data(as_text=True)
    assert stopped.display_name in page and 'data-status="stopped"' in page


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (S.OK, "ok"),
        (S.HELP, "help"),
        (S.REACHED, "reached"),
        (S.CASCADE, "missed"),
        (S.UNREACHABLE, "missed"),
        (S.DUE, "pending"),
        (S.CALLING, "pending"),
        (S.MISSED, "pending"),
        (S.CANCELED, "none"),
    ],
)
def test_each_episode_status_has_its_place_on_the_strip(status, state):
    assert queries.strip_state(CheckinEpisode(status=status)) == state


def test_every_episode_status_is_in_exactly_one_figure_group():
    groups = [queries.ANSWERED, queries.STILL_OPEN, queries.PENDING, (S.REACHED, S.CANCELED)]
    for status in EpisodeStatus:
        assert sum(status in group for group in groups) == 1, status


def test_a_lost_contact_case_shows_its_missed_check_in_and_closes_from_there(app, client, session):
    line = factories.main_line(session)
    today = local_day(utcnow(), line.timezone)
    volunteer = factories.make_volunteer(session)
    caller, enrolment = elder(session, 1, volunteer=volunteer)
    episode = make_episode(
        session,
        enrolment,
        today,
        S.CASCADE,
        **missed(today, volunteer_sms_at=local(today, 11, 1), family_sms_count=0),
    )
    case = factories.make_case(session, caller_id=caller.id, line_id=line.id)
    episode.case_id, episode.case_opened_at = case.id, local(today, 11, 2)
    episode.next_step_at = local(today, 12, 2)
    other = factories.make_case(session, caller_id=None, line_id=line.id)
    session.commit()
    sign_in(client, session, Role.OPERATOR)
    page = client.get(f"/console/cases/{case.number}").get_data(as_text=True)
    panel = page[page.index('id="checkin-episode"') :]
    assert "Missed check-in" in panel and "Calls placed: 3" in panel
    assert "Volunteer texted 11:01" in panel and "李志愿" in panel
    assert "Deadline" in panel, "the volunteer's time to reply"
    assert 'id="checkin-episode"' not in client.get(f"/console/cases/{other.number}").get_data(
        as_text=True
    )
    response = client.post(
        f"/console/checkins/episodes/{episode.id}/close", data={"reached": "1", "back": "case"}
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/console/cases/{case.number}#checkin-episode")
    session.expire_all()
    assert session.get(CheckinEpisode, episode.id).status == S.REACHED


def test_a_lost_contact_deadline_is_the_volunteers_time_to_reply_until_escalated():
    reply_by, escalation = local(DAY, 12), local(DAY, 16)
    episode = CheckinEpisode(status=S.CASCADE, next_step_at=reply_by)
    case = Case(escalation_deadline_at=None)
    assert queries.BoardRow(episode, None, None, case).deadline_at == reply_by
    case.escalation_deadline_at = escalation
    assert queries.BoardRow(episode, None, None, case).deadline_at == escalation
    assert queries.BoardRow(episode, None, None, None).deadline_at is None
