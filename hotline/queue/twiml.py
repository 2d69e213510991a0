"""What callers (and operators) hear around the queue, rendered as TwiML (pure functions).

Every caller-facing sentence of the queue is in `QUEUE_TEXTS`, per language; a line's script may
override any of them in its `messages` (same key). Speech goes through the IVR's `add_say`, so it
is slow (SSML prosody at the script's or the caller's rate) and numbers of three digits or more
are read digit by digit. There is no music anywhere: between announcements the caller hears
silence, never music under speech.

Documents that run inside an <Enqueue> waitUrl may only use Play, Say, Pause, Hangup, Redirect,
Leave and Gather; those inside a <Conference> waitUrl or a hold URL only Play, Say, Pause and
Redirect. The functions below keep to that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, VoiceResponse

from hotline.ivr.engine import REPEAT_WORDS, SayAction
from hotline.telephony.speech import SPEECH_LANGUAGE, add_say
from hotline.telephony.twiml import VoiceUrls, add_enqueue

#: Caller-facing queue texts. Keep them short: one idea per sentence, read slowly.
QUEUE_TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "queue_wait": "您正在排队,工作人员马上就来,请不要挂机。",
        "queue_position": "您现在排在第{position}位。",
        "queue_next": "下一位就是您。",
        "queue_estimate": "大约还要等{minutes}分钟。",
        "queue_estimate_soon": "很快就能接通。",
        "queue_repeat_hint": "再听一遍,请按星号键。",
        "queue_offer_callback": "如果不想再等,请按1,或者说“回电”。我们会按您排队的先后给您回电话。",
        "queue_callback_confirmed": "好的,我们会按您排队的先后给您回电话。再见。",
        "queue_wait_cap": "非常抱歉,让您久等了。请在嘀声后说出您的姓名和事情,我们会给您回电话。",
        "queue_connecting": "正在为您接通工作人员,请稍候。",
        "queue_requeued": "对不起,刚才没有接通。您的位置不变,请再稍等一下。",
        "queue_on_hold": "工作人员请您稍等,马上回来。",
        "queue_goodbye": "感谢您的来电,再见。",
        "voicemail_thanks": "谢谢您,我们会尽快给您回电话。再见。",
    },
    "yue-HK": {
        "queue_wait": "您而家排紧队,职员好快就嚟,请唔好收线。",
        "queue_position": "您而家排第{position}位。",
        "queue_next": "下一位就到您。",
        "queue_estimate": "大概仲要等{minutes}分钟。",
        "queue_estimate_soon": "好快就可以接通。",
        "queue_repeat_hint": "想再听一次,请按星号键。",
        "queue_offer_callback": "如果唔想再等,请按1,或者讲“回电”。我哋会按您排队嘅先后覆电俾您。",
        "queue_callback_confirmed": "好,我哋会按您排队嘅先后覆电俾您。再见。",
        "queue_wait_cap": "非常抱歉,要您等咗好耐。请喺嘀声之后讲低您嘅姓名同需要帮忙嘅事,我哋会覆电俾您。",
        "queue_connecting": "而家同您接通职员,请稍等。",
        "queue_requeued": "唔好意思,头先未接通。您嘅位置唔变,请再等一阵。",
        "queue_on_hold": "职员请您等一等,好快返嚟。",
        "queue_goodbye": "多谢您嘅来电,再见。",
        "voicemail_thanks": "多谢您,我哋会尽快覆电俾您。再见。",
    },
    "en-US": {
        "queue_wait": "You are in the queue. Someone will be with you soon. Please stay on the line.",
        "queue_position": "You are number {position} in the queue.",
        "queue_next": "You are next.",
        "queue_estimate": "The wait is about {minutes} minutes.",
        "queue_estimate_soon": "Someone will be with you very soon.",
        "queue_repeat_hint": "To hear this again, press star.",
        "queue_offer_callback": "If you would rather not wait, press 1, or say call back. "
        "We will call you back in the order you called.",
        "queue_callback_confirmed": "Thank you. We will call you back in the order you called. "
        "Goodbye.",
        "queue_wait_cap": "We are very sorry to keep you waiting. After the tone, please say your "
        "name and what you need. We will call you back.",
        "queue_connecting": "Connecting you to a person now. Please hold.",
        "queue_requeued": "Sorry, that did not go through. You keep your place. "
        "Please hold a little longer.",
        "queue_on_hold": "Please hold. Your helper will be right back.",
        "queue_goodbye": "Thank you for calling. Goodbye.",
        "voicemail_thanks": "Thank you. We will call you back as soon as we can. Goodbye.",
    },
}
#: Spoken words that mean "call me back instead", beside the key 1.
CALLBACK_WORDS = {
    "zh-CN": ("回电", "回电话", "打回来", "给我回电"),
    "yue-HK": ("回电", "覆电", "打返嚟", "打返俾我"),
    "en-US": ("call back", "callback", "call me back", "call me"),
}

#: Seconds the wait prompt listens for a key or a word after speaking (older callers: 8-10 s).
LISTEN_SECONDS = 9
#: Silence between announcements; with the speech and the listening time an announcement comes
#: round every 60-90 s (mission rule 8).
WAIT_PAUSE_SECONDS = 50
MIN_PAUSE_SECONDS = 5


@dataclass(frozen=True)
class Voice:
    """How to speak to this caller: language, TTS voice, speaking rate."""

    language: str
    voice: str
    rate_percent: int

    def say(self, text: str) -> SayAction:
        return SayAction(
            text=text, language=self.language, voice=self.voice, rate_percent=self.rate_percent
        )


def texts_for(language: str, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The queue texts in `language` (Mandarin when unknown), with a script's overrides."""
    base = dict(QUEUE_TEXTS.get(language) or QUEUE_TEXTS["zh-CN"])
    for key, value in (overrides or {}).items():
        if key in base and isinstance(value, str) and value.strip():
            base[key] = value
    return base


def spoken_minutes(estimate_seconds: int) -> int | None:
    """Whole minutes to announce, rounded up; None when the wait is a minute or less."""
    if estimate_seconds <= 60:
        return None
    return min(math.ceil(estimate_seconds / 60), 99)


def wait_prompts(
    texts: Mapping[str, str],
    *,
    position: int,
    estimate_seconds: int,
    offer_callback: bool,
    is_first: bool,
) -> list[str]:
    """The sentences of one wait announcement, in order (snapshot-tested)."""
    sentences = []
    if position <= 1:
        sentences.append(texts["queue_next"])
    else:
        sentences.append(texts["queue_position"].format(position=position))
    minutes = spoken_minutes(estimate_seconds)
    if minutes is None:
        sentences.append(texts["queue_estimate_soon"])
    else:
        sentences.append(texts["queue_estimate"].format(minutes=minutes))
    if offer_callback:
        sentences.append(texts["queue_offer_callback"])
    if is_first:
        sentences.append(texts["queue_repeat_hint"])
    return sentences


def wait_document(
    voice: Voice,
    prompts: list[str],
    *,
    input_url: str,
    next_url: str,
    pause_seconds: int,
    listen_for_callback: bool,
) -> VoiceResponse:
    """One round of waiting: the announcement (keys and words heard), silence, then again.

    The first <Gather> speaks and then listens for `*`, `1` or a word; the second keeps listening
    for a key through the silence, so `*` works at any moment. The closing <Redirect> fetches the
    next round (unique URL per round).
    """
    response = VoiceResponse()
    if prompts:
        hints = list(REPEAT_WORDS.get(voice.language, ()))
        if listen_for_callback:
            hints = list(CALLBACK_WORDS.get(voice.language, ())) + hints
        gather = response.gather(
            action=input_url,
            method="POST",
            input="dtmf speech",
            num_digits=1,
            timeout=LISTEN_SECONDS,
            speech_timeout="auto",
            language=SPEECH_LANGUAGE.get(voice.language, voice.language),
            hints=", ".join(hints) if hints else None,
        )
        for sentence in prompts:
            add_say(gather, voice.say(sentence))
    # Every <Gather> waits 8-10 s for a slow key (mission rule 4), this one too: the silence it
    # holds is shortened by the same time, so a round (and the next announcement) comes no later.
    silence = min(pause_seconds, WAIT_PAUSE_SECONDS) - (LISTEN_SECONDS - 1)
    quiet = response.gather(
        action=input_url, method="POST", input="dtmf", num_digits=1, timeout=LISTEN_SECONDS
    )
    quiet.pause(length=max(MIN_PAUSE_SECONDS, silence))
    response.redirect(next_url, method="POST")
    return response


def hold_on_document(voice: Voice, texts: Mapping[str, str], *, seconds: int = 20) -> VoiceResponse:
    """A short reassurance and silence (used when there is nothing to announce)."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_wait"]))
    response.pause(length=seconds)
    return response


def connecting_document(
    voice: Voice, texts: Mapping[str, str], *, loop_url: str | None = None
) -> VoiceResponse:
    """While the operator's phone rings: "connecting you", then silence (no music)."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_connecting"]))
    response.pause(length=15)
    if loop_url:
        response.redirect(loop_url, method="POST")
    return response


def on_hold_document(voice: Voice, texts: Mapping[str, str], *, loop_url: str) -> VoiceResponse:
    """The hold URL: the operator will be right back; silence; again."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_on_hold"]))
    response.pause(length=20)
    response.redirect(loop_url, method="POST")
    return response


def leave_document() -> VoiceResponse:
    """<Leave>: out of the Twilio queue; the <Enqueue> action decides what comes next."""
    response = VoiceResponse()
    response.leave()
    return response


def callback_confirmed_document(voice: Voice, texts: Mapping[str, str]) -> VoiceResponse:
    """The promise, in one short sentence, and goodbye."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_callback_confirmed"]))
    response.hangup()
    return response


def voicemail_document(
    voice: Voice, texts: Mapping[str, str], *, record_action: str
) -> VoiceResponse:
    """The wait cap: an apology, a message after the tone, thanks; the callback is already owed."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_wait_cap"]))
    response.record(
        action=record_action,
        method="POST",
        max_length=120,
        timeout=10,
        finish_on_key="#",
        play_beep=True,
    )
    add_say(response, voice.say(texts["voicemail_thanks"]))
    response.hangup()
    return response


def goodbye_document(voice: Voice, texts: Mapping[str, str]) -> VoiceResponse:
    """After the conversation: thanks and goodbye."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_goodbye"]))
    response.hangup()
    return response


def requeue_document(
    voice: Voice, texts: Mapping[str, str], *, queue_name: str, urls: VoiceUrls
) -> VoiceResponse:
    """The operator did not pick up: back into the queue, keeping the place."""
    response = VoiceResponse()
    add_say(response, voice.say(texts["queue_requeued"]))
    add_enqueue(response, queue_name, voice.language, urls)
    return response


def _conference(
    dial: Dial,
    name: str,
    *,
    start_on_enter: bool,
    wait_url: str | None,
    status_callback: str,
    end_on_exit: bool = True,
    recording_status_callback: str | None = None,
) -> None:
    kwargs = {}
    if wait_url:
        kwargs.update(wait_url=wait_url, wait_method="POST")
    if recording_status_callback:
        # A line with recording on (its greeting told the caller). The recording webhook says
        # how many channels Twilio kept (RecordingChannels; dual-channel ones are fetched with
        # both: hotline.transfers.recordings.media_url); the attributes go on both legs
        # because either may be the one that starts the conference.
        kwargs.update(
            record="record-from-start",
            recording_status_callback=recording_status_callback,
            recording_status_callback_method="POST",
            recording_status_callback_event="completed",
        )
    dial.conference(
        name,
        beep="false",
        start_conference_on_enter=start_on_enter,
        # Whoever leaves ends the conversation: the caller hanging up frees the operator, the
        # operator hanging up sends the caller to the goodbye. In a warm transfer the operator
        # being brought in joins without it (hanging up must not cut the caller off) and gets
        # it when the first operator hands over.
        end_conference_on_exit=end_on_exit,
        status_callback=status_callback,
        # conference_event keeps the ConferenceSid (every join carries it) and the hold state;
        # start, leave and end would only be webhooks to receive and store.
        status_callback_event="join hold",
        status_callback_method="POST",
        **kwargs,
    )


def caller_conference_document(
    *,
    conference_name: str,
    dial_action: str,
    wait_url: str,
    status_callback: str,
    recording_status_callback: str | None = None,
) -> VoiceResponse:
    """The dequeued caller enters the conference and waits there (hearing `wait_url`) until the
    operator joins."""
    response = VoiceResponse()
    dial = response.dial(action=dial_action, method="POST")
    _conference(
        dial,
        conference_name,
        start_on_enter=False,
        wait_url=wait_url,
        status_callback=status_callback,
        recording_status_callback=recording_status_callback,
    )
    return response


#: Operator-facing speech (the operator's console language, normal speed).
OPERATOR_TEXTS = {
    "whisper": ("来电:{name}。", "Caller: {name}."),
    "whisper_transfer": ("转接来电:{name},由{by}转来。", "Transferred caller: {name}, from {by}."),
    "caller_gone": ("来电者已经挂断。", "The caller has already hung up."),
    "ended": ("通话结束。", "The call has ended."),
    "unknown_caller": ("未知来电者", "unknown caller"),
}
OPERATOR_VOICES = {
    "zh": Voice("zh-CN", "Polly.Zhiyu", 100),
    "en": Voice("en-US", "Polly.Joanna", 100),
}


def operator_text(key: str, console_language: str, **values: str) -> str:
    """An operator-facing sentence in the operator's console language."""
    zh, en = OPERATOR_TEXTS[key]
    return (en if console_language == "en" else zh).format(**values)


def operator_conference_document(
    console_language: str,
    whisper: str,
    *,
    conference_name: str,
    dial_action: str,
    status_callback: str,
    is_transfer: bool = False,
    recording_status_callback: str | None = None,
) -> VoiceResponse:
    """The operator answered: who is calling, then the conference (which starts with them)."""
    voice = OPERATOR_VOICES.get(console_language, OPERATOR_VOICES["zh"])
    response = VoiceResponse()
    add_say(response, voice.say(whisper))
    dial = response.dial(action=dial_action, method="POST")
    _conference(
        dial,
        conference_name,
        start_on_enter=True,
        wait_url=None,
        status_callback=status_callback,
        end_on_exit=not is_transfer,
        recording_status_callback=recording_status_callback,
    )
    return response


def operator_message_document(console_language: str, text: str) -> VoiceResponse:
    """A sentence to the operator, then hang up their leg."""
    voice = OPERATOR_VOICES.get(console_language, OPERATOR_VOICES["zh"])
    response = VoiceResponse()
    add_say(response, voice.say(text))
    response.hangup()
    return response
