"""The disk spool of webhooks that could not reach the database, and `flask spool replay`.

The spool is FALLBACK_SPOOL_DIR/webhooks.jsonl, one JSON object a line, appended by the webhook
guard (hotline.telephony.webhooks.spool) through `open_spool`. A replay claims the file by
renaming it (webhooks that fail meanwhile start a fresh file), re-delivers each entry once, and
appends the entries that still fail back to the spool exactly once, each with its latest error
and its number of attempts. Replaying is idempotent: identical entries (Twilio's retries, a
replay killed half-way) are one entry, and an entry already applied is answered from the
guard's stored response (its idempotency key) instead of being applied twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from flask import Flask
from twilio.request_validator import RequestValidator

from hotline.timeutil import utcnow

SPOOL_NAME = "webhooks.jsonl"
#: Entries claimed by a replay in progress; left behind only by a replay that was killed, and
#: then taken up by the next one.
REPLAYING_NAME = "webhooks.replaying"
#: WSGI environ key (HTTP cannot set it) that the replay puts on the requests it re-delivers: a
#: list that receives the failure instead of a second copy of the entry in the spool.
SPOOL_REPLAY_ERRORS = "hotline.spool_replay_errors"

_thread_lock = threading.Lock()


@contextmanager
def _locked(path: Path, mode: str) -> Iterator[TextIO]:
    """`path` opened and exclusively locked, for threads and for other processes.

    A replay renames the spool under this lock; a writer that opened the file before the rename
    finds that it is no longer at `path` and opens the new one, so no line lands in a file the
    replay has already read.
    """
    with _thread_lock:
        for _attempt in range(5):  # a rename between open and lock is rare; twice is rarer
            # Not a `with`: the file must stay open (and locked) for the caller's block.
            fh = open(path, mode, encoding="utf-8")  # noqa: SIM115
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if os.stat(path).st_ino == os.fstat(fh.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            fh.close()
        else:
            raise OSError(f"{path} keeps being replaced")
        try:
            yield fh
        finally:
            fh.close()  # also releases the lock


@contextmanager
def open_spool(directory: Path) -> Iterator[TextIO]:
    """The spool file, opened for appending; what was written is on disk when the block ends."""
    with _locked(directory / SPOOL_NAME, "a") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


@contextmanager
def _one_replay_at_a_time(directory: Path) -> Iterator[None]:
    """A second replay (another process) waits for the first instead of sharing its entries."""
    with open(directory / "replay.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write(path: Path, records: list[dict]) -> None:
    """Replace `path` with `records` atomically: a crash leaves the old file or the new one."""
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def _claim(directory: Path) -> list[dict]:
    """Move the spool's entries (and any a killed replay left) to REPLAYING_NAME; unique."""
    processing = directory / REPLAYING_NAME
    spool_file = directory / SPOOL_NAME
    records = _load(processing)
    if spool_file.exists():
        with _locked(spool_file, "r") as fh:
            records += [json.loads(line) for line in fh.read().splitlines() if line]
            _write(processing, records)
            spool_file.unlink()
    unique: dict[str, dict] = {}
    for record in records:
        identity = json.dumps([record["path"], record["params"]], sort_keys=True)
        unique.setdefault(identity, record)
    return list(unique.values())


def replay(app: Flask) -> tuple[int, int]:
    """Re-deliver each spooled webhook through the app's own signed endpoint.

    The spooled requests were verified when they arrived; replaying them through the same view
    (re-signed with our token) keeps one code path for every write. An entry that fails again
    is kept once, with its error. Returns (replayed, still failing).
    """
    directory = Path(app.config["FALLBACK_SPOOL_DIR"])
    if not (directory / SPOOL_NAME).exists() and not (directory / REPLAYING_NAME).exists():
        return 0, 0
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
    base = app.config.get("PUBLIC_BASE_URL") or "http://localhost"
    client = app.test_client()
    done = 0
    keep: list[dict] = []
    with _one_replay_at_a_time(directory):
        for record in _claim(directory):
            url = base + record["path"]
            params = record["params"]
            errors: list[str] = []
            response = client.post(
                url,
                data=params,
                headers={"X-Twilio-Signature": validator.compute_signature(url, params)},
                base_url=base,
                environ_overrides={SPOOL_REPLAY_ERRORS: errors},
            )
            if response.status_code < 400 and not errors:
                done += 1
                continue
            if not errors:  # refused (400, 403): kept for a person to look at, with the answer
                body = response.get_data(as_text=True).strip()[:200]
                errors.append(f"HTTP {response.status_code}: {body}")
            record["error"] = errors[-1]
            record["attempts"] = record.get("attempts", 1) + 1
            record["last_attempt_at"] = utcnow().isoformat()
            keep.append(record)
        if keep:
            with open_spool(directory) as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in keep)
        (directory / REPLAYING_NAME).unlink(missing_ok=True)
    return done, len(keep)
