"""The console works under its Content-Security-Policy in Chromium: no page reports a
violation, and the line picker (formerly an inline handler) still submits (issue 12, item 4)."""

from __future__ import annotations

import pytest

from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

PAGES = (
    "/console/queue",
    "/console/cases",
    "/console/callers",
    "/console/callbacks",
    "/console/cases/escalations",
    "/console/cases/review",
    "/console/reports/",
    "/console/admin/operators",
    "/console/dev/",
)


def test_console_pages_report_no_csp_violation(app, live_server, page, add_operator):
    add_operator("boss", role=Role.ADMIN)
    with app.app_context():
        main = db.session.query(Line).filter_by(key="main").one()
        db.session.add(
            Line(
                key="second",
                name="第二热线",
                phone_number="+861012345679",
                is_open_every_day=True,
                opens_at=main.opens_at,
                closes_at=main.closes_at,
            )
        )
        db.session.commit()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Security Policy" in m.text else 0)
    page.goto(live_server.url + "/console/login")
    page.fill("#username", "boss")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/queue")
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("load")
    assert not violations, violations

    page.goto(live_server.url + "/console/reports/")
    page.select_option("select#line", "second")
    page.wait_for_url("**line=second**")
    assert "第二热线" in page.locator("h1").inner_text()
