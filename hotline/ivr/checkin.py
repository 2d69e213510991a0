"""The check-in call (关爱回访) as a pure function: (script, what the elder did, silences so far)
-> what happens next, and its TwiML. No database, no request.

Rules:
- Key 1, or words meaning "all is well" (the script's `ok_words`: 好, 没事 ...), and no other
  words that ask for help: OK. The call says goodbye and ends.
- Key 0: a person now, at callback priority.
- An emergency word (the shared list, hotline/ivr/emergency.yaml): the one sentence with the
  number to dial, then a person at once at emergency priority.
- Any other words ("我头晕", "not so good"): the elder said what is wrong, so a person, at
  callback priority.
- Silence or another key: "not understood" and the question again; the second time, a person.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from hotline.ivr.engine import SayAction, _contains, match_emergency_kinds
from hotline.ivr.schema import CheckinScript, EmergencyKind
from hotline.telephony.speech import SPEECH_LANGUAGE, add_say
from hotline.telephony.twiml import VoiceUrls, add_enqueue

#: Silences (or unknown keys) after which the elder goes to a person.
SILENCES_TO_PERSON = 2
#: Negations: "不好" contains "好" and "not good" contains "good", so an "all is well" word
#: counts only when no negation is left once the ok words themselves ("没事", "冇问题", which
#: contain one) are taken out of what was heard.
CJK_NEGATIONS = ("不", "唔", "冇", "没", "沒", "无", "無", "未")
LATIN_NEGATION = re.compile(r"\b(not|no|never|bad|unwell)\b|n't")


@dataclass(frozen=True)
class CheckinDecision:
    """What the elder's input means: "ok", "person", "emergency" or "repeat"."""

    kind: str
    #: How it was given: "key", "speech", "silence", "invalid".
    via: str
    emergency: EmergencyKind | None = None
    #: For "person": why ("key_0", "words", "silence_twice").
    reason: str | None = None


def _emergency(script: CheckinScript, speech: str) -> EmergencyKind | None:
    return match_emergency_kinds(script.emergency, speech)


def is_ok_words(script: CheckinScript, speech: str) -> bool:
    """The elder said one of the "all is well" words, and no negation besides (see above)."""
    if not any(_contains(speech, word) for word in script.ok_words):
        return False
    rest = " " + re.sub(r"[^\w']+", " ", unicodedata.normalize("NFKC", speech).lower()) + " "
    for word in sorted(script.ok_words, key=len, reverse=True):
        word = word.lower()
        if word.isascii():
            rest = re.sub(rf"\b{re.escape(word)}\b", " ", rest)
        else:
            rest = rest.replace(word, " ")
    return not LATIN_NEGATION.search(rest) and not any(n in rest for n in CJK_NEGATIONS)


def decide(
    script: CheckinScript, *, digits: str | None, speech: str | None, silences: int
) -> CheckinDecision:
    """The next step of a check-in call (see the module rules)."""
    digits = (digits or "").strip()
    speech = (speech or "").strip()
    if digits == "1":
        return CheckinDecision("ok", "key")
    if digits == "0":
        return CheckinDecision("person", "key", reason="key_0")
    if speech:
        kind = _emergency(script, speech)
        if kind is not None:
            return CheckinDecision("emergency", "speech", emergency=kind, reason="emergency")
        if is_ok_words(script, speech):
            return CheckinDecision("ok", "speech")
        return CheckinDecision("person", "speech", reason="words")
    via = "invalid" if digits else "silence"
    if silences + 1 >= SILENCES_TO_PERSON:
        return CheckinDecision("person", via, reason="silence_twice")
    return CheckinDecision("repeat", via)


def _say(script: CheckinScript, text: str, rate_percent: int | None) -> SayAction:
    return SayAction(
        text=text,
        language=script.language,
        voice=script.voice,
        rate_percent=rate_percent or script.rate_percent,
    )


def greeting(script: CheckinScript, *, name: str, line_name: str) -> str:
    return script.messages["greet"].format(name=name or "", line=line_name or "").strip()


def _gather(
    response: VoiceResponse,
    script: CheckinScript,
    prompts: list[str],
    *,
    action: str,
    rate_percent: int | None,
    timeout_seconds: int | None,
) -> None:
    gather = response.gather(
        action=action,
        method="POST",
        input="dtmf speech",
        num_digits=1,
        timeout=timeout_seconds or script.input_timeout_seconds,
        speech_timeout="auto",
        language=SPEECH_LANGUAGE.get(script.language, script.language),
        hints=", ".join(script.ok_words),
    )
    for text in prompts:
        add_say(gather, _say(script, text, rate_percent))
    # Without input Twilio goes on to the next verb: come back to count the silence.
    response.redirect(action, method="POST")


def question_twiml(
    script: CheckinScript,
    *,
    name: str,
    line_name: str,
    action: str,
    rate_percent: int | None = None,
    timeout_seconds: int | None = None,
    repeat: bool = False,
) -> VoiceResponse:
    """The greeting by name and the question (or, after a silence, "not understood" and the
    question again), listening for keys and words; `action` receives the answer."""
    response = VoiceResponse()
    first = (
        script.messages["not_understood"]
        if repeat
        else greeting(script, name=name, line_name=line_name)
    )
    _gather(
        response,
        script,
        [first, script.messages["question"]],
        action=action,
        rate_percent=rate_percent,
        timeout_seconds=timeout_seconds,
    )
    return response


def answer_twiml(
    script: CheckinScript,
    decision: CheckinDecision,
    *,
    queue_name: str,
    urls: VoiceUrls,
    rate_percent: int | None = None,
) -> VoiceResponse:
    """TwiML for "ok" (goodbye) and "person"/"emergency" (a sentence, then the queue)."""
    response = VoiceResponse()
    if decision.kind == "ok":
        add_say(response, _say(script, script.messages["ok_goodbye"], rate_percent))
        response.hangup()
        return response
    if decision.kind == "emergency" and decision.emergency is not None:
        add_say(response, _say(script, decision.emergency.say, rate_percent))
    else:
        add_say(response, _say(script, script.messages["to_person"], rate_percent))
    add_enqueue(response, queue_name, script.language, urls)
    return response
