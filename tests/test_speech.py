"""THE voice and rate rule (hotline.telephony.speech), used by every voice prompt."""

from __future__ import annotations

from types import SimpleNamespace

from twilio.twiml.voice_response import VoiceResponse

from hotline.callbacks.render import answer_twiml
from hotline.callbacks.service import AnswerResult
from hotline.ivr.fallback import fallback_twiml
from hotline.ivr.schema import ScriptSet
from hotline.telephony.speech import add_say, rate_for, voice_for
from tests.factories import voice_urls


def test_one_voice_per_language_and_cantonese_is_the_neural_hiujin():
    assert voice_for("zh-CN") == "Polly.Zhiyu"
    assert voice_for("yue-HK") == "Polly.Hiujin-Neural"
    assert voice_for("en-US") == "Polly.Joanna"
    assert voice_for("fr-FR") == "Polly.Zhiyu"  # unknown: Mandarin


def test_rates_default_85_hard_of_hearing_75_own_rate_first():
    assert rate_for() == 85
    assert rate_for(is_hard_of_hearing=True) == 75
    assert rate_for(speech_rate_percent=70, is_hard_of_hearing=True) == 70
    assert rate_for(default=None) is None


def test_numbers_are_read_digit_by_digit_at_the_rate():
    response = VoiceResponse()
    say = SimpleNamespace(
        text="请拨 12345 转 9", language="zh-CN", voice="Polly.Zhiyu", rate_percent=75
    )
    add_say(response, say)
    xml = response.to_xml()
    assert '<prosody rate="75%">请拨 <say-as interpret-as="digits">12345</say-as> 转 9' in xml
    assert 'language="cmn-CN"' in xml


def test_the_fallback_and_a_scriptless_callback_speak_cantonese_with_the_same_voice():
    assert (
        'voice="Polly.Hiujin-Neural"'
        in fallback_twiml(
            "yue-HK", record_action="/twilio/voice/fallback/recorded?lang=yue-HK"
        ).to_xml()
    )
    line = SimpleNamespace(
        script_key="none", name="长者服务热线", queue_name="line-main", is_recording_enabled=False
    )
    result = AnswerResult(kind="person", line=line, language="yue-HK", rate_percent=None)
    xml = answer_twiml(result, ScriptSet(), urls=voice_urls()).to_xml()
    assert 'voice="Polly.Hiujin-Neural"' in xml and '<prosody rate="85%">' in xml
    assert "<Enqueue" in xml and 'waitUrl="/twilio/voice/wait?lang=yue-HK"' in xml
    assert "录音" not in xml


def test_a_scriptless_line_that_records_still_says_so_before_the_queue():
    line = SimpleNamespace(
        script_key="none", name="长者服务热线", queue_name="line-main", is_recording_enabled=True
    )
    result = AnswerResult(kind="person", line=line, language="yue-HK", rate_percent=None)
    xml = answer_twiml(result, ScriptSet(), urls=voice_urls()).to_xml()
    assert "同职员嘅通话会录音。" in xml
    assert xml.index("录音") < xml.index("<Enqueue")
