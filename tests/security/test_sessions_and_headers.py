"""Session cookies and security headers (issue 12, item 4): SameSite=Lax always, Secure behind
https, a captured cookie dies on logout, password reset and deactivation, and every page sends
a CSP, no framing, nosniff, a referrer policy, and no-store where personal data is shown."""

from __future__ import annotations

import pytest

from hotline.db import db
from hotline.operators.models import Operator, Role

from .conftest import login


def _session_cookie_header(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_the_session_cookie_is_httponly_and_samesite_lax(client, add_operator):
    add_operator()
    cookie = _session_cookie_header(login(client, "op1"))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie, "plain http (local development) cannot send a Secure cookie"


def test_the_session_cookie_is_secure_when_the_public_url_is_https(make_app, add_operator):
    application = make_app(PUBLIC_BASE_URL="https://hotline.example.org")
    add_operator()
    response = login(application.test_client(), "op1")
    assert response.status_code == 302
    cookie = _session_cookie_header(response)
    assert "Secure" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def _stolen_cookie_works(app, client) -> bool:
    """Replay the signed-in client's session cookie from another browser."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief.get("/console/queue").status_code == 200


@pytest.fixture
def signed_in(app, add_operator):
    """A client signed in as op1, and the id of op1."""
    operator_id = add_operator("op1")
    client = app.test_client()
    assert login(client, "op1").status_code == 302
    assert _stolen_cookie_works(app, client)
    return client, operator_id


def test_a_captured_cookie_stops_working_after_logout(app, signed_in):
    client, _ = signed_in
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert client.post("/console/logout").status_code == 302
    assert not _stolen_cookie_works(app, copy)


def test_a_captured_cookie_stops_working_after_an_admin_resets_the_password(
    app, signed_in, add_operator
):
    client, operator_id = signed_in
    add_operator("boss", role=Role.ADMIN)
    admin = app.test_client()
    assert login(admin, "boss").status_code == 302
    response = admin.post(
        f"/console/admin/operators/{operator_id}/password",
        data={"password": "a brand new password"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Operator, operator_id).session_version == 1
    assert not _stolen_cookie_works(app, client)
    assert _stolen_cookie_works(app, admin), "the admin's own session is untouched"


def test_a_captured_cookie_stops_working_after_deactivation_and_reactivation(
    app, signed_in, add_operator
):
    client, operator_id = signed_in
    add_operator("boss", role=Role.ADMIN)
    admin = app.test_client()
    login(admin, "boss")
    form = {"display_name": "op1", "role": "operator", "phone_number": "", "is_active": "y"}
    admin.post(f"/console/admin/operators/{operator_id}", data={**form, "is_active": ""})
    admin.post(f"/console/admin/operators/{operator_id}", data=form)
    with app.app_context():
        operator = db.session.get(Operator, operator_id)
        assert operator.is_active and operator.session_version == 1
    assert not _stolen_cookie_works(app, client)


def test_a_captured_cookie_stops_working_after_a_cli_password_reset(app, runner, signed_in):
    client, _ = signed_in
    result = runner.invoke(args=["operators", "reset-password", "op1", "--password", "x" * 12])
    assert result.exit_code == 0, result.output
    assert not _stolen_cookie_works(app, client)


def test_console_pages_send_the_security_headers_and_are_never_cached(signed_in):
    client, _ = signed_in
    for path in ("/console/login", "/console/queue", "/console/cases", "/console/api/queue"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        headers = response.headers
        if response.mimetype == "text/html":
            csp = headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
            script_src = next(p for p in csp.split("; ") if p.startswith("script-src"))
            assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "no-store" in headers["Cache-Control"], path


def test_twilio_answers_are_nosniff_too(twilio):
    response = twilio.post("/twilio/voice", twilio.call_params(twilio.new_call_sid()))
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_voice_sdk_origin_is_allowed_only_when_configured(make_app):
    plain = make_app().test_client().get("/console/login").headers["Content-Security-Policy"]
    assert "twilio" not in plain
    application = make_app(TWILIO_VOICE_SDK_URL="https://sdk.twilio.com/js/voice/twilio.min.js")
    csp = application.test_client().get("/console/login").headers["Content-Security-Policy"]
    assert "https://sdk.twilio.com" in csp and "wss://*.twilio.com" in csp


def test_no_console_template_has_inline_event_handlers():
    """The CSP blocks inline handlers: none may be left in a template."""
    import re
    from pathlib import Path

    import hotline

    root = Path(hotline.__file__).parent
    offenders = []
    for template in root.rglob("*.html"):
        if "devgateway" in template.parts:
            continue  # a separate app, not served by the hotline
        text = template.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text) or re.search(r"<script(?![^>]*\b(src|type)=)", text):
            offenders.append(template.relative_to(root))
    assert not offenders, offenders


def test_a_session_from_before_session_versions_ends_with_the_first_logout(app, add_operator):
    operator_id = add_operator("op1")
    old = app.test_client()
    with old.session_transaction() as session:
        session["_user_id"] = str(operator_id)
    assert old.get("/console/queue").status_code == 200
    current = app.test_client()
    login(current, "op1")
    current.post("/console/logout")
    assert old.get("/console/queue").status_code == 302
