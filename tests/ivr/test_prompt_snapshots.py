"""What callers hear, per language, as TwiML snapshots."""

from __future__ import annotations

import xml.dom.minidom
from pathlib import Path

import pytest
from snapshots import assert_snapshot

from conftest import follow

SNAPSHOTS = Path(__file__).parent / "snapshots"
LANGUAGE_KEYS = {"zh-CN": None, "yue-HK": "9", "en-US": "8"}


def _pretty(response) -> str:
    return xml.dom.minidom.parseString(response.get_data()).toprettyxml(indent="  ")


@pytest.mark.parametrize("language", ["zh-CN", "yue-HK", "en-US"])
def test_menu_and_person_prompts_per_language(twilio, language):
    sid = twilio.new_call_sid()
    params = twilio.call_params(sid)
    first = twilio.post("/twilio/voice", params)
    # The first answer is the main menu (greeting, person, topics, languages in one Gather);
    # the other languages are one key away in it.
    key = LANGUAGE_KEYS[language]
    menu = follow(twilio, first, params, digits=key) if key else first
    assert_snapshot(SNAPSHOTS / f"main_menu.{language}.xml", _pretty(menu))
    person = follow(twilio, menu, params, digits="0")
    assert_snapshot(SNAPSHOTS / f"to_person.{language}.xml", _pretty(person))


@pytest.mark.parametrize("language", ["zh-CN", "yue-HK", "en-US"])
def test_fallback_prompt_per_language(twilio, language):
    response = twilio.post(
        f"/twilio/voice/fallback?lang={language}", twilio.call_params("CA" + "0" * 32)
    )
    assert_snapshot(SNAPSHOTS / f"fallback.{language}.xml", _pretty(response))


def test_emergency_words_and_sentences_per_language():
    """The emergency words heard at every prompt, and what the caller is told, per language."""
    from hotline.ivr.check import check_directory

    scripts, errors = check_directory(Path(__file__).resolve().parents[2] / "ivr_scripts")
    assert errors == []
    lines = []
    for language in ("zh-CN", "yue-HK", "en-US"):
        script = scripts.get("main", language)
        for kind in script.emergency:
            lines.append(f"[{language} {kind.kind}] {kind.say}")
            lines.append("  " + ", ".join(kind.words))
    assert_snapshot(SNAPSHOTS / "emergency_words.txt", "\n".join(lines) + "\n")
