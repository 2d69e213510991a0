"""The 个案排查 report of check-ins: per district and per volunteer over a period, checked
against a set computed by hand, and its CSV with the cases export's role rule (figures for
everyone, who was missed for supervisors only), audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from hotline.cases.models import AuditEntry
from hotline.checkins import queries
from hotline.checkins.models import EnrolmentStatus, EpisodeStatus
from hotline.lines.models import Line
from hotline.operators.models import Role
from tests import factories
from tests.checkins.episodes import make_episode, missed
from tests.checkins.test_console import elder, sign_in

S = EpisodeStatus
FROM, TO = date(2026, 11, 1), date(2026, 11, 30)
PERIOD = {"date_from": FROM.isoformat(), "date_to": TO.isoformat()}


def _at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 2, 0, tzinfo=UTC)


@pytest.fixture
def november(session):
    """Six elders in two districts with two volunteers (see each line for what counts)."""
    v1 = factories.make_volunteer(session, name="李志愿", phone_number="+8613800000199")
    v2 = factories.make_volunteer(
        session, name="赵志愿", phone_number="+8613800000198", district="西城街道"
    )
    a, ea = elder(session, 1, district="东城街道", volunteer=v1)
    b, eb = elder(session, 2, district="东城街道", volunteer=v2)
    c, ec = elder(session, 3, district="西城街道", volunteer=v2)
    d, ed = elder(session, 4, district="西城街道")
    e, ee = elder(session, 5, district="西城街道", volunteer=v1)
    f, ef = elder(session, 6, district="东城街道", volunteer=v1)
    for enrolment in (ea, eb, ec, ef):
        enrolment.created_at = _at(2026, 10, 15)
    ed.created_at = _at(2026, 11, 20)
    ed.status, ed.stopped_at = EnrolmentStatus.STOPPED, _at(2026, 11, 25)  # enrolled in Nov
    ee.created_at = _at(2026, 12, 2)  # enrolled after the period: not counted
    ef.status, ef.stopped_at = EnrolmentStatus.STOPPED, _at(2026, 10, 20)  # before: not counted

    def day(n: int, month: int = 11) -> date:
        return date(2026, month, n)

    # A: two OK, one missed then reached after 30 min, one needed help: 4 placed.
    make_episode(session, ea, day(3), S.OK, attempts=1)
    make_episode(session, ea, day(4), S.OK, attempts=1)
    make_episode(session, ea, day(5), S.REACHED, **missed(day(5), reached_after_minutes=30))
    make_episode(session, ea, day(6), S.HELP, attempts=1)
    # B: missed and not reached; missed then reached after 90 min; called in before being
    # called (OK, not placed); an OK in December (outside).
    make_episode(session, eb, day(3), S.UNREACHABLE, **missed(day(3)))
    make_episode(session, eb, day(4), S.REACHED, **missed(day(4), reached_after_minutes=90))
    make_episode(session, eb, day(5), S.OK, attempts=0)
    make_episode(session, eb, day(1, month=12), S.OK, attempts=1)
    # C: a canceled day (counts nowhere), an OK on the second call.
    make_episode(session, ec, day(10), S.CANCELED)
    make_episode(session, ec, day(11), S.OK, attempts=2)
    # D (no volunteer): missed, the cascade still running.
    make_episode(session, ed, day(21), S.CASCADE, **missed(day(21)))
    session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "v1": v1, "v2": v2}


def _figures(row) -> tuple:
    return (row.enrolled, row.placed, row.ok, row.help, row.missed, row.reached)


def test_per_district_figures_match_the_hand_count(session, november):
    report = queries.checkin_report(session, "district", FROM, TO)
    rows = {r.label: r for r in report.rows}
    assert set(rows) == {"东城街道", "西城街道"}
    # 东城: A and B enrolled (F stopped in October); placed A 4 + B 2; OK A 2 + B 1; help A 1;
    # missed A 1 + B 2; reached A 1 + B 1, after 30 and 90 minutes.
    assert _figures(rows["东城街道"]) == (2, 6, 3, 1, 3, 2)
    assert rows["东城街道"].average_reach_seconds == 60 * 60
    # 西城: C and D enrolled (E only in December); placed C 1 + D 1; OK C 1; missed D 1.
    assert _figures(rows["西城街道"]) == (2, 2, 1, 0, 1, 0)
    assert rows["西城街道"].average_reach_seconds is None
    assert _figures(report.total) == (4, 8, 4, 1, 4, 2)
    assert report.total.average_reach_seconds == 60 * 60
    assert report.total.missed_elders == {
        november["a"].id: 1,
        november["b"].id: 2,
        november["d"].id: 1,
    }


def test_per_volunteer_figures_match_the_hand_count(session, november):
    report = queries.checkin_report(session, "volunteer", FROM, TO)
    rows = {r.label: r for r in report.rows}
    assert list(rows) == ["李志愿", "赵志愿", ""], "named volunteers first, then nobody's"
    assert _figures(rows["李志愿"]) == (1, 4, 2, 1, 1, 1)
    assert rows["李志愿"].average_reach_seconds == 30 * 60
    assert _figures(rows["赵志愿"]) == (2, 3, 2, 0, 2, 1)
    assert rows["赵志愿"].average_reach_seconds == 90 * 60
    assert _figures(rows[""]) == (1, 1, 0, 0, 1, 0)


def _csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_operators_export_the_figures_without_personal_columns(app, client, session, november):
    operator_id = sign_in(client, session, Role.OPERATOR)
    page = client.get("/console/checkins/reports", query_string={**PERIOD, "by": "district"})
    assert page.status_code == 200
    assert "Missed elders" not in page.get_data(as_text=True)
    response = client.get(
        "/console/checkins/reports.csv", query_string={**PERIOD, "by": "district"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv(response)
    assert list(rows[0]) == [
        "group",
        "enrolled",
        "checkins_placed",
        "answered_ok",
        "needed_help",
        "missed",
        "reached",
        "average_minutes_to_reach",
    ]
    assert rows[0] == {
        "group": "东城街道",
        "enrolled": "2",
        "checkins_placed": "6",
        "answered_ok": "3",
        "needed_help": "1",
        "missed": "3",
        "reached": "2",
        "average_minutes_to_reach": "60.0",
    }
    assert rows[-1]["group"] == "total" and rows[-1]["checkins_placed"] == "8"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "csv_export"))
    assert entry.operator_id == operator_id
    assert entry.after["report"] == "checkins" and entry.after["is_personal"] is False


def test_supervisors_also_get_who_was_missed(app, client, session, november):
    sign_in(client, session, Role.SUPERVISOR)
    page = client.get("/console/checkins/reports", query_string={**PERIOD, "by": "volunteer"})
    html = page.get_data(as_text=True)
    assert "Missed elders" in html
    b = november["b"]
    assert f'<a href="/console/callers/{b.id}">老人2</a> ×2' in html
    response = client.get(
        "/console/checkins/reports.csv", query_string={**PERIOD, "by": "volunteer"}
    )
    rows = {r["group"]: r for r in _csv(response)}
    assert rows["赵志愿"]["volunteer_phone"] == "+8613800000198"
    assert rows["赵志愿"]["missed_elders"] == "老人2 +861055550002 ×2"
    assert rows["李志愿"]["missed_elders"] == "老人1 +861055550001 ×1"
    assert rows["total"]["missed_elders"].startswith("老人2 +861055550002 ×2; ")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "csv_export"))
    assert entry.after["is_personal"] is True and "missed_elders" in entry.after["columns"]


def test_a_period_that_ends_before_it_starts_is_refused(app, client, session):
    sign_in(client, session, Role.OPERATOR)
    bad = {"date_from": "2026-11-30", "date_to": "2026-11-01"}
    page = client.get("/console/checkins/reports", query_string=bad)
    assert page.status_code == 400
    assert "The end date is before the start date." in page.get_data(as_text=True)
    response = client.get("/console/checkins/reports.csv", query_string=bad)
    assert response.status_code == 303
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "csv_export")) is None


def test_each_line_counts_its_enrolled_elders_by_its_own_time_zone(session):
    """November by each line's clock: Shanghai is UTC+8, Urumqi UTC+6. Each elder below sits
    between the two lines' bounds, so the other line's zone would count them the other way."""
    shanghai = factories.main_line(session)
    urumqi = Line(key="west", name="乌鲁木齐热线", phone_number="+869911234567")
    urumqi.timezone = "Asia/Urumqi"
    session.add(urumqi)
    session.flush()

    def enrolled(n: int, line: Line, district: str, created: datetime, stopped=None):
        caller = factories.make_caller(
            session, phone_number=f"+8610555501{n:02d}", display_name=f"老人{n}", district=district
        )
        enrolment = factories.make_enrolment(session, caller_id=caller.id, line_id=line.id)
        enrolment.created_at = created
        if stopped is not None:
            enrolment.status, enrolment.stopped_at = EnrolmentStatus.STOPPED, stopped
        return enrolment

    # 1 December 01:00 in Shanghai: after the period (in Urumqi it would be 30 Nov 23:00).
    enrolled(1, shanghai, "东城一", datetime(2026, 11, 30, 17, tzinfo=UTC))
    # Stopped 1 November 01:00 in Shanghai: live in the period.
    enrolled(2, shanghai, "东城二", _at(2026, 10, 1), datetime(2026, 10, 31, 17, tzinfo=UTC))
    # 30 November 23:00 in Urumqi: in the period (in Shanghai it would be 1 December 01:00).
    enrolled(3, urumqi, "天山一", datetime(2026, 11, 30, 17, tzinfo=UTC))
    # Stopped 31 October 23:00 in Urumqi: before the period.
    enrolled(4, urumqi, "天山二", _at(2026, 10, 1), datetime(2026, 10, 31, 17, tzinfo=UTC))
    session.commit()

    report = queries.checkin_report(session, "district", FROM, TO)
    rows = {r.label: r.enrolled for r in report.rows}
    # (one zone for both would give 东城一 and 天山一, or 东城二 and 天山二)
    assert rows == {"东城二": 1, "天山一": 1}
    assert report.total.enrolled == 2
