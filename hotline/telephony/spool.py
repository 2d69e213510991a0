"""Replaying webhooks that were spooled to disk while the database was unavailable."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from twilio.request_validator import RequestValidator


def replay(app: Flask) -> tuple[int, int]:
    """Re-deliver each spooled webhook through the app's own signed endpoint.

    The spooled requests were verified when they arrived; replaying them through the same view
    (re-signed with our token) keeps one code path for every write. Lines that still fail stay
    in the spool. Returns (replayed, still failing).
    """
    spool_file = Path(app.config["FALLBACK_SPOOL_DIR"]) / "webhooks.jsonl"
    if not spool_file.exists():
        return 0, 0
    processing = spool_file.with_suffix(".replaying")
    spool_file.rename(processing)
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
    base = app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    client = app.test_client()
    done = failed = 0
    keep: list[str] = []
    for line in processing.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        url = base + record["path"]
        params = record["params"]
        signature = validator.compute_signature(url, params)
        response = client.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, base_url=base
        )
        spooled_again = spool_file.exists() and spool_file.stat().st_size > 0
        if response.status_code < 400 and not spooled_again:
            done += 1
        else:
            failed += 1
            keep.append(line)
    processing.unlink()
    if keep:
        with open(spool_file, "a", encoding="utf-8") as fh:
            fh.write("\n".join(keep) + "\n")
    return done, failed
