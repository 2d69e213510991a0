"""Parsing webhook parameters into typed values (unknown parameters are ignored)."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from hotline.telephony.webhooks import BadWebhook


def _int(form: MultiDict, name: str) -> int | None:
    raw = form.get(name, "").strip()
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def _float(form: MultiDict, name: str) -> float | None:
    raw = form.get(name, "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    if value is not None and not 0.0 <= value <= 1.0:
        return None
    return value


@dataclass(frozen=True)
class VoiceParams:
    """Parameters on every voice request."""

    call_sid: str
    from_: str
    to: str
    call_status: str
    direction: str
    account_sid: str

    @classmethod
    def parse(cls, form: MultiDict) -> VoiceParams:
        call_sid = form.get("CallSid", "").strip()
        if not call_sid or len(call_sid) > 64:
            raise BadWebhook("CallSid is missing")
        return cls(
            call_sid=call_sid,
            from_=form.get("From", "").strip()[:64],
            to=form.get("To", "").strip()[:64],
            call_status=form.get("CallStatus", "").strip(),
            direction=form.get("Direction", "inbound").strip(),
            account_sid=form.get("AccountSid", "").strip(),
        )


@dataclass(frozen=True)
class GatherParams:
    """What a <Gather> sends back: keys, words, and the recogniser's confidence."""

    digits: str | None
    speech: str | None
    confidence: float | None

    @classmethod
    def parse(cls, form: MultiDict) -> GatherParams:
        digits = form.get("Digits", "").strip()[:20] or None
        speech = form.get("SpeechResult", "").strip()[:500] or None
        return cls(digits=digits, speech=speech, confidence=_float(form, "Confidence"))


@dataclass(frozen=True)
class StatusParams:
    """A call status callback."""

    call_sid: str
    call_status: str
    sequence_number: int | None
    duration_seconds: int | None

    @classmethod
    def parse(cls, form: MultiDict) -> StatusParams:
        call_sid = form.get("CallSid", "").strip()
        if not call_sid or len(call_sid) > 64:
            raise BadWebhook("CallSid is missing")
        return cls(
            call_sid=call_sid,
            call_status=form.get("CallStatus", "").strip(),
            sequence_number=_int(form, "SequenceNumber"),
            duration_seconds=_int(form, "CallDuration"),
        )


@dataclass(frozen=True)
class RecordingParams:
    recording_url: str | None
    duration_seconds: int | None

    @classmethod
    def parse(cls, form: MultiDict) -> RecordingParams:
        url = form.get("RecordingUrl", "").strip()[:500] or None
        return cls(recording_url=url, duration_seconds=_int(form, "RecordingDuration"))


@dataclass(frozen=True)
class QueueParams:
    """Parameters Twilio sends to an <Enqueue> waitUrl or action."""

    queue_sid: str | None
    queue_position: int | None
    queue_time_seconds: int | None
    avg_queue_time_seconds: int | None
    current_queue_size: int | None
    queue_result: str | None

    @classmethod
    def parse(cls, form: MultiDict) -> QueueParams:
        return cls(
            queue_sid=form.get("QueueSid", "").strip()[:64] or None,
            queue_position=_int(form, "QueuePosition"),
            queue_time_seconds=_int(form, "QueueTime"),
            avg_queue_time_seconds=_int(form, "AvgQueueTime"),
            current_queue_size=_int(form, "CurrentQueueSize"),
            queue_result=form.get("QueueResult", "").strip() or None,
        )


@dataclass(frozen=True)
class RecordingStatusParams:
    """A recordingStatusCallback (a <Conference record="record-from-start"> recording)."""

    recording_sid: str
    recording_url: str
    recording_status: str
    duration_seconds: int | None
    channels: int | None
    conference_sid: str | None
    call_sid: str | None

    @classmethod
    def parse(cls, form: MultiDict) -> RecordingStatusParams:
        sid = form.get("RecordingSid", "").strip()
        if not (len(sid) == 34 and sid.startswith("RE") and sid[2:].isalnum()):
            raise BadWebhook("RecordingSid is missing or malformed")
        url = form.get("RecordingUrl", "").strip()
        if not url.startswith(("https://", "http://")) or len(url) > 500:
            raise BadWebhook("RecordingUrl is missing or malformed")
        return cls(
            recording_sid=sid,
            recording_url=url,
            recording_status=form.get("RecordingStatus", "completed").strip() or "completed",
            duration_seconds=_int(form, "RecordingDuration"),
            channels=_int(form, "RecordingChannels"),
            conference_sid=form.get("ConferenceSid", "").strip()[:64] or None,
            call_sid=form.get("CallSid", "").strip()[:64] or None,
        )
