"""The fast TwiML writer (issue 16) gives the twilio SDK's bytes for every verb and attribute.

tests/conftest.py also compares both on every document the app answers in the suite."""

from __future__ import annotations

import random

import pytest
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from hotline.telephony.twiml import to_xml

TEXTS = [
    "",
    "您好,这里是长者服务热线。请按 0 转人工。",
    "a & b < c > d \"e\" 'f'",
    '王阿姨 & 赵志愿 <需要> "帮助"',
    "line\nbreak\r\ttab",
    "&amp; already escaped",
    "\ud83d lone surrogate",
    "😀 emoji",
]

URLS = [
    "http://localhost/twilio/voice/menu?node=main&lang=zh-CN&turn=1",
    'https://example.org/a?x=<1>&y="2"',
    "/twilio/queue/wait?lang=yue-HK",
]


def _voice_documents():
    for text in TEXTS:
        for url in URLS:
            r = VoiceResponse()
            g = r.gather(
                input="dtmf speech",
                action=url,
                method="POST",
                timeout=8,
                num_digits=1,
                finish_on_key="",
                language="zh-CN",
                hints=text,
                action_on_empty_result=False,
                speech_timeout="auto",
            )
            g.say(text, voice="Polly.Zhiyu", language="cmn-CN")
            g.play(url, loop=2)
            g.pause(length=1)
            r.redirect(url, method="POST")
            yield r

            r = VoiceResponse()
            r.say(text, voice="Google.cmn-CN-Standard-A", language="cmn-CN")
            s = r.say(voice="Polly.Zhiyu")
            s.prosody(text, rate="90%")
            r.enqueue("main", wait_url=url, wait_url_method="POST", action=url, method="POST")
            yield r

            r = VoiceResponse()
            d = r.dial(
                action=url, method="POST", timeout=20, caller_id="+861012345678", record=True
            )
            d.conference(
                text or "room",
                start_conference_on_enter=True,
                end_conference_on_exit=False,
                beep=False,
                wait_url=url,
                wait_method="POST",
                status_callback=url,
                status_callback_event="start end join leave",
                status_callback_method="POST",
            )
            r.record(
                action=url,
                method="POST",
                max_length=120,
                play_beep=True,
                finish_on_key="#",
                recording_status_callback=url,
                transcribe=False,
            )
            r.leave()
            r.hangup()
            yield r

            r = VoiceResponse()
            d = r.dial(caller_id="+861012345678", answer_on_bridge=True)
            d.number("+8613800000021", url=url, status_callback_event="answered completed")
            d.queue("main", url=url)
            d.client("op-1")
            yield r

            r = VoiceResponse()
            r.append(text)
            r.say(text)
            r.append(text + "tail")
            r.append("last tail wins")
            yield r

            r = VoiceResponse()
            r.pause()
            yield r


def _message_documents():
    for text in TEXTS:
        r = MessagingResponse()
        r.message(text, to="+8613800000021", action=URLS[1])
        yield r
    yield MessagingResponse()


DOCUMENTS = [*_voice_documents(), *_message_documents(), VoiceResponse()]


@pytest.mark.parametrize("index", range(len(DOCUMENTS)))
def test_the_writer_gives_the_sdks_bytes(index):
    document = DOCUMENTS[index]
    assert to_xml(document) == document.to_xml()


def test_random_attribute_values_and_nesting():
    rng = random.Random(16)
    alphabet = "aZ0 &<>\"'\r\n\t=?你好😀"
    for _ in range(300):
        r = VoiceResponse()
        node = r
        for _ in range(rng.randrange(1, 5)):
            attrs = {
                rng.choice(["timeout", "action", "language", "loop", "beep", "x_y"]): rng.choice(
                    [
                        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8))),
                        rng.randrange(-3, 30),
                        rng.random() < 0.5,
                        1.5,
                    ]
                )
            }
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
            child = node.add_child(rng.choice(["Say", "Gather", "Play"]), text or None, **attrs)
            if rng.random() < 0.3:
                node.append(text)
            node = child if rng.random() < 0.5 else node
        assert to_xml(r) == r.to_xml()


def test_a_value_that_is_not_text_goes_to_the_sdk():
    r = VoiceResponse()
    r.add_child("Say", {"a": "你好"})
    assert to_xml(r) == r.to_xml()
