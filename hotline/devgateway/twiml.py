"""Reading TwiML the way Twilio does: parse, check the grammar, turn <Say> into text and pacing.

Everything here is pure: a string goes in, elements, warnings and speech segments come out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

#: Twilio refuses TwiML documents over 64 kB (error 11750).
MAX_TWIML_BYTES = 64 * 1024

#: Attributes Twilio knows per voice verb or noun (from twilio-python's voice_response.py).
VOICE_GRAMMAR: dict[str, set[str]] = {
    "Say": {"voice", "loop", "language"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {
        "input", "action", "method", "timeout", "speechTimeout", "maxSpeechTime",
        "profanityFilter", "finishOnKey", "numDigits", "partialResultCallback",
        "partialResultCallbackMethod", "language", "hints", "bargeIn", "debug",
        "actionOnEmptyResult", "speechModel", "enhanced",
    },
    "Redirect": {"method"},
    "Enqueue": {"action", "maxQueueSize", "method", "waitUrl", "waitUrlMethod", "workflowSid"},
    "Leave": set(),
    "Hangup": set(),
    "Reject": {"reason"},
    "Dial": {
        "action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId", "record",
        "trim", "recordingStatusCallback", "recordingConfigurationId",
        "recordingStatusCallbackMethod", "recordingStatusCallbackEvent", "answerOnBridge",
        "ringTone", "recordingTrack", "sequential", "referUrl", "referMethod", "events",
    },
    "Record": {
        "action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim",
        "recordingStatusCallback", "recordingStatusCallbackMethod",
        "recordingStatusCallbackEvent", "transcribe", "transcribeCallback",
        "recordingConfigurationId",
    },
    "Number": {
        "sendDigits", "url", "method", "statusCallbackEvent", "statusCallback",
        "statusCallbackMethod", "byoc", "machineDetection", "amdStatusCallbackMethod",
        "amdStatusCallback", "machineDetectionTimeout", "machineDetectionSpeechThreshold",
        "machineDetectionSpeechEndThreshold", "machineDetectionSilenceTimeout", "events",
    },
    "Client": {"url", "method", "statusCallbackEvent", "statusCallback", "statusCallbackMethod"},
    "Queue": {"url", "method", "reservationSid", "postWorkActivitySid"},
    "Conference": {
        "muted", "beep", "startConferenceOnEnter", "endConferenceOnExit", "waitUrl",
        "waitMethod", "maxParticipants", "record", "recordingConfigurationId", "region",
        "coach", "trim", "statusCallbackEvent", "statusCallback", "statusCallbackMethod",
        "recordingStatusCallback", "recordingStatusCallbackMethod",
        "recordingStatusCallbackEvent", "eventCallbackUrl", "jitterBufferSize",
        "participantLabel",
    },
}  # fmt: skip

#: Which children each element may have (verbs at the top level come from VERBS_BY_CONTEXT).
CHILDREN: dict[str, set[str]] = {
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Queue", "Conference", "Sip", "Sim", "Application"},
    "Enqueue": {"Task"},
    "Client": {"Identity", "Parameter"},
}

#: Verbs allowed at the top of a document, per context the document runs in.
VERBS_BY_CONTEXT: dict[str, set[str]] = {
    "call": {
        "Say", "Play", "Pause", "Gather", "Redirect", "Enqueue", "Leave", "Hangup", "Reject",
        "Dial", "Record", "Sms", "Connect", "Pay", "Refer", "Start", "Stop", "Prompt",
    },
    # Twilio's list for an <Enqueue> waitUrl.
    "queue-wait": {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"},
    # A <Conference> waitUrl, a participant's holdUrl and an announceUrl.
    "conference-wait": {"Play", "Say", "Pause", "Redirect"},
}  # fmt: skip

#: Verbs that exist in Twilio but that the gateway does not emulate.
NOT_EMULATED = {"Sms", "Connect", "Pay", "Refer", "Start", "Stop", "Prompt", "Sip", "Sim"}

_SSML_RATES = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "fast": 1.2, "x-fast": 1.4}
_BREAK_STRENGTHS = {
    "none": 0.0, "x-weak": 0.1, "weak": 0.25, "medium": 0.5, "strong": 1.0, "x-strong": 2.0,
}  # fmt: skip
_SPELLED_OUT = {"digits", "telephone", "characters", "spell-out"}


class TwimlError(Exception):
    """A document Twilio would refuse; `code` is Twilio's error code (12100, 11750, ...)."""

    def __init__(self, code: int, message: str) -> None:
        """Keep Twilio's error code next to the human message."""
        super().__init__(message)
        self.code = code
        self.message = message


def parse_document(body: str) -> list[ET.Element]:
    """The verbs of a TwiML document, in order; raises TwimlError like Twilio's 12100."""
    if len(body.encode("utf-8")) > MAX_TWIML_BYTES:
        raise TwimlError(11750, "TwiML response body too large (over 64 kB)")
    if not body.strip():
        raise TwimlError(12100, "Document parse failure: the response body is empty")
    try:
        root = ET.fromstring(body.strip())
    except ET.ParseError as exc:
        raise TwimlError(12100, f"Document parse failure: {exc}") from exc
    if _local(root.tag) != "Response":
        raise TwimlError(
            12100, f"Document parse failure: the root element is <{_local(root.tag)}>, "
            "not <Response>"
        )  # fmt: skip
    for element in root.iter():
        element.tag = _local(element.tag)
    return list(root)


def _local(tag: str) -> str:
    """Drop an XML namespace from a tag name."""
    return tag.rsplit("}", 1)[-1]


def grammar_warnings(verbs: list[ET.Element], context: str) -> list[str]:
    """Schema problems Twilio reports as warning 12200 (or skips), one readable line each."""
    warnings: list[str] = []
    allowed = VERBS_BY_CONTEXT.get(context, VERBS_BY_CONTEXT["call"])
    for verb in verbs:
        if verb.tag not in allowed:
            warnings.append(f"<{verb.tag}> is not allowed here ({context}); skipped")
            continue
        if verb.tag in NOT_EMULATED:
            warnings.append(f"<{verb.tag}> is not emulated by the dev gateway; skipped")
            continue
        warnings.extend(_element_warnings(verb))
    return warnings


def _element_warnings(element: ET.Element) -> list[str]:
    """Unknown attributes and children of one element, recursively."""
    warnings = []
    known = VOICE_GRAMMAR.get(element.tag)
    if known is not None:
        for name in element.attrib:
            if name not in known:
                warnings.append(f"<{element.tag}> has an unknown attribute {name!r}")
    if element.tag == "Say":
        return warnings  # SSML children are read by speech_of_say
    children = CHILDREN.get(element.tag, set())
    for child in element:
        if child.tag not in children:
            warnings.append(f"<{child.tag}> is not allowed inside <{element.tag}>")
        else:
            warnings.extend(_element_warnings(child))
    return warnings


@dataclass
class Segment:
    """A run of text spoken at one rate in one language, or a pause (text empty)."""

    text: str
    rate: float = 1.0
    language: str | None = None
    pause: float = 0.0

    def as_dict(self) -> dict:
        """JSON form for the dev phone."""
        return {
            "text": self.text,
            "rate": self.rate,
            "language": self.language,
            "pause": self.pause,
        }


@dataclass
class Speech:
    """What a <Say> makes the caller hear: plain text plus pacing."""

    text: str
    language: str
    voice: str | None
    loop: int
    segments: list[Segment] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The rate of the first spoken segment (what a transcript line shows)."""
        for segment in self.segments:
            if segment.text:
                return segment.rate
        return 1.0


def speech_of_say(say: ET.Element) -> Speech:
    """Flatten a <Say> (with nested SSML) into text segments with their rate and pauses."""
    voice = say.get("voice")
    language = say.get("language") or _language_of_voice(voice) or "en-US"
    segments: list[Segment] = []
    _walk_ssml(say, rate=1.0, language=None, segments=segments, spell=False)
    merged: list[Segment] = []
    for segment in segments:
        if segment.text and not segment.text.strip() and not merged:
            continue
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and segment.text
            and previous.text
            and previous.rate == segment.rate
            and previous.language == segment.language
        ):
            previous.text += segment.text
        elif segment.text or segment.pause:
            merged.append(Segment(segment.text, segment.rate, segment.language, segment.pause))
    raw = "".join(segment.text for segment in merged)
    for segment in merged:
        segment.text = _normalize(segment.text)
    merged = [segment for segment in merged if segment.text or segment.pause]
    text = _normalize(raw)
    loop = int(parse_float(say.get("loop"), 1))
    return Speech(text=text, language=language, voice=voice, loop=loop, segments=merged)


def _walk_ssml(
    element: ET.Element, *, rate: float, language: str | None, segments: list[Segment], spell: bool
) -> None:
    """Collect the text of `element` and its SSML children into segments."""
    if element.text:
        segments.append(Segment(_spell(element.text) if spell else element.text, rate, language))
    for child in element:
        tag = child.tag.rsplit(":", 1)[-1]
        child_rate, child_language, child_spell = rate, language, spell
        if tag == "break":
            segments.append(Segment("", rate, language, pause=_break_seconds(child)))
        elif tag == "sub":
            segments.append(Segment(child.get("alias") or (child.text or ""), rate, language))
        else:
            if tag == "prosody" and child.get("rate"):
                child_rate = _ssml_rate(child.get("rate", ""), rate)
            elif tag == "lang" and child.get("{http://www.w3.org/XML/1998/namespace}lang"):
                child_language = child.get("{http://www.w3.org/XML/1998/namespace}lang")
            elif tag == "say-as" and child.get("interpret-as") in _SPELLED_OUT:
                child_spell = True
            _walk_ssml(
                child, rate=child_rate, language=child_language, segments=segments,
                spell=child_spell,
            )  # fmt: skip
        if child.tail:
            segments.append(Segment(_spell(child.tail) if spell else child.tail, rate, language))


def _normalize(text: str) -> str:
    """Collapse runs of whitespace (XML indentation) into single spaces."""
    return re.sub(r"\s+", " ", text).strip()


def _spell(text: str) -> str:
    """Read digits and letters one by one (`say-as interpret-as="digits"`)."""
    return " ".join(ch for ch in text if not ch.isspace())


def _ssml_rate(value: str, current: float) -> float:
    """An SSML prosody rate (`85%`, `slow`) as a factor of the normal speaking rate."""
    value = value.strip().lower()
    if value in _SSML_RATES:
        return _SSML_RATES[value]
    if value.endswith("%"):
        try:
            return max(0.2, min(4.0, float(value[:-1]) / 100.0))
        except ValueError:
            return current
    return current


def _break_seconds(element: ET.Element) -> float:
    """The length of an SSML <break> in seconds."""
    time = (element.get("time") or "").strip().lower()
    if time.endswith("ms"):
        return parse_float(time[:-2], 0.0) / 1000.0
    if time.endswith("s"):
        return parse_float(time[:-1], 0.0)
    return _BREAK_STRENGTHS.get((element.get("strength") or "medium").lower(), 0.5)


def _language_of_voice(voice: str | None) -> str | None:
    """Guess the language of a named voice (`Polly.Zhiyu`, `Google.cmn-CN-Standard-A`)."""
    if not voice:
        return None
    match = re.search(r"\b([a-z]{2,3}-[A-Z]{2})\b", voice)
    if match:
        return match.group(1)
    if voice.lower() in ("polly.zhiyu", "polly.zhiyu-neural"):
        return "cmn-CN"
    if voice.lower() in ("polly.hiujin", "polly.hiujin-neural"):
        return "yue-HK"
    return None


def browser_language(language: str | None) -> str:
    """The BCP 47 tag a browser's speechSynthesis understands for a Twilio language."""
    if not language:
        return "en-US"
    mapping = {"cmn-cn": "zh-CN", "zh-cn": "zh-CN", "yue-hk": "zh-HK", "zh-hk": "zh-HK",
               "cmn-tw": "zh-TW", "zh-tw": "zh-TW", "yue-cn": "zh-HK"}  # fmt: skip
    return mapping.get(language.lower(), language)


def parse_float(value: str | None, default: float) -> float:
    """A float attribute, or `default` when missing or malformed."""
    if value is None:
        return default
    try:
        return float(value.strip())
    except ValueError:
        return default


def speech_seconds(speech: Speech) -> float:
    """How long a <Say> takes to speak once, estimated from its text, rate and pauses.

    About 4 Chinese characters or 2.5 English words per second at the normal rate: close
    enough that a Gather timeout starts roughly when a browser finishes speaking the prompt.
    """
    total = 0.0
    for segment in speech.segments:
        total += segment.pause
        if segment.text:
            cjk = sum(1 for ch in segment.text if ord(ch) >= 0x2E80)
            words = len(re.findall(r"[A-Za-z0-9']+", segment.text))
            total += (cjk / 4.0 + words / 2.5) / max(segment.rate, 0.2)
    return max(total, 0.3)
