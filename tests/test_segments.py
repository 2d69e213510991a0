"""The segment counter: GSM-7 160/153 with two-septet extension characters, UCS-2 70/67."""

from __future__ import annotations

import pytest

from hotline.segments import fit_part, is_gsm7, segment_count, segment_info


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        # Extension characters take two septets: 80 euro signs fill one segment exactly.
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        # ...and are never split: 152 plain + one "[" does not fit the first 153-septet part.
        ("a" * 152 + "[" + "a" * 10, "GSM-7", 164, 2),
        ("a" * 152 + "[" + "a" * 152 + "b", "GSM-7", 307, 3),
        ("Ä ö ñ ü à £ ¥ è @ _ Δ", "GSM-7", 21, 1),
        ("中" * 70, "UCS-2", 70, 1),
        ("中" * 71, "UCS-2", 71, 2),
        ("中" * 134, "UCS-2", 134, 2),
        ("中" * 135, "UCS-2", 135, 3),
        # One Chinese character turns the whole text into UCS-2.
        ("a" * 69 + "中", "UCS-2", 70, 1),
        ("a" * 70 + "中", "UCS-2", 71, 2),
        # Characters outside the BMP take two UTF-16 units and are not split.
        ("😀" * 35, "UCS-2", 70, 1),
        ("中" * 66 + "😀" + "中", "UCS-2", 69, 1),
        ("中" * 66 + "😀" + "中" * 5, "UCS-2", 73, 2),
        ("a" * 66 + "😀" + "a" * 67, "UCS-2", 135, 3),
        # Full-width punctuation is not GSM.
        ("好，", "UCS-2", 2, 1),
        ("`", "UCS-2", 1, 1),
    ],
)
def test_segments_are_counted_like_carriers_do(text, encoding, units, segments):
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert segment_count(text) == segments


def test_gsm_alphabet_has_the_basic_and_extension_tables():
    assert is_gsm7("Hello, 1 2 3! {}[]~^|\\€")
    assert not is_gsm7("á")  # not in GSM 03.38 (only à, é, etc.)
    assert not is_gsm7("工单")


def test_fit_part_shortens_only_the_free_text_to_stay_in_one_segment():
    def build(note: str) -> str:
        return f"工单20261129-0042 11-29 14:05 备注：{note}。请回复1。"

    text = fit_part(build, "很长的备注" * 20)
    assert segment_count(text) == 1
    assert text.startswith("工单20261129-0042 11-29 14:05 备注：很长的备注")
    assert "…" in text and text.endswith("请回复1。")
    assert len(text) == 70, "the note keeps as much as fits"
    assert fit_part(build, "短") == build("短")
