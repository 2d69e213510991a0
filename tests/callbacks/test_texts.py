"""What callbacks say and text, snapshot-tested (a wording change shows up in review), and the
feature-phone rules: one segment, the case number or time first, plain digits, no links."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from snapshots import assert_snapshot
from twilio.twiml.voice_response import VoiceResponse

from hotline.callbacks import texts
from hotline.callbacks.models import AttemptOutcome
from hotline.callbacks.render import answer_twiml
from hotline.callbacks.service import AnswerResult
from hotline.ivr.check import check_directory
from hotline.lines.models import Line
from tests.factories import voice_urls

SNAPSHOTS = Path(__file__).with_name("snapshots")
CALLED_AT = datetime(2025, 3, 4, 9, 55, tzinfo=ZoneInfo("Asia/Shanghai"))
LANGUAGES = ("zh-CN", "yue-HK", "en-US")
LINE = Line(key="main", name="长者服务热线", phone_number="+861012345678", script_key="main")


def _all_texts(case_number: str | None) -> str:
    parts = []
    for language in LANGUAGES:
        parts.append(f"[{language}] person: {texts.person_greeting(language, LINE.name)}")
        parts.append(
            f"[{language}] machine: "
            + texts.machine_message(language, LINE.name, LINE.phone_number)
        )
        parts.append(
            f"[{language}] caller sms: "
            + texts.caller_failed_sms(
                language=language,
                case_number=case_number,
                called_at_local=CALLED_AT,
                attempts=3,
                line_name=LINE.name,
                line_number=LINE.phone_number,
            )
        )
        parts.append(
            f"[{language}] family sms: "
            + texts.family_alert_sms(
                language=language,
                case_number=case_number,
                called_at_local=CALLED_AT,
                elder_label="王阿姨",
                attempts=3,
                line_name=LINE.name,
                line_number=LINE.phone_number,
            )
        )
    for console_language in ("zh", "en"):
        parts.append(
            f"[{console_language}] supervisor sms: "
            + texts.supervisor_alert_sms(
                console_language=console_language,
                case_number=case_number,
                called_at_local=CALLED_AT,
                caller_label="王阿姨" if console_language == "zh" else "",
                caller_number="+8613123456701",
                attempts=3,
                last_outcome=AttemptOutcome.NO_ANSWER,
            )
        )
    return "\n".join(parts) + "\n"


@pytest.mark.parametrize("case_number", [None, "20250304-0042"], ids=["no-case", "case"])
def test_callback_texts_snapshot(case_number):
    name = "texts.case.txt" if case_number else "texts.txt"
    assert_snapshot(SNAPSHOTS / name, _all_texts(case_number))


@pytest.mark.parametrize("case_number", [None, "20250304-0042"])
def test_every_text_is_one_segment_with_no_link_and_the_case_or_time_first(case_number):
    for line in _all_texts(case_number).splitlines():
        label, body = line.split(": ", 1)
        if "sms" not in label:
            continue
        assert texts.fits_one_segment(body), (label, body, texts.sms_length(body))
        assert "http" not in body and "www" not in body
        first = body.split(":")[0].split(":")[0]
        assert first.startswith(("工单", "Case")) if case_number else first[0].isdigit(), body


def test_a_very_long_name_is_shortened_rather_than_sent_as_two_segments():
    body = texts.supervisor_alert_sms(
        console_language="zh",
        case_number="20250304-0042",
        called_at_local=CALLED_AT,
        caller_label="很长的名字" * 10,
        caller_number="+8613123456701",
        attempts=3,
        last_outcome=AttemptOutcome.BUSY,
    )
    assert texts.fits_one_segment(body) and body.startswith("工单20250304-0042")


def test_segment_limits_follow_the_encoding():
    assert texts.sms_length("a" * 160) == (160, 160)
    assert texts.sms_length("您" * 70) == (70, 70)
    assert texts.sms_length("a{") == (3, 160), "GSM extension characters take two places"


@pytest.mark.parametrize("kind", ["person", "machine", "fax"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_answer_twiml_snapshot(kind, language):
    scripts, errors = check_directory(Path(__file__).resolve().parents[2] / "ivr_scripts")
    assert not errors
    result = AnswerResult(kind=kind, line=LINE, language=language, rate_percent=None)
    document: VoiceResponse = answer_twiml(result, scripts, urls=voice_urls())
    assert_snapshot(SNAPSHOTS / f"answer.{kind}.{language}.xml", document.to_xml() + "\n")


def test_hard_of_hearing_callers_hear_the_slower_rate():
    scripts, _errors = check_directory(Path(__file__).resolve().parents[2] / "ivr_scripts")
    result = AnswerResult(kind="person", line=LINE, language="zh-CN", rate_percent=75)
    assert 'rate="75%"' in answer_twiml(result, scripts, urls=voice_urls()).to_xml()


def test_an_english_alert_about_a_chinese_name_keeps_the_number_and_one_segment():
    body = texts.supervisor_alert_sms(
        console_language="en",
        case_number="20250304-0042",
        called_at_local=CALLED_AT,
        caller_label="王阿姨",
        caller_number="+8613123456701",
        attempts=3,
        last_outcome=AttemptOutcome.NO_ANSWER,
    )
    assert texts.fits_one_segment(body) and "13123456701" in body, body


def test_a_single_attempt_reads_naturally():
    def caller(language: str) -> str:
        return texts.caller_failed_sms(
            language=language,
            case_number=None,
            called_at_local=CALLED_AT,
            attempts=1,
            line_name=LINE.name,
            line_number=LINE.phone_number,
        )

    assert "回电1次没有接通" in caller("zh-CN")
    assert "called you back once" in caller("en-US")


def test_outcome_labels_in_both_console_languages():
    assert texts.outcome_label("no_answer") == "无人接听"
    assert texts.outcome_label("no_answer", "en") == "no answer"
    assert texts.outcome_label("caller_called_in", "en") == "caller called in"
    assert texts.outcome_label("twilio_error:21210") == "拨号出错 (Twilio 21210)"
    assert texts.outcome_label(None) == ""
