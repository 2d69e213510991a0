"""What waiting callers hear, per language, as TwiML snapshots (a wording change shows up in
review; UPDATE_SNAPSHOTS=1 rewrites them)."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import pytest
from snapshots import assert_snapshot

from hotline.queue import twiml
from hotline.voice.queue_views import speech_for
from tests.factories import voice_urls

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _pretty(title: str, document) -> str:
    body = xml.dom.minidom.parseString(document.to_xml()).toprettyxml(indent="  ")
    return f"<!-- {title} -->\n" + body.split("\n", 1)[1]


@pytest.mark.parametrize("language", ["zh-CN", "yue-HK", "en-US"])
def test_queue_prompts_per_language(app, language):
    with app.test_request_context():
        voice, texts = speech_for(language)
        prompts = twiml.wait_prompts(
            texts, position=3, estimate_seconds=240, offer_callback=True, is_first=True
        )
        documents = [
            (
                "wait: third in line, about 4 minutes, callback offered, first round",
                twiml.wait_document(
                    voice,
                    prompts,
                    input_url=f"/twilio/queue/wait-input?lang={language}&turn=1",
                    next_url=f"/twilio/voice/wait?lang={language}&turn=1",
                    pause_seconds=50,
                    listen_for_callback=True,
                ),
            ),
            (
                "wait: next in line, soon",
                twiml.wait_document(
                    voice,
                    twiml.wait_prompts(
                        texts, position=1, estimate_seconds=40, offer_callback=False, is_first=False
                    ),
                    input_url=f"/twilio/queue/wait-input?lang={language}&turn=2",
                    next_url=f"/twilio/voice/wait?lang={language}&turn=2",
                    pause_seconds=50,
                    listen_for_callback=False,
                ),
            ),
            ("callback chosen", twiml.callback_confirmed_document(voice, texts)),
            (
                "wait cap",
                twiml.voicemail_document(
                    voice, texts, record_action=f"/twilio/voice/recorded?lang={language}"
                ),
            ),
            ("connecting", twiml.connecting_document(voice, texts)),
            (
                "on hold",
                twiml.on_hold_document(
                    voice, texts, loop_url=f"/twilio/queue/hold?lang={language}"
                ),
            ),
            (
                "operator did not answer",
                twiml.requeue_document(voice, texts, queue_name="line-main", urls=voice_urls()),
            ),
            ("after the conversation", twiml.goodbye_document(voice, texts)),
        ]
    actual = "\n".join(_pretty(title, document) for title, document in documents)
    assert_snapshot(SNAPSHOTS / f"queue_prompts.{language}.xml", actual)


def test_every_language_has_every_queue_text():
    keys = set(twiml.QUEUE_TEXTS["zh-CN"])
    for language, texts in twiml.QUEUE_TEXTS.items():
        assert set(texts) == keys, language
        assert all(value.strip() for value in texts.values()), language


def test_a_script_message_overrides_a_queue_text():
    texts = twiml.texts_for("zh-CN", {"queue_next": "马上就轮到您。", "unrelated": "x"})
    assert texts["queue_next"] == "马上就轮到您。" and "unrelated" not in texts
