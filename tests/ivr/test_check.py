"""The IVR script checker: shipped scripts pass; each broken script fails with its exact error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hotline.ivr.check import (
    SPEECH_BUDGET_SECONDS,
    check_directory,
    read_emergency_file,
    speech_seconds,
    walk,
)
from hotline.ivr.engine import CallContext, EnqueueAction, GatherAction, RecordAction

BROKEN = Path(__file__).parent / "broken"
SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir())


def test_shipped_scripts_pass_the_checker():
    scripts, errors = check_directory(SHIPPED)
    assert errors == []
    assert sorted(scripts.scripts) == [
        (line, language) for line in ("main", "nomenu") for language in ("en-US", "yue-HK", "zh-CN")
    ]


def _case_dir(case: str, tmp_path: Path) -> Path:
    """A case with a check-in script of its own is checked as it is. The others are about line
    scripts: they are checked beside the shipped checkin.zh-CN.yaml (which every directory of
    line scripts needs), so each expected.txt names only its own rule."""
    source = BROKEN / case
    if any(p.name.startswith("checkin.") for p in source.iterdir()):
        return source
    target = tmp_path / case
    shutil.copytree(source, target)
    shutil.copy(SHIPPED / "checkin.zh-CN.yaml", target)
    return target


@pytest.mark.parametrize("case", CASES)
def test_broken_script_fails_with_its_exact_error(case, tmp_path):
    _scripts, errors = check_directory(_case_dir(case, tmp_path))
    expected = (BROKEN / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert errors == expected


def test_there_is_a_broken_script_for_every_rule():
    assert len(CASES) >= 20


def test_cli_check_passes_the_shipped_scripts(runner):
    result = runner.invoke(args=["ivr", "check", "--dir", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "ok: 6 script(s)" in result.output


def test_cli_check_fails_naming_file_and_node(runner):
    result = runner.invoke(args=["ivr", "check", "--dir", str(BROKEN / "too_many_choices")])
    assert result.exit_code == 1
    assert (
        "main.zh-CN.yaml: node 'menu': menu has 5 choices besides 0; at most 4 are allowed"
        in result.output
    )


def test_line_scripts_without_the_mandarin_check_in_script_fail_the_cli(runner, tmp_path):
    for path in SHIPPED.glob("*.yaml"):
        if path.name != "checkin.zh-CN.yaml":
            shutil.copy(path, tmp_path)
    result = runner.invoke(args=["ivr", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "checkin.zh-CN.yaml: missing; check-in calls" in result.output
    assert "greet, question, not_understood, ok_goodbye, to_person and ok_words" in result.output
    assert "1 error(s)" in result.output, "the other check-in languages do not stand in for it"


def test_an_empty_folder_is_an_error(runner, tmp_path):
    result = runner.invoke(args=["ivr", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no IVR scripts" in result.output


def test_speech_estimate_counts_characters_words_and_pauses():
    # 5 Chinese characters a second at 100 %, 2.5 English words, 0.2 s per punctuation mark.
    assert speech_seconds("您好您好您", "zh-CN", 100) == 1.0
    assert speech_seconds("您好您好您", "zh-CN", 50) == 2.0
    assert speech_seconds("press one now please go", "en-US", 100) == 2.0
    assert speech_seconds("请按0。", "zh-CN", 100) == pytest.approx(0.6 + 0.2)


@pytest.mark.parametrize("language", ["zh-CN", "yue-HK", "en-US"])
@pytest.mark.parametrize("line", ["main", "nomenu"])
def test_shipped_scripts_reach_a_person_with_margin_on_silence_and_invalid_keys(line, language):
    scripts, _errors = check_directory(SHIPPED)
    for answer in [(None, None), ("#", None)]:
        steps, seconds = walk(scripts, line, language, CallContext(is_open=True), [answer])
        assert isinstance(steps[-1].actions[-1], EnqueueAction)
        prompts = sum(isinstance(a, GatherAction) for s in steps for a in s.actions)
        assert prompts <= 2, "silence reaches a person in at most 2 prompts"
        assert seconds <= SPEECH_BUDGET_SECONDS - 2, f"{line}.{language}: {seconds:.1f} s"
    steps, seconds = walk(scripts, line, language, CallContext(is_open=False), [(None, None)])
    assert any(isinstance(a, RecordAction) for a in steps[-1].actions)
    assert seconds <= SPEECH_BUDGET_SECONDS


def test_shipped_emergency_words_have_a_sentence_and_words_in_every_language():
    table, errors = read_emergency_file()
    assert errors == []
    assert set(table) == {"medical", "fire", "police"}
    for kind, number in (("medical", "120"), ("fire", "119"), ("police", "110")):
        for language in ("zh-CN", "yue-HK", "en-US"):
            say, words = table[kind][language]
            assert number in say
            assert words


def test_a_broken_emergency_file_is_reported_by_name(tmp_path):
    path = tmp_path / "emergency.yaml"
    path.write_text(
        "kinds:\n  medical:\n    zh-CN: {say: '请拨120。', words: []}\n", encoding="utf-8"
    )
    _table, errors = read_emergency_file(path)
    assert errors == [
        "emergency.yaml: emergency 'medical' has no words in zh-CN",
        "emergency.yaml: emergency 'medical' has no sentence in yue-HK",
        "emergency.yaml: emergency 'medical' has no sentence in en-US",
    ]
