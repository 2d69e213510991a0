"""The first minute of a call (issue 17) through the dev gateway, over real HTTP.

The hotline app and the local Twilio emulator (hotline.devgateway) each run on a local port: the
emulator posts signed webhooks to the app and plays its TwiML on a dev phone as Twilio would,
with its own speech-time estimate and the Gather timeouts, on a manual clock. Each journey is
timed on that clock until the caller reaches the queue (or the voicemail): silence, 0 at the
first second, 看病, an emergency phrase, a registered elder, a blocked caller, a family proxy.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bench.first_minute import SAID, SAY_LANGUAGES, Journey, prepare
from hotline.callbacks.models import CallbackRequest
from hotline.calls.models import Call
from hotline.db import db
from hotline.ivr.check import speech_seconds
from hotline.queue.models import QueueEntry
from hotline.queue.service import Priority

from .harness import LINE, Gateway

#: Give up on a journey after this many seconds of the emulator's clock.
LIMIT_SECONDS = 90
ELDER = {"zh-CN": "王阿姨", "yue-HK": "陈伯", "en-US": "Mrs Wang"}
#: The number is spoken digit by digit ("1 2 0"), as a caller should dial it.
EMERGENCY_NUMBER = "1 2 0"


@pytest.fixture
def gateway(hotline_gateway) -> Gateway:
    """The hotline app and the emulator wired to each other (conftest.hotline_gateway)."""
    return hotline_gateway


def _tick(gateway: Gateway, seconds: float) -> None:
    gateway.advance(seconds)
    gateway.idle()


def _arrived(view: dict[str, Any]) -> str | None:
    if view["queue"]:
        return "queue"
    if view["activity"] == "recording":
        return "voicemail"
    if view["status"] == "completed":
        return "hangup"
    return None


class Journey17:
    """One call driven on the dev phone, with what it measured."""

    def __init__(self, app, gateway: Gateway, journey: Journey) -> None:
        self.app = app
        self.gateway = gateway
        self.number = prepare(app, journey)
        self.sid = gateway.dial(from_=self.number, to=LINE)["sid"]
        gateway.idle()
        #: Seconds on the emulator's clock since the call was answered.
        self.seconds = 0.0

    def tick(self, seconds: float) -> None:
        """Let `seconds` pass on the emulator's clock."""
        _tick(self.gateway, seconds)
        self.seconds += seconds

    def press(self, digits: str) -> None:
        """Press keys on the dev phone."""
        self.gateway.press(self.sid, digits)
        self.gateway.idle()

    def say(self, text: str) -> None:
        """Say words into the dev phone."""
        self.gateway.say(self.sid, text)
        self.gateway.idle()

    def until_arrived(self) -> str:
        """Let the clock run, a second at a time, until the queue, the voicemail or a hang-up."""
        while self.seconds < LIMIT_SECONDS:
            arrived = _arrived(self.gateway.call(self.sid))
            if arrived is not None:
                return arrived
            self.tick(1)
        raise AssertionError(f"still in the menus after {LIMIT_SECONDS} s: {self.heard}")

    @property
    def view(self) -> dict[str, Any]:
        """The emulator's view of the call, with its transcript."""
        return self.gateway.call(self.sid)

    def events(self) -> list[dict[str, Any]]:
        """The transcript until the caller reached the queue or the voicemail (the wait's own
        announcements after that are not part of the first minute)."""
        out = []
        for event in self.view["transcript"]:
            out.append(event)
            if event["kind"] in ("queue", "record"):
                break
        return out

    @property
    def heard(self) -> str:
        """Everything the caller heard until the queue or the voicemail, in order."""
        return " ".join(e["text"] for e in self.events() if e["kind"] == "say")

    @property
    def speech_seconds(self) -> float:
        """Seconds of speech heard until then, at the rate the TwiML asked for, by the estimate
        of `flask --app hotline ivr check` (the one the 30 s budget is written in)."""
        return sum(
            speech_seconds(e["text"], SAY_LANGUAGES.get(e["language"], "zh-CN"), 100 * e["rate"])
            for e in self.events()
            if e["kind"] == "say"
        )

    @property
    def clock_seconds(self) -> float:
        """Seconds on the emulator's clock (its own speech estimate plus the waits) from the
        first event to the queue or the voicemail."""
        events = self.events()
        return events[-1]["at"] - events[0]["at"]

    @property
    def prompts(self) -> int:
        """The prompts the caller waited at (the emulator's "listening" events)."""
        return sum(1 for e in self.events() if e["kind"] == "listen")

    @property
    def timeouts(self) -> list[float]:
        """The timeout of every Gather the caller met."""
        return [e["data"]["timeout"] for e in self.events() if e["kind"] == "listen"]

    def entry(self) -> QueueEntry | None:
        """The caller's place in the hotline's queue."""
        with self.app.app_context():
            call = db.session.scalar(select(Call).where(Call.call_sid == self.sid))
            assert call is not None
            return db.session.scalar(select(QueueEntry).where(QueueEntry.call_id == call.id))


LANGUAGES = ["zh-CN", "yue-HK", "en-US"]


def _who(language: str) -> str:
    return "new" if language == "zh-CN" else "known"


@pytest.mark.parametrize("language", LANGUAGES)
def test_silence_reaches_a_person_in_two_prompts(app, gateway, language):
    call = Journey17(app, gateway, Journey("silence", language, (), _who(language)))
    assert call.until_arrived() == "queue"
    assert call.prompts == 2 and all(8 <= t <= 10 for t in call.timeouts), call.timeouts
    assert call.speech_seconds < 30, (call.speech_seconds, call.heard)
    # On the emulator's clock (its own speech estimate, about 10 % slower than the checker's
    # for Chinese, and the two waits of 9 s): a person within the first minute.
    assert call.clock_seconds < 55, (call.clock_seconds, call.heard)


def test_0_at_the_first_second_reaches_the_queue_at_once(app, gateway):
    call = Journey17(app, gateway, Journey("0", "zh-CN", ("0",)))
    call.tick(1)
    call.press("0")
    assert call.until_arrived() == "queue"
    assert call.prompts == 0, "the key stopped the first prompt"
    assert call.clock_seconds <= 8, call.heard
    assert len([e for e in call.events() if e["kind"] in ("key", "speech")]) == 1


def test_kanbing_at_the_first_prompt_reaches_the_medical_choice(app, gateway):
    call = Journey17(app, gateway, Journey("看病", "zh-CN", ()))
    call.tick(2)
    call.say(SAID["kanbing"]["zh-CN"])
    assert call.until_arrived() == "queue"
    entry = call.entry()
    assert entry is not None and entry.scenario == "medical"
    assert "搵人工" not in call.heard, "not switched to the Cantonese menu"


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_emergency_phrase_is_urgent_with_the_120_sentence(app, gateway, language):
    call = Journey17(app, gateway, Journey("emergency", language, (), _who(language)))
    call.tick(1)
    call.say(SAID["emergency"][language])
    assert call.until_arrived() == "queue"
    assert EMERGENCY_NUMBER in call.heard, call.heard
    entry = call.entry()
    assert entry is not None and entry.priority == Priority.URGENT
    assert call.clock_seconds <= 20, call.heard


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_registered_elder_goes_straight_to_a_person(app, gateway, language):
    call = Journey17(app, gateway, Journey("elder", language, (), "elder"))
    assert call.until_arrived() == "queue"
    assert call.prompts == 0 and call.speech_seconds < 12, call.heard
    assert ELDER[language] in call.heard
    entry = call.entry()
    assert entry is not None and entry.priority == Priority.OLDER


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_blocked_caller_gets_the_voicemail_and_no_queue_place(app, gateway, language):
    call = Journey17(app, gateway, Journey("blocked", language, (), "blocked"))
    assert call.until_arrived() == "voicemail"
    assert call.prompts == 0 and call.entry() is None
    with app.app_context():
        assert db.session.scalars(select(CallbackRequest)).all() == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_family_proxy_is_greeted_with_the_elders_name(app, gateway, language):
    call = Journey17(app, gateway, Journey("family", language, (), "family"))
    call.tick(2)
    assert ELDER[language] in call.heard, call.heard
    call.press("0")
    assert call.until_arrived() == "queue"
