"""Console sign-in: passwords, roles, rate limit, CSRF."""

from __future__ import annotations

import pytest

from hotline.db import db
from hotline.operators.auth import MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS
from hotline.operators.models import Role
from tests import factories


@pytest.fixture
def make_operator(app):
    def _make(username="op1", role=Role.OPERATOR, password="correct horse battery", **kw):
        with app.app_context():
            op = factories.make_operator(db.session, username, role=role, password=password, **kw)
            db.session.commit()
            return op.id

    return _make


def _login(client, username, password):
    return client.post("/console/login", data={"username": username, "password": password})


def test_operator_signs_in_with_the_right_password(client, make_operator):
    make_operator()
    assert _login(client, "op1", "correct horse battery").status_code == 302
    assert client.get("/console/").status_code in (200, 302)


def test_wrong_password_is_refused_with_a_clear_message(client, make_operator):
    make_operator()
    response = _login(client, "op1", "wrong")
    assert response.status_code == 401
    assert "用户名或密码不对" in response.get_data(as_text=True)


def test_failures_beyond_the_account_limit_within_15_minutes_are_rate_limited(
    client, make_operator
):
    make_operator()
    for _ in range(MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS):
        assert _login(client, "op1", "wrong").status_code == 401
    response = _login(client, "op1", "correct horse battery")
    assert response.status_code == 429, "even the right password waits after the limit"


def test_console_requires_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_login_form_requires_csrf_token_when_csrf_is_on(make_app, make_operator):
    application = make_app(WTF_CSRF_ENABLED=True)
    with application.app_context():
        db.create_all()
    response = application.test_client().post(
        "/console/login", data={"username": "x", "password": "y"}
    )
    assert response.status_code == 400


def test_cli_creates_the_first_admin_and_resets_a_password(app, runner):
    result = runner.invoke(
        args=["operators", "create", "boss", "--role", "admin", "--password", "a long enough pw"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["operators", "create", "short", "--password", "short"])
    assert result.exit_code != 0 and "at least 10" in result.output
    result = runner.invoke(
        args=["operators", "reset-password", "boss", "--password", "another long pw"]
    )
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert _login(client, "boss", "another long pw").status_code == 302


@pytest.mark.browser
def test_sign_in_in_a_real_browser_with_csrf(make_app, make_operator, new_page):
    """Headless Chromium signs in through the real form (CSRF on) and can switch language."""
    from browser import LiveServer

    make_operator(username="lin", password="correct horse battery", display_name="林坐席")
    application = make_app(WTF_CSRF_ENABLED=True)
    server = LiveServer(application.wsgi_app).start()
    try:
        page = new_page()
        page.goto(server.url + "/console/")
        page.fill("#username", "lin")
        page.fill("#password", "correct horse battery")
        page.keyboard.press("Enter")
        page.wait_for_selector("text=林坐席")
        page.click("text=English")
        page.wait_for_selector("text=Sign out")
    finally:
        server.stop()
