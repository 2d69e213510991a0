"""The pure engine: whatever a caller does, they reach a person (or, when closed, a voicemail)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ivr import engine
from hotline.ivr.check import check_directory, load_scripts, walk
from hotline.ivr.engine import (
    CallContext,
    EnqueueAction,
    GatherAction,
    HangupAction,
    RecordAction,
    SayAction,
)

SCRIPTS = load_scripts(Path(__file__).resolve().parents[2] / "ivr_scripts")

#: One caller action: a key, a spoken phrase, silence (None), or nonsense.
caller_input = st.one_of(
    st.none(),
    st.sampled_from(list("0123456789*#")).map(lambda d: ("digits", d)),
    st.text(max_size=12).map(lambda s: ("speech", s)),
    st.sampled_from(["看病", "人工", "重复", "hello", "粤语", "English"]).map(
        lambda s: ("speech", s)
    ),
)


def _walk(language, inputs, ctx):
    pairs = [
        (
            item[1] if item and item[0] == "digits" else None,
            item[1] if item and item[0] == "speech" else None,
        )
        for item in inputs
    ]
    steps, _seconds = walk(SCRIPTS, "main", language, ctx, pairs)
    return steps[-1]


@settings(max_examples=300, deadline=None)
@given(
    language=st.sampled_from(["zh-CN", "yue-HK", "en-US"]),
    inputs=st.lists(caller_input, min_size=0, max_size=40),
    is_open=st.booleans(),
)
def test_any_sequence_of_inputs_ends_at_a_person_or_voicemail(language, inputs, is_open):
    ctx = CallContext(is_open=is_open)
    # Whatever came before, keep being silent: the caller must land somewhere within 2 more
    # inputs at most per menu, and never beyond the loop cap.
    step = _walk(language, inputs + [None] * 30, ctx)
    kinds = {type(a) for a in step.actions}
    if is_open:
        assert EnqueueAction in kinds, step.actions
    else:
        assert RecordAction in kinds, step.actions


def test_the_first_prompt_is_the_menu_with_a_person_and_the_languages_in_it():
    step = engine.begin(SCRIPTS, "main", "zh-CN", CallContext(is_open=True))
    gather = step.actions[0]
    assert isinstance(gather, GatherAction) and gather.node_id == "main_menu"
    spoken = "".join(p.text for p in gather.prompts)
    assert spoken.startswith("您好,这里是长者服务热线。找人工服务,请按0")
    assert spoken.endswith("讲广东话,请按9。For English, press 8.")
    assert gather.timeout_seconds == 9, "every prompt waits 8-10 s, the first one too"


def test_a_caller_whose_language_is_stored_hears_no_language_offer():
    step = engine.begin(SCRIPTS, "main", "yue-HK", CallContext(is_open=True, language_known=True))
    spoken = "".join(p.text for p in step.actions[0].prompts)
    assert "搵人工服务" in spoken and "普通话" not in spoken and "English" not in spoken


def test_hard_of_hearing_callers_get_slower_speech_and_more_time():
    ctx = CallContext(is_open=True, rate_percent=75, timeout_seconds=12)
    step = engine.begin(SCRIPTS, "main", "zh-CN", ctx)
    gather = step.actions[0]
    assert gather.timeout_seconds == 12
    assert all(p.rate_percent == 75 for p in gather.prompts)


def test_low_confidence_speech_is_not_guessed_at():
    ctx = CallContext(is_open=True)
    step = engine.begin(SCRIPTS, "main", "zh-CN", ctx)
    step = engine.handle_input(
        SCRIPTS,
        "main",
        step.state,
        ctx,
        node_id="main_menu",
        digits=None,
        speech="看病",
        confidence=0.1,
    )
    assert step.state.failures == 1
    assert isinstance(step.actions[0].prompts[0], SayAction)
    assert "没有听清楚" in step.actions[0].prompts[0].text


def test_stale_node_from_an_old_prompt_reaches_a_person():
    ctx = CallContext(is_open=True)
    step = engine.begin(SCRIPTS, "main", "zh-CN", ctx)
    step = engine.handle_input(
        SCRIPTS,
        "main",
        step.state,
        ctx,
        node_id="removed_menu",
        digits="1",
        speech=None,
        confidence=None,
    )
    assert any(isinstance(a, EnqueueAction) for a in step.actions)


def _answer(step, ctx, *, digits=None, speech=None, scripts=SCRIPTS, line="main"):
    after = engine.answer(scripts, line, step, ctx, digits=digits, speech=speech)
    assert after is not None, "the step waits at no prompt"
    return after


@pytest.mark.parametrize(
    ("language", "said", "kind", "number"),
    [
        ("zh-CN", "我摔倒了", "medical", "120"),
        ("zh-CN", "胸口痛,喘不上气", "medical", "120"),
        ("zh-CN", "急救", "medical", "120"),
        ("zh-CN", "着火了", "fire", "119"),
        ("zh-CN", "有人闯进来了", "police", "110"),
        ("yue-HK", "我跌倒咗", "medical", "120"),
        ("yue-HK", "火烛呀", "fire", "119"),
        ("yue-HK", "有人爆格", "police", "110"),
        ("en-US", "I can't breathe", "medical", "120"),
        ("en-US", "chest pain", "medical", "120"),
        ("en-US", "someone broke in", "police", "110"),
    ],
)
def test_emergency_words_at_the_first_prompt_queue_urgently_with_the_number(
    language, said, kind, number
):
    ctx = CallContext(is_open=True)
    step = _answer(engine.begin(SCRIPTS, "main", language, ctx), ctx, speech=said)
    assert step.emergency == kind and step.scenario == "emergency"
    sentence, enqueue = step.actions
    assert isinstance(sentence, SayAction) and number in sentence.text
    assert enqueue == EnqueueAction(language, "emergency", "emergency", priority="emergency")


def test_english_emergency_words_match_whole_words_only():
    ctx = CallContext(is_open=True)
    step = _answer(engine.begin(SCRIPTS, "main", "en-US", ctx), ctx, speech="firefox on my phone")
    assert step.emergency is None


def test_an_emergency_on_a_closed_line_still_gets_the_sentence_then_the_voicemail():
    ctx = CallContext(is_open=False)
    # The line closed while the first prompt played: each request decides with its own context.
    step = engine.begin(SCRIPTS, "main", "zh-CN", CallContext(is_open=True))
    step = _answer(step, ctx, speech="救命")
    assert "120" in step.actions[0].text
    assert any(isinstance(a, RecordAction) for a in step.actions)
    assert not any(isinstance(a, EnqueueAction) for a in step.actions)


def test_spoken_kanbing_at_the_first_prompt_is_the_medical_choice_not_a_language():
    ctx = CallContext(is_open=True)
    step = _answer(engine.begin(SCRIPTS, "main", "zh-CN", ctx), ctx, speech="看病")
    assert step.scenario == "medical" and step.state.language == "zh-CN"
    assert step.enqueue is not None


def test_language_key_at_the_first_prompt_switches_without_offering_it_again():
    ctx = CallContext(is_open=True)
    step = _answer(engine.begin(SCRIPTS, "main", "zh-CN", ctx), ctx, digits="9")
    assert step.language_changed and step.state.language == "yue-HK"
    spoken = "".join(p.text for p in step.actions[0].prompts)
    assert spoken.startswith("搵人工服务") and "普通话" not in spoken


def test_after_a_silence_the_short_retry_prompt_is_played():
    ctx = CallContext(is_open=True)
    step = _answer(engine.begin(SCRIPTS, "main", "zh-CN", ctx), ctx)
    assert [p.text for p in step.actions[0].prompts] == ["没有听清楚。", "找人工,请按0。"]
    repeat = _answer(step, ctx, digits="*")
    assert "看病,请按1" in "".join(p.text for p in repeat.actions[0].prompts)


def test_a_blocked_caller_hears_a_greeting_and_the_voicemail_only():
    step = engine.begin(SCRIPTS, "main", "zh-CN", CallContext(is_open=True, blocked=True))
    kinds = [type(a).__name__ for a in step.actions]
    assert kinds == ["SayAction", "SayAction", "RecordAction", "SayAction", "HangupAction"]
    assert step.actions[0].text == "您好,这里是长者服务热线。"
    assert step.path_entry["result"] == "blocked"


def test_a_family_contact_is_greeted_for_the_elder_and_may_ask_for_a_callback():
    ctx = CallContext(is_open=True, proxy_for="王阿姨", proxy_may_request_callbacks=True)
    step = engine.begin(SCRIPTS, "main", "zh-CN", ctx)
    prompts = [p.text for p in step.actions[0].prompts]
    assert prompts[:2] == ["您好,您是为王阿姨来电的吧。", "要我们给王阿姨回电话,请按5。"]
    assert step.path_entry["proxy_for"] == "王阿姨"
    by_key = _answer(step, ctx, digits="5")
    assert by_key.callback_for_elder and isinstance(by_key.actions[-1], HangupAction)
    by_word = _answer(step, ctx, speech="请给她回电话")
    assert by_word.callback_for_elder


def test_a_family_contact_without_the_permission_is_not_offered_a_callback():
    ctx = CallContext(is_open=True, proxy_for="王阿姨")
    step = engine.begin(SCRIPTS, "main", "zh-CN", ctx)
    assert not any("回电话" in p.text for p in step.actions[0].prompts)
    pressed = _answer(step, ctx, digits="5")
    assert not pressed.callback_for_elder and pressed.state.failures == 1


def test_the_no_menu_intake_keeps_the_words_and_never_branches():
    ctx = CallContext(is_open=True)
    step = engine.begin(SCRIPTS, "nomenu", "zh-CN", ctx)
    assert step.actions[0].node_id == "ask"
    for said in ("我想问养老金", "1", None):
        after = _answer(step, ctx, speech=said, line="nomenu")
        assert after.enqueue is not None and after.caller_words == (said or None)
    emergency = _answer(step, ctx, speech="我摔倒了", line="nomenu")
    assert emergency.enqueue.priority == "emergency"


def test_a_script_may_name_its_own_emergency_numbers(tmp_path):
    source = Path(__file__).resolve().parents[2] / "ivr_scripts" / "main.zh-CN.yaml"
    text = source.read_text(encoding="utf-8")
    text = text.replace(
        "messages:",
        'emergency:\n  medical: {say: "有危险请拨打999。", words: [不舒服]}\nmessages:',
        1,
    )
    (tmp_path / "main.zh-CN.yaml").write_text(text.replace("languages:", "x_languages:"), "utf-8")
    shutil.copy(source.with_name("checkin.zh-CN.yaml"), tmp_path)  # required beside line scripts
    scripts, errors = check_directory(tmp_path)
    assert errors == []
    ctx = CallContext(is_open=True)
    step = _answer(
        engine.begin(scripts, "main", "zh-CN", ctx), ctx, speech="我很不舒服", scripts=scripts
    )
    assert step.actions[0].text == "有危险请拨打999。"
    step = _answer(engine.begin(scripts, "main", "zh-CN", ctx), ctx, speech="救命", scripts=scripts)
    assert step.emergency == "medical", "the shared words still apply"
