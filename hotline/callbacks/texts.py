"""Every word a callback says or texts, in one place (snapshot-tested in tests/callbacks).

Spoken: one slow, short sentence when a person answers, and a brief message with the hotline's
number for an answering machine. Texted (after the last failed attempt): to the caller, to the
supervisors and, where the elder consented, to a family contact. Texts are written for feature
phones: one segment (70 characters when any Chinese is in it, else 160 GSM characters), the case
number or the time first, the number to call written as plain digits, no links.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import phonenumbers

from hotline.callbacks.models import AttemptOutcome

#: Spoken when a person answers, before they join the operator queue.
PERSON_GREETING = {
    "zh-CN": "您好,这里是{line},给您回电,请不要挂机。",
    "yue-HK": "您好,呢度系{line},覆电俾您,请唔好收线。",
    "en-US": "Hello, this is the elder hotline calling you back. Please stay on the line.",
}
#: Said after the greeting when the line records its conversations and the line has no script
#: of its own to say it (the scripts' recording_notice otherwise): nobody is recorded unwarned.
RECORDING_NOTICE = {
    "zh-CN": "与工作人员的通话会录音。",
    "yue-HK": "同职员嘅通话会录音。",
    "en-US": "Calls are recorded.",
}
#: Left on an answering machine (the attempt still counts as missed).
MACHINE_MESSAGE = {
    "zh-CN": "您好,这里是{line},给您回电没有接通。需要帮助,请拨打 {number}。",
    "yue-HK": "您好,呢度系{line},覆电俾您冇人听。需要帮忙,请打 {number}。",
    "en-US": "Hello, this is the elder hotline returning your call. "
    "If you need help, please call {number}.",
}

#: How the console and the texts name each outcome: (中文, English).
OUTCOME_LABELS = {
    AttemptOutcome.PERSON: ("已接通", "reached"),
    AttemptOutcome.MACHINE: ("留言机", "answering machine"),
    AttemptOutcome.FAX: ("传真机", "fax"),
    AttemptOutcome.BUSY: ("占线", "busy"),
    AttemptOutcome.NO_ANSWER: ("无人接听", "no answer"),
    AttemptOutcome.FAILED: ("未能接通", "could not connect"),
    AttemptOutcome.CANCELED: ("已取消", "canceled"),
    AttemptOutcome.NOT_CONFIRMED: ("接通未确认", "answered, not confirmed"),
    AttemptOutcome.REJECTED: ("号码无法拨打", "number rejected"),
}
#: Other values of CallbackRequest.last_outcome, written by operators' actions or the caller.
OTHER_OUTCOME_LABELS = {
    "caller_called_in": ("来电人已自行来电", "caller called in"),
    "canceled": ("已取消", "canceled"),
    "refused": ("号码不允许拨打", "refused by the number policy"),
}

# The GSM 03.38 basic character set (one 7-bit character each); anything else means UCS-2.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€")


def sms_length(text: str) -> tuple[int, int]:
    """(length in the text's encoding, the one-segment limit for that encoding)."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        return sum(2 if ch in _GSM_EXTENDED else 1 for ch in text), 160
    return len(text), 70


def fits_one_segment(text: str) -> bool:
    """True when `text` is one SMS segment (what a feature phone shows as one message)."""
    length, limit = sms_length(text)
    return length <= limit


def _one_segment(essential: str, *optional: str) -> str:
    """`essential`, plus each optional ending that still fits in one segment."""
    text = essential
    for ending in optional:
        if ending and fits_one_segment(text + ending):
            text += ending
    if not fits_one_segment(text):
        # Only a very long name can get here; cut it rather than send two segments.
        _length, limit = sms_length(text)
        text = text[: limit - 1] + "…" if limit == 70 else text[: limit - 3] + "..."
    return text


def dial_digits(number: str, *, spaced: bool = False) -> str:
    """The number as a local caller dials it ("01012345678"; spaced for speech: "010 1234 5678")."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    if spaced:
        return " ".join(national.replace("-", " ").replace("(", "").replace(")", "").split())
    return "".join(ch for ch in national if ch.isdigit())


def _language(language: str | None) -> str:
    return language if language in PERSON_GREETING else "zh-CN"


def person_greeting(language: str | None, line_name: str) -> str:
    """The one sentence a person hears before joining the queue."""
    return PERSON_GREETING[_language(language)].format(line=line_name)


def recording_notice(language: str | None) -> str:
    """The one sentence that says the conversation is recorded (scriptless lines)."""
    return RECORDING_NOTICE[_language(language)]


def machine_message(language: str | None, line_name: str, line_number: str) -> str:
    """The brief message left on an answering machine."""
    return MACHINE_MESSAGE[_language(language)].format(
        line=line_name, number=dial_digits(line_number, spaced=True)
    )


def outcome_label(outcome: str | None, console_language: str = "zh") -> str:
    """An outcome in the console's language ("无人接听" / "no answer")."""
    if not outcome:
        return ""
    if outcome.startswith("twilio_error:"):
        code = outcome.split(":", 1)[1]
        return f"Twilio error {code}" if console_language == "en" else f"拨号出错 (Twilio {code})"
    if outcome.startswith("deferred: "):
        why = outcome.split(": ", 1)[1]
        return f"deferred to tomorrow: {why}" if console_language == "en" else f"已推迟到明天:{why}"
    try:
        pair = OUTCOME_LABELS[AttemptOutcome(outcome)]
    except ValueError:
        pair = OTHER_OUTCOME_LABELS.get(outcome, (outcome, outcome))
    return pair[1] if console_language == "en" else pair[0]


def _times(count: int, one: str = "once", many: str = "times") -> str:
    """ "once" / "3 times" (or "1 try" / "3 tries")."""
    if one == "once":
        return "once" if count == 1 else f"{count} {many}"
    return f"{count} {one if count == 1 else many}"


def _all(count: int) -> str:
    """都 ("every time") reads right only after more than one call."""
    return "都" if count > 1 else ""


def _head(language: str, case_number: str | None, called_at_local: datetime) -> str:
    """The case number, or else the time the caller reached us, first in every text."""
    if language == "en-US":
        if case_number:
            return f"Case {case_number}"
        return called_at_local.strftime("%d %b %H:%M")
    if case_number:
        return f"工单{case_number}"
    return f"{called_at_local.month}月{called_at_local.day}日{called_at_local:%H:%M}"


def caller_failed_sms(
    *,
    language: str | None,
    case_number: str | None,
    called_at_local: datetime,
    attempts: int,
    line_name: str,
    line_number: str,
) -> str:
    """To the caller after the last failed attempt: we tried, here is the number to call."""
    language = _language(language)
    head = _head(language, case_number, called_at_local)
    number = dial_digits(line_number)
    if language == "en-US":
        return _one_segment(
            f"{head}: we called you back {_times(attempts)} but could not reach you. "
            f"For help, please call {number}."
        )
    # "工单20261129-0042:您的来电" but "11月29日10:30您的来电" (the time reads on by itself).
    head += ":" if case_number else ""
    if language == "yue-HK":
        body = f"{head}您嘅来电,我哋覆电{attempts}次{_all(attempts)}未接通。需要帮忙请打{number}。"
    else:
        body = (
            f"{head}您的来电,我们回电{attempts}次{_all(attempts)}没有接通。需要帮助请拨打{number}。"
        )
    return _one_segment(body, line_name)


def _with_name(build: Callable[[str], str], name: str) -> str:
    """The longest `build(name)` that is one segment, shortening the name (never the number or
    the case) and, as a last resort, leaving it out."""
    for keep in range(len(name), -1, -1):
        shown = name if keep == len(name) else (name[:keep] + "…" if keep else "")
        text = build(shown)
        if fits_one_segment(text):
            return text
    return _one_segment(build(""))


def supervisor_alert_sms(
    *,
    console_language: str,
    case_number: str | None,
    called_at_local: datetime,
    caller_label: str,
    caller_number: str,
    attempts: int,
    last_outcome: AttemptOutcome | None,
) -> str:
    """To a supervisor: a callback failed for good; who, how often, why (full number to act)."""
    english = console_language == "en"
    head = _head("en-US" if english else "zh-CN", case_number, called_at_local)
    label = outcome_label(last_outcome.value if last_outcome else None, "en" if english else "zh")
    number = dial_digits(caller_number)
    if english:
        return _with_name(
            lambda name: (
                f"{head}: callback failed after {_times(attempts, 'try', 'tries')} ({label}): "
                f"{number}" + (f" ({name})" if name else "") + ". Please follow up."
            ),
            caller_label,
        )
    return _with_name(
        lambda name: (
            f"{head}:回电失败,{number}"
            + (f"({name})" if name else "")
            + f"回电{attempts}次未接通({label})。请跟进。"
        ),
        caller_label,
    )


def family_alert_sms(
    *,
    language: str | None,
    case_number: str | None,
    called_at_local: datetime,
    elder_label: str,
    attempts: int,
    line_name: str,
    line_number: str,
) -> str:
    """To a consented family contact: we could not reach the elder; please check on them."""
    language = _language(language)
    head = _head(language, case_number, called_at_local)
    number = dial_digits(line_number)
    if language == "en-US":
        return _with_name(
            lambda name: (
                f"{head}: we called {name or 'your family member'} back {_times(attempts)} "
                f"but could not reach them. Please check on them, or call us at {number}."
            ),
            elder_label,
        )
    text = _with_name(
        lambda name: (
            f"{head}:您好,我们给{name or '您的家人'}回电{attempts}次{_all(attempts)}没有接通,"
            f"请您帮忙联系,或拨打{number}。"
        ),
        elder_label,
    )
    return _one_segment(text, line_name)
