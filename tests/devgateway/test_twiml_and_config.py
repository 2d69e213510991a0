"""Pure pieces: TwiML/SSML reading, speech timing, configuration."""

from __future__ import annotations

import pytest

from hotline.devgateway import twiml as tw
from hotline.devgateway.config import DEFAULT_IDENTITIES, load_config
from hotline.devgateway.util import rfc2822, sms_segments
from hotline.devgateway.webhooks import resolve_url, url_timeouts


def _say(xml: str) -> tw.Speech:
    """Parse one <Say> and read it."""
    return tw.speech_of_say(tw.parse_document(f"<Response>{xml}</Response>")[0])


def test_ssml_gives_text_rate_breaks_and_spelled_digits():
    """prosody, say-as digits/telephone, break, sub."""
    speech = _say(
        '<Say language="zh-CN"><prosody rate="85%">您的案件号是'
        '<say-as interpret-as="digits">2024</say-as></prosody><break time="1s"/>'
        '<sub alias="幺二三四五">12345</sub></Say>'
    )
    assert speech.text == "您的案件号是2 0 2 4幺二三四五"
    assert speech.rate == 0.85
    assert [(s.text, s.rate, s.pause) for s in speech.segments] == [
        ("您的案件号是2 0 2 4", 0.85, 0.0),
        ("", 1.0, 1.0),
        ("幺二三四五", 1.0, 0.0),
    ]


def test_named_rates_and_voices_map_to_languages():
    """x-slow, Polly.Zhiyu, Google Cantonese voices, the browser's zh-HK."""
    assert _say('<Say><prosody rate="x-slow">hi</prosody></Say>').rate == 0.6
    assert _say('<Say voice="Polly.Zhiyu">你好</Say>').language == "cmn-CN"
    assert _say('<Say voice="Google.yue-HK-Standard-A">你好</Say>').language == "yue-HK"
    assert tw.browser_language("yue-HK") == "zh-HK"
    assert tw.browser_language("cmn-CN") == "zh-CN"
    assert tw.browser_language("en-US") == "en-US"


def test_slower_speech_takes_longer():
    """85 % rate: about 1/0.85 of the normal time."""
    normal = tw.speech_seconds(_say("<Say>一二三四五六七八</Say>"))
    slow = tw.speech_seconds(_say('<Say><prosody rate="85%">一二三四五六七八</prosody></Say>'))
    assert normal == pytest.approx(2.0)
    assert slow == pytest.approx(2.0 / 0.85)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", 12100),
        ("<Response>", 12100),
        ("<Say>x</Say>", 12100),
        ("<Response>" + "x" * 70000 + "</Response>", 11750),
    ],
)
def test_documents_twilio_refuses(body: str, code: int):
    """Empty, broken, wrong root, too large."""
    with pytest.raises(tw.TwimlError) as error:
        tw.parse_document(body)
    assert error.value.code == code


def test_grammar_warnings_per_context():
    """Dial is not allowed in a waitUrl; unknown attributes and children are named."""
    verbs = tw.parse_document(
        '<Response><Dial>+1</Dial><Say>x</Say><Gather foo="1"><Dial/></Gather></Response>'
    )
    assert tw.grammar_warnings(verbs, "queue-wait") == [
        "<Dial> is not allowed here (queue-wait); skipped",
        "<Gather> has an unknown attribute 'foo'",
        "<Dial> is not allowed inside <Gather>",
    ]
    assert tw.grammar_warnings(tw.parse_document("<Response><Connect/></Response>"), "call") == [
        "<Connect> is not emulated by the dev gateway; skipped"
    ]


def test_urls_resolve_like_twilio():
    """Relative to the requesting document; fragments carry timeouts."""
    assert resolve_url("http://h:5000/twilio/voice?x=1", "/twilio/voice/input?node=a") == (
        "http://h:5000/twilio/voice/input?node=a"
    )
    assert resolve_url("http://h/twilio/voice/wait", "again") == "http://h/twilio/voice/again"
    assert url_timeouts("http://h/a#ct=2000&rt=4000", connect=5, total=15) == (
        "http://h/a",
        2.0,
        4.0,
    )
    assert url_timeouts("http://h/a#tt=3000", connect=5, total=15) == ("http://h/a", 5, 3.0)


def test_sms_segments_and_dates():
    """GSM-7 vs UCS-2 segment counts; RFC 2822 dates with +0000."""
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("字" * 70) == 1
    assert sms_segments("字" * 71) == 2
    assert sms_segments("€" * 80) == 1
    assert rfc2822(0) == "Thu, 01 Jan 1970 00:00:00 +0000"


def test_config_reads_overrides_then_environment_then_defaults():
    """Names are shared between keys and environment variables."""
    env = {
        "HOTLINE_URL": "http://app:8000/",
        "LINES": "+861011111111, +861022222222",
        "AUTO_ANSWER_NUMBERS": "",
    }
    config = load_config({"AUTO_ANSWER_NUMBERS": "+8613900000001"}, env=env)
    assert config.hotline_url == "http://app:8000"
    assert config.lines == ("+861011111111", "+861022222222")
    assert config.auto_answer_numbers == ("+8613900000001",)
    assert config.account_sid == "AC" + "0" * 32
    assert config.auth_token == "dev-auth-token"
    assert config.public_url == "http://127.0.0.1:5055"
    assert config.identities == DEFAULT_IDENTITIES
    assert config.voice_url == "http://app:8000/twilio/voice"
    custom = load_config({}, env={"DEV_PHONE_IDENTITIES": "张大爷=+8613000000001;+8613000000002"})
    assert custom.identities == (("张大爷", "+8613000000001"), ("+8613000000002", "+8613000000002"))
