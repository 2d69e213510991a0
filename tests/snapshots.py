"""Snapshot assertions for caller-facing text: a wording change shows up in review.

Run with UPDATE_SNAPSHOTS=1 to (re)write the files after reading the diff.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path


def assert_snapshot(path: Path, actual: str) -> None:
    """Compare `actual` with the stored snapshot at `path`."""
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 and review it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "\n".join(
            difflib.unified_diff(
                expected.splitlines(), actual.splitlines(), "snapshot", "now", lineterm=""
            )
        )
        raise AssertionError(f"{path.name} changed (UPDATE_SNAPSHOTS=1 to accept):\n{diff}")
