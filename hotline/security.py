"""What the web app refuses, in one place: oversized bodies, development credentials in
production, cookies without their flags, pages without security headers, and forwarded
addresses from untrusted hops.

`check_credentials` runs before anything else in create_app; `init_app` installs the rest.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlparse

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from hotline.config import DEV_ACCOUNT_SID, DEV_AUTH_TOKEN, ConfigError
from hotline.ivr.engine import SayAction
from hotline.telephony.speech import DEFAULT_RATE, add_say, voice_for

#: Twilio's webhook parameters are a few KB; an SMS body is at most 1600 characters (about
#: 15 KB URL-encoded in Chinese). 64 KB leaves room and keeps a worker's memory flat.
MAX_REQUEST_BYTES = 64 * 1024

#: What a voice URL says when it refuses a request (413, 400, 403, 404, 405): Twilio reads a
#: text/plain body aloud as an "application error"; this apologises and hangs up.
REFUSAL_TEXT = "非常抱歉,系统暂时无法处理您的来电,请稍后再拨。再见。"


def refusal_twiml() -> str:
    """A short apology and a hang-up, built without the database or a script."""
    response = VoiceResponse()
    add_say(response, SayAction(REFUSAL_TEXT, "zh-CN", voice_for("zh-CN"), DEFAULT_RATE))
    response.hangup()
    return str(response)


def check_credentials(config: dict) -> None:
    """Refuse to start with the public development Twilio credentials unless development mode
    is switched on explicitly (HOTLINE_DEV_MODE=1, which `python3 dev.py run` sets).

    The development token is in the source code, so anyone could sign webhooks with it: a
    hotline running with it on a real number would accept forged calls and texts.
    """
    uses_dev_credentials = (
        config.get("TWILIO_AUTH_TOKEN") == DEV_AUTH_TOKEN
        or config.get("TWILIO_ACCOUNT_SID") == DEV_ACCOUNT_SID
    )
    if uses_dev_credentials and not config.get("HOTLINE_DEV_MODE"):
        raise ConfigError(
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not set, so the hotline would accept "
            "webhooks signed with the public development token. Set your Twilio credentials, or "
            "set HOTLINE_DEV_MODE=1 to run locally with the development gateway (dev.py does)."
        )


def configure(app: Flask) -> None:
    """Request size limit and session cookie flags (call after the configuration is loaded)."""
    app.config["MAX_CONTENT_LENGTH"] = min(
        app.config.get("MAX_CONTENT_LENGTH") or MAX_REQUEST_BYTES, MAX_REQUEST_BYTES
    )
    # Flask defines SESSION_COOKIE_SAMESITE (None), so setdefault would never apply.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    if _is_https(app.config.get("PUBLIC_BASE_URL")):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True


def _is_https(url: str | None) -> bool:
    return bool(url) and urlparse(url).scheme == "https"


class WebhookSession(SecureCookieSession):
    """A Twilio webhook's session: empty, and discarded with the request."""


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, its signing serializer built once per set of secret keys
    instead of on every request (issue 16: about 40 µs of every webhook, none of which has a
    session). The serializer keeps no state between calls, so threads may share it."""

    _signing: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._signing
        if cached is None or cached[0] != keys:
            cached = (keys, super().get_signing_serializer(app))
            self._signing = cached
        return cached[1]

    def open_session(self, app: Flask, request) -> SessionMixin | None:
        """No session for Twilio's webhooks (/twilio/...): nobody signs in there, the signature
        is the authentication. An empty session that is never saved: no cookie parsed, no
        signing, no Set-Cookie (issue 16). Writable, so an extension's after-request hook that
        touches the session (Flask-Login's remember-cookie refresh) cannot fail a webhook."""
        path = request.path
        if path.startswith("/twilio/") or path == "/twilio":
            return WebhookSession()
        return super().open_session(app, request)

    def is_null_session(self, obj: object) -> bool:
        return isinstance(obj, WebhookSession) or super().is_null_session(obj)


def init_app(app: Flask) -> None:
    """Proxy hops, the 413 refusal, TwiML for refused voice requests, and security headers."""
    app.session_interface = SessionInterface()
    hops = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if hops > 0:
        # Only the last `hops` X-Forwarded-For/-Proto entries are believed: the ones our own
        # proxies appended. Without this setting forwarded headers are ignored entirely.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    @app.before_request
    def _refuse_oversized_body():
        # Before the signature check reads the form: a declared oversize body is never read.
        limit = app.config["MAX_CONTENT_LENGTH"]
        length = request.content_length
        if length is not None and length > limit:
            raise RequestEntityTooLarge()
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        # A chunked body has no length to check: werkzeug stops reading at the limit but would
        # parse the truncated form. Read it (at most `limit` bytes, kept for the form parser)
        # and refuse one that reaches the limit.
        if length is None and chunked and len(request.get_data(cache=True)) >= limit:
            raise RequestEntityTooLarge()

    @app.after_request
    def _voice_urls_answer_twiml(response: Response) -> Response:
        # Also covers the webhook guard's 400 for a malformed request and the signature 403.
        refused = response.status_code >= 400 and response.mimetype != "text/xml"
        if refused and _is_voice_url(request.path):
            response.set_data(refusal_twiml())
            response.mimetype = "text/xml"
        return response

    @app.before_request
    def _csp_nonce():
        g.csp_nonce = secrets.token_urlsafe(16)

    app.jinja_env.globals["csp_nonce"] = lambda: getattr(g, "csp_nonce", "")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        return add_security_headers(app, response)


def _is_voice_url(path: str) -> bool:
    """Every Twilio URL but the SMS ones belongs to a call: answers there may be spoken, so
    they must be TwiML (a status callback's answer is ignored, and TwiML there is harmless)."""
    is_twilio = path == "/twilio" or path.startswith("/twilio/")
    return is_twilio and not (path == "/twilio/sms" or path.startswith("/twilio/sms/"))


def content_security_policy(app: Flask, nonce: str) -> str:
    """Scripts only from this site (and the Twilio Voice SDK when configured), no framing."""
    script_src = ["'self'", f"'nonce-{nonce}'"]
    connect_src = ["'self'"]
    media_src = ["'self'"]
    sdk_url = app.config.get("TWILIO_VOICE_SDK_URL")
    if sdk_url:
        parsed = urlparse(sdk_url)
        script_src.append(f"{parsed.scheme}://{parsed.netloc}")
        # The Voice SDK signals over wss and fetches its sounds from Twilio's CDN.
        connect_src += ["https://*.twilio.com", "wss://*.twilio.com"]
        media_src.append("https://*.twilio.com")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + " ".join(script_src),
            # Styles: inline style attributes (charts) are harmless next to a strict script-src.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "media-src " + " ".join(media_src),
            "connect-src " + " ".join(connect_src),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def add_security_headers(app: Flask, response: Response) -> Response:
    """Headers on every response; console pages (personal data) are never cached."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(app, getattr(g, "csp_nonce", "") or "none"),
        )
    if _is_https(app.config.get("PUBLIC_BASE_URL")):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Console pages and their JSON show callers' data; static files carry none and may be cached.
    if request.path.startswith("/console") and "/static/" not in request.path:
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response
