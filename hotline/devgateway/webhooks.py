"""Sending signed webhooks exactly as Twilio does (URL + sorted params, HMAC-SHA1, base64)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit, urlunsplit

import requests
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

USER_AGENT = "TwilioProxy/1.1 (hotline devgateway)"


@dataclass
class Exchange:
    """One webhook request the gateway sent and what came back."""

    id: int
    at: float
    kind: str
    method: str
    url: str
    params: list[tuple[str, str]]
    signature: str
    call_sid: str | None = None
    message_sid: str | None = None
    conference_sid: str | None = None
    status_code: int | None = None
    content_type: str = ""
    response_body: str = ""
    elapsed_ms: float = 0.0
    #: Transport failure (refused, timed out) in words; None when an HTTP answer came back.
    error: str | None = None
    #: Why the body was not used (a status callback, a call that had already hung up).
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict:
        """JSON form for the developer page."""
        return {
            "id": self.id,
            "at": self.at,
            "kind": self.kind,
            "method": self.method,
            "url": self.url,
            "params": [[k, v] for k, v in self.params],
            "signature": self.signature,
            "call_sid": self.call_sid,
            "message_sid": self.message_sid,
            "conference_sid": self.conference_sid,
            "status_code": self.status_code,
            "content_type": self.content_type,
            "response_body": self.response_body[:20000],
            "elapsed_ms": round(self.elapsed_ms, 1),
            "error": self.error,
            "note": self.note,
        }


def resolve_url(base: str | None, target: str) -> str:
    """Resolve a TwiML URL against the URL of the document that named it, as Twilio does."""
    target = (target or "").strip()
    if not base:
        return target
    return urljoin(base, target)


def url_timeouts(url: str, *, connect: float, total: float) -> tuple[str, float, float]:
    """Split Twilio's `#ct=..&rt=..&tt=..` fragment off a URL: (url, connect s, read s)."""
    bare, fragment = urldefrag(url)
    if not fragment:
        return bare, connect, total
    options = dict(parse_qsl(fragment))
    try:
        connect = float(options["ct"]) / 1000.0 if "ct" in options else connect
        read = float(options["rt"]) / 1000.0 if "rt" in options else total
        if "tt" in options:
            read = min(read, float(options["tt"]) / 1000.0)
    except ValueError:
        read = total
    return bare, connect, read


def signed_url_and_body(
    url: str, method: str, params: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]] | None]:
    """The URL to request and the form body; GET puts the parameters in the query string."""
    if method.upper() == "GET":
        parts = urlsplit(url)
        query = parts.query + ("&" if parts.query and params else "") + urlencode(params)
        return urlunsplit(parts._replace(query=query)), None
    return url, params


def compute_signature(auth_token: str, url: str, body: list[tuple[str, str]] | None) -> str:
    """X-Twilio-Signature for a request, via twilio's own RequestValidator."""
    return RequestValidator(auth_token).compute_signature(url, MultiDict(body or []))


def decode_body(content: bytes, content_type: str) -> str:
    """Decode a response like an XML parser would: the declared charset, else UTF-8.

    (requests assumes ISO-8859-1 for text/* without a charset, which garbles Chinese TwiML.)
    """
    charset = None
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip('"')
    try:
        return content.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


class WebhookClient:
    """Delivers signed webhooks; one instance per call thread (it keeps a connection pool)."""

    def __init__(self, auth_token: str, *, connect_timeout: float, timeout: float) -> None:
        """Prepare a session that ignores proxy settings from the environment."""
        self.auth_token = auth_token
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.session = requests.Session()
        # A local emulator must talk to the local app even when HTTP_PROXY is set.
        self.session.trust_env = False

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def send(self, exchange: Exchange) -> Exchange:
        """Sign and send `exchange` (its url, method, params); fill in the answer in place."""
        bare, connect, read = url_timeouts(
            exchange.url, connect=self.connect_timeout, total=self.timeout
        )
        request_url, body = signed_url_and_body(bare, exchange.method, exchange.params)
        exchange.url = request_url
        exchange.signature = compute_signature(self.auth_token, request_url, body)
        headers = {
            "X-Twilio-Signature": exchange.signature,
            "User-Agent": USER_AGENT,
            "Accept": "*/*",
            "Cache-Control": "max-age=259200",
        }
        started = time.monotonic()
        try:
            response = self.session.request(
                exchange.method.upper(),
                request_url,
                data=body,
                headers=headers,
                timeout=(connect, read),
                allow_redirects=False,
            )
        except requests.Timeout:
            exchange.error = f"timed out after {read:g} s (Twilio error 11205)"
        except requests.ConnectionError:
            host = urlsplit(request_url).netloc
            exchange.error = f"HTTP request failed: cannot connect to {host} (Twilio error 11200)"
        except requests.RequestException as exc:
            exchange.error = (
                f"HTTP request failed: {type(exc).__name__}: {exc} (Twilio error 11200)"
            )
        else:
            exchange.status_code = response.status_code
            exchange.content_type = response.headers.get("Content-Type", "")
            exchange.response_body = decode_body(response.content, exchange.content_type)
        exchange.elapsed_ms = (time.monotonic() - started) * 1000.0
        return exchange
