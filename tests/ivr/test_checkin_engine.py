"""The check-in call's pure engine (hotline.ivr.checkin.decide) on the shipped scripts: keys,
"all is well" words with and without negations, emergency words, other words, silences."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.ivr.check import check_directory
from hotline.ivr.checkin import decide

SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"
SCRIPTS = check_directory(SHIPPED)[0].checkins


def test_the_three_check_in_scripts_are_shipped_and_valid():
    assert sorted(SCRIPTS) == ["en-US", "yue-HK", "zh-CN"]


@pytest.mark.parametrize(
    ("language", "digits", "speech", "silences", "kind", "via"),
    [
        ("zh-CN", "1", None, 0, "ok", "key"),
        ("zh-CN", "0", None, 0, "person", "key"),
        ("zh-CN", None, "好", 0, "ok", "speech"),
        ("zh-CN", None, "挺好的,没事", 0, "ok", "speech"),
        ("zh-CN", None, "没问题", 0, "ok", "speech"),
        ("zh-CN", None, "不好", 0, "person", "speech"),
        ("zh-CN", None, "我不太舒服", 0, "person", "speech"),
        ("zh-CN", None, "救命啊", 0, "emergency", "speech"),
        ("zh-CN", None, None, 0, "repeat", "silence"),
        ("zh-CN", None, None, 1, "person", "silence"),
        ("zh-CN", "7", None, 0, "repeat", "invalid"),
        ("zh-CN", "7", None, 1, "person", "invalid"),
        ("yue-HK", None, "冇事", 0, "ok", "speech"),
        ("yue-HK", None, "几好呀", 0, "ok", "speech"),
        ("yue-HK", None, "唔好", 0, "person", "speech"),
        ("yue-HK", None, "我跌亲", 0, "emergency", "speech"),
        ("en-US", None, "fine thanks", 0, "ok", "speech"),
        ("en-US", None, "yes all good", 0, "ok", "speech"),
        ("en-US", None, "I'm not okay", 0, "person", "speech"),
        ("en-US", None, "I don't feel good", 0, "person", "speech"),
        ("en-US", None, "I need an ambulance", 0, "emergency", "speech"),
        ("en-US", None, "my knee hurts", 0, "person", "speech"),
    ],
)
def test_decide(language, digits, speech, silences, kind, via):
    decision = decide(SCRIPTS[language], digits=digits, speech=speech, silences=silences)
    assert (decision.kind, decision.via) == (kind, via)
    if kind == "emergency":
        assert decision.emergency is not None and decision.emergency.say
