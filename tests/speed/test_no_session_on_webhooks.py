"""Twilio's webhooks (/twilio/...) neither open nor save the cookie session (issue 16): no
cookie parsed, no Set-Cookie, no Vary: Cookie; the console still has its session."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface


def _call(twilio):
    return twilio.post("/twilio/voice", twilio.call_params(twilio.new_call_sid()))


def test_a_webhook_has_no_session_work(app, client, twilio, monkeypatch):
    # A browser-style session cookie on the request must not even be read.
    with client.session_transaction() as session:
        session["probe"] = "x"
    calls = []
    interface = app.session_interface
    for name in ("get_signing_serializer", "save_session"):
        original = getattr(interface, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(interface, name, spy)

    response = _call(twilio)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert calls == []


def test_a_webhook_gets_a_null_session(app):
    with app.test_request_context("/twilio/voice", method="POST"):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert app.session_interface.is_null_session(session)
    with app.test_request_context("/twilio", method="POST"):
        from flask import request

        assert app.session_interface.is_null_session(
            app.session_interface.open_session(app, request)
        )


def test_the_console_still_has_its_session(app, make_app):
    assert isinstance(app.session_interface, SecureCookieSessionInterface)
    with app.test_request_context("/console/login"):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert not app.session_interface.is_null_session(session)
    with app.test_request_context("/twilioX"):
        from flask import request

        session = app.session_interface.open_session(app, request)
        assert not app.session_interface.is_null_session(session)
    response = make_app(WTF_CSRF_ENABLED=True).test_client().get("/console/login")
    assert response.status_code == 200  # the sign-in form keeps its CSRF token in the session
    assert "session=" in response.headers.get("Set-Cookie", "")


def test_a_hook_writing_the_session_does_not_fail_a_webhook(make_app, twilio):
    """Flask-Login's remember-cookie refresh writes the session after every request when
    REMEMBER_COOKIE_REFRESH_EACH_REQUEST is set: a webhook still answers, and saves nothing."""
    from conftest import TwilioCaller

    application = make_app(REMEMBER_COOKIE_REFRESH_EACH_REQUEST=True)
    other = TwilioCaller(client=application.test_client())
    response = other.post("/twilio/voice", other.call_params(other.new_call_sid()))
    assert response.status_code == 200
    assert b"<Gather" in response.data
    assert "Set-Cookie" not in response.headers
