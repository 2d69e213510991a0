"""The IVR script checker: shipped scripts pass; each broken script fails with its exact error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.ivr.check import check_directory

BROKEN = Path(__file__).parent / "broken"
SHIPPED = Path(__file__).resolve().parents[2] / "ivr_scripts"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir())


def test_shipped_scripts_pass_the_checker():
    scripts, errors = check_directory(SHIPPED)
    assert errors == []
    assert sorted(scripts.scripts) == [("main", "en-US"), ("main", "yue-HK"), ("main", "zh-CN")]


@pytest.mark.parametrize("case", CASES)
def test_broken_script_fails_with_its_exact_error(case):
    _scripts, errors = check_directory(BROKEN / case)
    expected = (BROKEN / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert errors == expected


def test_there_is_a_broken_script_for_every_rule():
    assert len(CASES) >= 20


def test_cli_check_passes_the_shipped_scripts(runner):
    result = runner.invoke(args=["ivr", "check", "--dir", str(SHIPPED)])
    assert result.exit_code == 0, result.output
    assert "ok: 3 script(s)" in result.output


def test_cli_check_fails_naming_file_and_node(runner):
    result = runner.invoke(args=["ivr", "check", "--dir", str(BROKEN / "too_many_choices")])
    assert result.exit_code == 1
    assert (
        "main.zh-CN.yaml: node 'menu': menu has 5 choices besides 0; at most 4 are allowed"
        in result.output
    )


def test_an_empty_folder_is_an_error(runner, tmp_path):
    result = runner.invoke(args=["ivr", "check", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no IVR scripts" in result.output
