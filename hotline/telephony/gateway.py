"""The one seam to Twilio's REST API for outbound work (calls, SMS, queue and conference control).

Always the real twilio SDK: against Twilio, against the local development gateway
(TWILIO_API_BASE_URL, which defaults to it when TWILIO_ACCOUNT_SID is not set), or against a
recording `http_client` in tests (app.config["TWILIO_HTTP_CLIENT"]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from hotline.numberpolicy import NumberPolicy

#: Call progress events for outbound calls whose handler records every step (callback calls).
ALL_CALL_EVENTS = ["initiated", "ringing", "answered", "completed"]
#: Only the end of the call (Twilio's "completed" event also reports busy, no-answer, failed and
#: canceled): for legs whose handler ignores the progress before it, every webhook saved counts.
TERMINAL_CALL_EVENTS = ["completed"]


class OutboundNumberRefused(TwilioException):
    """The number policy refused a call or text at the gateway (nothing was sent to Twilio).

    The last line of defence: each feature checks the policy first and records its own reason;
    this only guarantees no path reaches Twilio with a refused number. A TwilioException, so
    every caller's existing "Twilio did not place it" handling applies.
    """


def check_outbound(number: str) -> None:
    """Raise OutboundNumberRefused when the number policy refuses `number`."""
    refusal = NumberPolicy.from_config(current_app.config).refusal(number)
    if refusal is not None:
        raise OutboundNumberRefused(f"number policy: {refusal}")


def build_client(config: dict[str, Any]) -> Client:
    """Create a twilio Client from the app configuration (never at import time)."""
    http_client = config.get("TWILIO_HTTP_CLIENT")
    if http_client is None:
        from twilio.http.http_client import TwilioHttpClient

        # A stalled Twilio must not hold a clock job or a console click for ever.
        http_client = TwilioHttpClient(timeout=config.get("TWILIO_HTTP_TIMEOUT_SECONDS") or 10)
    client = Client(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client
    )
    base = config.get("TWILIO_API_BASE_URL")
    if base:
        client.api.base_url = base.rstrip("/")
    return client


@dataclass
class TelephonyGateway:
    """Outbound operations the hotline performs, each a thin call of the twilio SDK."""

    client: Client

    def send_sms(self, *, to: str, from_: str, body: str, status_callback: str | None) -> str:
        """Send one SMS; returns the MessageSid."""
        check_outbound(to)
        kwargs: dict[str, Any] = {"to": to, "from_": from_, "body": body}
        if status_callback:
            kwargs["status_callback"] = status_callback
        return self.client.messages.create(**kwargs).sid

    def create_call(
        self,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        timeout_seconds: int = 30,
        machine_detection: bool = False,
        fallback_url: str | None = None,
        status_events: Sequence[str] = tuple(ALL_CALL_EVENTS),
    ) -> str:
        """Place an outbound call that will fetch its TwiML from `url`; returns the CallSid.

        `machine_detection` asks for answering-machine detection that waits for the end of the
        machine's greeting (DetectMessageEnd), so a message left on a machine is not cut off at
        its start; a person is still recognised as soon as they speak. `fallback_url` is where
        Twilio asks for TwiML when `url` fails (without it the person hears "application error").
        `status_events` are the progress events posted to `status_callback`.
        """
        check_outbound(to)
        kwargs: dict[str, Any] = {
            "to": to,
            "from_": from_,
            "url": url,
            "status_callback": status_callback,
            "status_callback_event": list(status_events),
            "status_callback_method": "POST",
            "timeout": timeout_seconds,
        }
        if machine_detection:
            kwargs["machine_detection"] = "DetectMessageEnd"
        if fallback_url:
            kwargs["fallback_url"] = fallback_url
            kwargs["fallback_method"] = "POST"
        return self.client.calls.create(**kwargs).sid

    def redirect_call(self, call_sid: str, *, url: str) -> None:
        """Make a live call fetch new TwiML from `url`."""
        self.client.calls(call_sid).update(url=url, method="POST")

    def hang_up(self, call_sid: str) -> None:
        """End a live call."""
        self.client.calls(call_sid).update(status="completed")

    def dequeue(self, queue_sid: str, call_sid: str, *, url: str) -> None:
        """Take exactly this caller out of the Twilio queue and run the TwiML at `url`."""
        self.client.queues(queue_sid).members(call_sid).update(url=url, method="POST")

    def add_conference_participant(
        self,
        conference: str,
        *,
        from_: str,
        to: str,
        status_callback: str | None = None,
        label: str | None = None,
        timeout_seconds: int = 30,
        end_conference_on_exit: bool = False,
        status_events: Sequence[str] = tuple(ALL_CALL_EVENTS),
        is_transfer_destination: bool = False,
    ) -> str:
        """Ring `to` and put them into `conference` (SID or friendly name); returns the CallSid.

        `is_transfer_destination`: an outside party an operator brings into a caller's
        conversation, for whom the emergency short codes (120/110/119/122) are allowed too.
        """
        if is_transfer_destination:
            refusal = NumberPolicy.from_config(current_app.config).transfer_refusal(to)
            if refusal is not None:
                raise OutboundNumberRefused(f"number policy: {refusal}")
        else:
            check_outbound(to)
        kwargs: dict[str, Any] = {
            "from_": from_,
            "to": to,
            "timeout": timeout_seconds,
            "start_conference_on_enter": True,
            "end_conference_on_exit": end_conference_on_exit,
            "early_media": True,
            "beep": "false",
        }
        if status_callback:
            kwargs["status_callback"] = status_callback
            kwargs["status_callback_event"] = list(status_events)
            kwargs["status_callback_method"] = "POST"
        if label:
            kwargs["label"] = label
        return self.client.conferences(conference).participants.create(**kwargs).call_sid

    def hold_participant(
        self, conference_sid: str, call_sid: str, *, hold: bool, hold_url: str | None = None
    ) -> None:
        """Put a conference participant on hold (with `hold_url` playing) or take them off."""
        kwargs: dict[str, Any] = {"hold": hold}
        if hold and hold_url:
            kwargs["hold_url"] = hold_url
        self.client.conferences(conference_sid).participants(call_sid).update(**kwargs)

    def set_end_conference_on_exit(self, conference_sid: str, call_sid: str, value: bool) -> None:
        """Whether this participant's leaving ends the conference (hand-overs move it)."""
        self.client.conferences(conference_sid).participants(call_sid).update(
            end_conference_on_exit=value
        )

    def announce_to_participant(self, conference_sid: str, call_sid: str, *, url: str) -> None:
        """Play the TwiML at `url` (Say/Play) to this participant only."""
        self.client.conferences(conference_sid).participants(call_sid).update(
            announce_url=url, announce_method="POST"
        )

    def delete_recording(self, recording_sid: str) -> None:
        """Delete a call recording at Twilio (retention, erasure on request)."""
        self.client.recordings(recording_sid).delete()

    def remove_participant(self, conference_sid: str, call_sid: str) -> None:
        """Drop one participant from a conference."""
        self.client.conferences(conference_sid).participants(call_sid).delete()


def init_app(app: Flask) -> None:
    """Register the lazily-built gateway factory on the app."""
    app.extensions["hotline.gateway"] = None


def get_gateway() -> TelephonyGateway:
    """The current app's gateway, built on first use (no client exists before that)."""
    gateway = current_app.extensions.get("hotline.gateway")
    if gateway is None:
        gateway = TelephonyGateway(build_client(current_app.config))
        current_app.extensions["hotline.gateway"] = gateway
    return gateway


def public_base_url() -> str:
    """Base URL Twilio uses to reach us, for callbacks built outside a request (the clock)."""
    from flask import has_request_context, request

    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base
    if has_request_context():
        return request.url_root.rstrip("/")
    return current_app.config.get("LOCAL_BASE_URL", "http://127.0.0.1:5000")
