"""The supervisor page: supervisors only, the same figures as the SMS, an inline SVG trend."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hotline.calls.models import Call, CallDirection, CallOutcome, CallStatus
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role

PASSWORD = "a long password"


def _login(client, username):
    response = client.post("/console/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def supervisor_client(client, make_supervisor, now):
    make_supervisor("zhang")
    _login(client, "zhang")
    return client


def _calls(app, line_id, now):
    with app.app_context():
        for i, (wait, outcome) in enumerate(
            [(5, CallOutcome.ANSWERED), (40, CallOutcome.ANSWERED), (90, CallOutcome.ABANDONED)]
        ):
            queued = now - timedelta(hours=2, minutes=i)
            db.session.add(
                Call(
                    call_sid=f"CA{i:032d}",
                    line_id=line_id,
                    direction=CallDirection.INBOUND,
                    status=CallStatus.COMPLETED,
                    menu_path=[],
                    scenario="medical",
                    queued_at=queued,
                    answered_at=queued + timedelta(seconds=wait)
                    if outcome == CallOutcome.ANSWERED
                    else None,
                    # Answered calls talk a minute; the abandoned one hangs up after its wait.
                    ended_at=queued
                    + timedelta(seconds=wait + (60 if outcome == CallOutcome.ANSWERED else 0)),
                    outcome=outcome,
                )
            )
        db.session.commit()


def test_only_supervisors_and_admins_see_the_page(client, make_operator, make_supervisor):
    assert client.get("/console/reports/").status_code == 302, "sign in first"
    make_operator("liu")
    _login(client, "liu")
    assert client.get("/console/reports/").status_code == 403
    make_supervisor("boss", "+8613800000009", role=Role.ADMIN)
    _login(client, "boss")
    assert client.get("/console/reports/").status_code == 200


def _text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, element_id
    return match.group(1).strip()


def test_todays_numbers_match_the_summary_text(app, line_id, supervisor_client, now):
    _calls(app, line_id, now)
    page = supervisor_client.get("/console/reports/").get_data(as_text=True)
    figures = {
        key: _text(page, key)
        for key in (
            "m-offered",
            "m-answered",
            "m-abandoned",
            "m-short",
            "m-sl-answered",
            "m-sl-offered",
            "m-asa",
            "m-longest",
            "m-abandon-rate",
        )
    }
    assert figures == {
        "m-offered": "3",
        "m-answered": "2",
        "m-abandoned": "1",
        "m-short": "0",
        "m-sl-answered": "50%",
        "m-sl-offered": "33%",
        "m-asa": "23秒",  # 22.5 s, half up
        "m-longest": "1分30秒",
        "m-abandon-rate": "33%",
    }
    preview = _text(page, "sms-preview")
    assert preview.startswith(
        "11-29 14:05 日报 来电3 接通2 放弃1 短弃0；20秒接通率 按接通50% 按来电33%"
    )
    assert 'data-scenario="medical"' in page and "就医" in page
    assert 'href="/console/reports/" aria-current="page"' in page, "in the console navigation"


def test_the_trend_chart_is_inline_svg_without_scripts_or_cdn(app, line_id, supervisor_client, now):
    _calls(app, line_id, now)
    page = supervisor_client.get("/console/reports/").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert svg.count('<g class="bar">') == 7
    assert "<polyline" in svg
    assert "<script" not in page.split("</header>", 1)[1]
    assert not re.search(r"""(src|href)=["']https?://""", page), "no CDN, no external links"
    assert "11-29" in svg and "11-23" in svg


def test_the_page_speaks_english(app, line_id, now, client, make_supervisor):
    make_supervisor("li", lang="en")
    _login(client, "li")
    page = client.get("/console/reports/").get_data(as_text=True)
    assert "Service level" in page and "Last 7 days" in page
    assert _text(page, "sms-preview").startswith("29 Nov 14:05: Daily report: calls 0")


def test_line_names_are_escaped(app, line_id, supervisor_client, now):
    with app.app_context():
        db.session.get(Line, line_id).name = "<script>alert(1)</script>"
        db.session.commit()
    page = supervisor_client.get("/console/reports/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_choosing_another_line(app, line_id, supervisor_client, now):
    with app.app_context():
        db.session.add(Line(key="east", name="东区热线", phone_number="+861087654321"))
        db.session.commit()
    page = supervisor_client.get("/console/reports/?line=east").get_data(as_text=True)
    assert "值班概况 · 东区热线" in page
    assert '<option value="east" selected>' in page


@pytest.mark.browser
def test_the_chart_renders_in_a_real_browser(app, line_id, make_supervisor, live_server, page):
    make_supervisor("zhang")
    page.goto(f"{live_server.url}/console/login")
    page.fill("input[name=username]", "zhang")
    page.fill("input[name=password]", PASSWORD)
    page.press("input[name=password]", "Enter")
    page.wait_for_url("**/console/**")
    page.goto(f"{live_server.url}/console/reports/")
    chart = page.locator("#trend-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    assert page.locator("#trend-chart g.bar").count() == 7
    assert page.locator("#trend-table tbody tr").count() == 7
