"""A check-in script missing from the deployed scripts folder: the answered check-in call still
asks its question (another loaded language, else the built-in short question), never the
"application error" fallback, and the elder's answer still counts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotline.checkins.models import EpisodeStatus
from hotline.ivr.check import _Reporter, check_checkin
from hotline.ivr.fallback import BUILTIN_CHECKIN_TEXT, builtin_checkin
from hotline.ivr.schema import CHECKIN_MESSAGES, LANGUAGES

from .conftest import episodes
from .test_checkin_call import _action, _answered, _say, _set_language

SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"


@pytest.fixture
def app_config(app_config, tmp_path, request):
    """The shipped scripts without the check-in scripts not named in the test's parameter."""
    folder = tmp_path / "ivr_scripts"
    folder.mkdir()
    kept = request.param
    for path in SHIPPED.glob("*.yaml"):
        if not path.name.startswith("checkin.") or path.name in kept:
            shutil.copy(path, folder)
    app_config["IVR_SCRIPTS_DIR"] = str(folder)
    return app_config


@pytest.mark.parametrize("app_config", [("checkin.yue-HK.yaml",)], indirect=True)
def test_without_the_mandarin_script_the_call_asks_in_another_loaded_language(
    app, elder, jobs, fake_calls, twilio
):
    assert any("checkin.zh-CN.yaml: missing" in e for e in app.extensions["hotline.ivr_errors"])
    call, twiml = _answered(app, jobs, twilio)  # a Mandarin speaker (the caller's default)
    assert "王阿姨,您好!呢度系长者服务热线嘅关爱回访。" in twiml
    assert "lang=yue-HK" in _action(twiml)
    after = _say(call, twiml, speech="冇事")
    assert "<Hangup" in after
    assert episodes(app)[0].status == EpisodeStatus.OK


@pytest.mark.parametrize("app_config", [()], indirect=True)
@pytest.mark.parametrize(
    ("language", "greeting", "ok_word"),
    [
        ("zh-CN", "王阿姨,您好!这里是长者服务热线的关爱回访。", "没事"),
        ("yue-HK", "王阿姨,您好!呢度系长者服务热线嘅关爱回访。", "冇事"),
        ("en-US", "Hello 王阿姨, this is your 长者服务热线 check-in.", "fine"),
    ],
)
def test_without_any_check_in_script_the_built_in_question_is_asked(
    app, elder, jobs, fake_calls, twilio, language, greeting, ok_word
):
    _set_language(app, elder, language)
    call, twiml = _answered(app, jobs, twilio)
    assert greeting in twiml
    assert BUILTIN_CHECKIN_TEXT[language][0]["question"] in twiml
    assert "<Record" not in twiml, "not the fallback voicemail"
    again = _say(call, twiml)  # silence once: asked again in the same language
    assert BUILTIN_CHECKIN_TEXT[language][0]["not_understood"] in again
    after = _say(call, again, speech=ok_word)
    assert "<Hangup" in after
    assert episodes(app)[0].status == EpisodeStatus.OK


@pytest.mark.parametrize("app_config", [()], indirect=True)
def test_without_any_check_in_script_key_0_still_reaches_a_person(
    app, elder, jobs, fake_calls, twilio
):
    call, twiml = _answered(app, jobs, twilio)
    after = _say(call, twiml, digits="0")
    assert BUILTIN_CHECKIN_TEXT["zh-CN"][0]["to_person"] in after
    assert "<Enqueue" in after
    assert episodes(app)[0].status == EpisodeStatus.HELP


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_built_in_question_passes_the_check_in_rules(language):
    script = builtin_checkin(language)
    assert set(script.messages) == set(CHECKIN_MESSAGES)
    assert script.emergency, "the shared emergency words are heard"
    report = _Reporter("<built-in>")
    check_checkin(script, report)
    assert report.errors == []
