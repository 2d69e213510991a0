"""The gateway's in-memory state: calls, queues, conferences, messages and what it observed."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hotline.devgateway.webhooks import Exchange

#: Call statuses after which nothing more happens to a call.
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass
class TranscriptEvent:
    """One line of what a phone experienced: a prompt, a key, a status change, an error."""

    id: int
    at: float
    call_sid: str
    #: say, play, music, pause, listen, key, speech, record, ring, status, connected,
    #: conference, peer, note, warning, error, stop
    kind: str
    text: str = ""
    language: str | None = None
    #: Language tag for the browser's speechSynthesis (yue-HK becomes zh-HK).
    speech_lang: str | None = None
    rate: float = 1.0
    voice: str | None = None
    segments: list[dict] = field(default_factory=list)
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON form for the dev phone."""
        return {
            "id": self.id,
            "at": self.at,
            "call_sid": self.call_sid,
            "kind": self.kind,
            "text": self.text,
            "language": self.language,
            "speech_lang": self.speech_lang,
            "rate": self.rate,
            "voice": self.voice,
            "segments": self.segments,
            "url": self.url,
            "data": self.data,
        }


@dataclass
class Call:
    """One call leg, as Twilio would keep it."""

    sid: str
    account_sid: str
    from_: str
    to: str
    #: inbound, outbound-api or outbound-dial
    direction: str
    created_at: float
    status: str = "queued"
    updated_at: float = 0.0
    parent_call_sid: str | None = None
    #: The dev phone at this leg's far end: the caller of an inbound call, else the callee.
    phone: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    url: str | None = None
    method: str = "POST"
    twiml: str | None = None
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: set[str] = field(default_factory=set)
    #: Seconds to let the phone ring (REST Timeout, Dial timeout).
    timeout: float = 60.0
    machine_detection: str | None = None
    answered_by: str | None = None
    sequence_number: int = 0
    #: What the leg is doing right now, in one word (for the dev phone and the tests).
    activity: str = "queued"
    #: Input the call listens for right now (a Gather or a Record), or None.
    expecting: dict[str, Any] | None = None
    queue_sid: str | None = None
    enqueued_at: float | None = None
    bridged_with: list[str] = field(default_factory=list)
    conference_sid: str | None = None
    #: Set for calls created through the Participants resource.
    participant: dict[str, Any] | None = None
    end_reason: str | None = None
    #: The last error the app caused on this call (shown in red on the dev phone).
    error: dict[str, Any] | None = None
    transcript: list[TranscriptEvent] = field(default_factory=list)
    exchanges: deque[Exchange] = field(default_factory=lambda: deque(maxlen=100))

    @property
    def is_ended(self) -> bool:
        """True once the call has reached a terminal status."""
        return self.status in TERMINAL_STATUSES

    @property
    def duration(self) -> int | None:
        """Whole seconds from answer to end (Twilio's `duration`), None while live."""
        if self.ended_at is None:
            return None
        if self.answered_at is None:
            return 0
        return int(round(self.ended_at - self.answered_at))


@dataclass
class QueueMember:
    """A call waiting in a queue."""

    call_sid: str
    enqueued_at: float


@dataclass
class Queue:
    """A Twilio queue: FIFO, created by <Enqueue> or the REST API."""

    sid: str
    friendly_name: str
    created_at: float
    updated_at: float
    max_size: int = 100
    members: list[QueueMember] = field(default_factory=list)


@dataclass
class Participant:
    """A call's membership in a conference."""

    call_sid: str
    conference_sid: str
    created_at: float
    updated_at: float
    #: queued, connecting, ringing, connected, complete, failed
    status: str = "queued"
    label: str | None = None
    muted: bool = False
    hold: bool = False
    hold_url: str | None = None
    hold_method: str = "POST"
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    beep: str = "true"
    coaching: bool = False
    call_sid_to_coach: str | None = None
    wait_url: str | None = None
    wait_method: str = "POST"


@dataclass
class Conference:
    """A Twilio conference room."""

    sid: str
    friendly_name: str
    created_at: float
    updated_at: float
    #: init, in-progress, completed
    status: str = "init"
    participants: dict[str, Participant] = field(default_factory=dict)
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: set[str] = field(default_factory=set)
    sequence_number: int = 0
    reason_ended: str | None = None
    call_sid_ending: str | None = None
    #: <Conference record="record-from-start">: where the recording status goes, and when the
    #: recording started (the conference's start), set by the first participant asking for it.
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_started_at: float | None = None
    is_recorded: bool = False

    def connected(self) -> list[Participant]:
        """Participants actually in the room (not still ringing)."""
        return [p for p in self.participants.values() if p.status == "connected"]


@dataclass
class Message:
    """One SMS, in either direction."""

    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    #: inbound, outbound-api, outbound-reply
    direction: str
    created_at: float
    updated_at: float
    status: str = "queued"
    sent_at: float | None = None
    num_segments: int = 1
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    error_code: int | None = None
    error_message: str | None = None


@dataclass
class Recording:
    """What a caller "said" during <Record> (typed on the dev phone), or a recorded conference
    (no words: its media is a generated WAV of its length)."""

    sid: str
    call_sid: str
    text: str
    duration: int
    created_at: float
    conference_sid: str | None = None
    #: 2 for a recorded conference (the caller, and everyone else), as its webhook says.
    channels: int = 1


@dataclass
class RestRecord:
    """One REST request the gateway received."""

    id: int
    at: float
    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    status_code: int = 0
    authorized: bool = False
    summary: str = ""

    def as_dict(self) -> dict:
        """JSON form for the developer page and tests."""
        return {
            "id": self.id,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "query": [[k, v] for k, v in self.query],
            "form": [[k, v] for k, v in self.form],
            "status_code": self.status_code,
            "authorized": self.authorized,
            "summary": self.summary,
        }


@dataclass
class Problem:
    """Something the app did that a real caller would suffer from, or Twilio would warn about."""

    id: int
    at: float
    #: error (the caller hears "an application error") or warning
    severity: str
    code: str
    message: str
    call_sid: str | None = None
    url: str | None = None
    detail: str = ""

    def as_dict(self) -> dict:
        """JSON form for the developer page."""
        return {
            "id": self.id,
            "at": self.at,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "call_sid": self.call_sid,
            "url": self.url,
            "detail": self.detail,
        }
