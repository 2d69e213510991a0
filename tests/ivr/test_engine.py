"""The pure engine: whatever a caller does, they reach a person (or, when closed, a voicemail)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.ivr import engine
from hotline.ivr.check import load_scripts, walk
from hotline.ivr.engine import (
    CallContext,
    EnqueueAction,
    GatherAction,
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
