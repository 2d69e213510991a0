"""`flask spool replay` is idempotent: a failing entry is kept once, with its error, and
nothing is applied twice; a status callback for a call we never stored is recorded."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from conftest import TwilioCaller
from hotline.callbacks.models import CallbackRequest
from hotline.calls.models import Call, CallStatus
from hotline.db import db

VOICEMAIL_SID = "CA" + "7" * 32
HUNG_UP_SID = "CA" + "8" * 32


def _spool_entries(app_config) -> list[dict]:
    spool = Path(app_config["FALLBACK_SPOOL_DIR"]) / "webhooks.jsonl"
    if not spool.exists():
        return []
    return [json.loads(line) for line in spool.read_text().splitlines() if line.strip()]


def _replay(application) -> dict:
    result = application.test_cli_runner().invoke(args=["spool", "replay"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _outage(make_app, tmp_path):
    """The app with its database unreachable, and a signed Twilio client for it."""
    broken = make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")
    return broken, TwilioCaller(broken.test_client())


def test_replay_three_times_while_the_database_is_down_keeps_one_entry_with_its_error(
    app, make_app, tmp_path, app_config
):
    broken, twilio = _outage(make_app, tmp_path)
    params = {
        **twilio.call_params(VOICEMAIL_SID, from_="+8613800000001"),
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE7",
        "RecordingDuration": "12",
    }
    # Twilio retried the same webhook: two identical lines, one voicemail.
    for _ in range(2):
        twilio.post("/twilio/voice/fallback/recorded?lang=zh-CN", params)
    assert len(_spool_entries(app_config)) == 2

    for attempt in range(3):
        assert _replay(broken) == {"replayed": 0, "still_failing": 1}
        entries = _spool_entries(app_config)
        assert len(entries) == 1, f"run {attempt + 1} left {len(entries)} entries"
        assert entries[0]["params"]["CallSid"] == VOICEMAIL_SID
        assert "OperationalError" in entries[0]["error"]
        assert entries[0]["attempts"] == attempt + 2

    assert _replay(app) == {"replayed": 1, "still_failing": 0}
    for _ in range(3):
        assert _replay(app) == {"replayed": 0, "still_failing": 0}
    assert _spool_entries(app_config) == []
    with app.app_context():
        callbacks = db.session.scalars(select(CallbackRequest)).all()
        assert [c.phone_number for c in callbacks] == ["+8613800000001"]


def test_status_callback_for_a_call_never_stored_is_replayed_and_recorded(
    app, make_app, tmp_path, app_config
):
    broken, twilio = _outage(make_app, tmp_path)
    # The caller hung up on the fallback during the outage: no row for the call exists.
    params = {
        **twilio.call_params(HUNG_UP_SID, from_="+8613800000002"),
        "CallStatus": "completed",
        "CallDuration": "31",
        "SequenceNumber": "3",
    }
    response = twilio.post("/twilio/voice/status", params)
    assert response.status_code < 400
    assert len(_spool_entries(app_config)) == 1

    for _ in range(3):
        _replay(app)
    assert _spool_entries(app_config) == [], _spool_entries(app_config)
    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_sid == HUNG_UP_SID))
        assert call is not None
        assert call.status == CallStatus.COMPLETED
        assert call.duration_seconds == 31
        assert db.session.scalar(select(func.count()).select_from(Call)) == 1


def test_entries_left_by_a_killed_replay_are_replayed_once_with_the_new_ones(
    app, make_app, tmp_path, app_config
):
    _broken, twilio = _outage(make_app, tmp_path)
    params = {**twilio.call_params(HUNG_UP_SID), "CallStatus": "completed"}
    twilio.post("/twilio/voice/status", params)
    directory = Path(app_config["FALLBACK_SPOOL_DIR"])
    # A replay killed after claiming the spool but before finishing left its copy behind;
    # then the same webhook (Twilio's retry) and another one were spooled again.
    (directory / "webhooks.jsonl").rename(directory / "webhooks.replaying")
    twilio.post("/twilio/voice/status", params)
    twilio.post("/twilio/voice/status", {**params, "CallSid": VOICEMAIL_SID})

    assert _replay(app) == {"replayed": 2, "still_failing": 0}
    assert sorted(p.name for p in directory.iterdir()) == ["replay.lock"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 2


def test_a_writer_that_opened_the_spool_before_a_replay_took_it_writes_to_the_new_file(
    tmp_path, monkeypatch
):
    from hotline.telephony import spool as spool_module

    path = tmp_path / "webhooks.jsonl"
    path.write_text("")
    taken = tmp_path / "taken-by-replay"
    real_flock = spool_module.fcntl.flock
    calls = []

    def flock_after_a_replay_renamed_the_file(fh, operation):
        # The replay renames the file between this writer's open() and its lock.
        if not calls:
            path.rename(taken)
        calls.append(operation)
        return real_flock(fh, operation)

    monkeypatch.setattr(spool_module.fcntl, "flock", flock_after_a_replay_renamed_the_file)
    with spool_module.open_spool(tmp_path) as fh:
        fh.write("line\n")
    assert path.read_text() == "line\n"
    assert taken.read_text() == "", "a line written to the taken file would be lost"


def test_a_request_that_cannot_be_spooled_is_logged_without_what_the_person_wrote(
    make_app, tmp_path, caplog
):
    """Database and disk both down: the log keeps the request's ids, not its free text."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    broken = make_app(
        DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3",
        FALLBACK_SPOOL_DIR=str(blocker / "spool"),
    )
    twilio = TwilioCaller(broken.test_client())
    params = {
        **twilio.call_params(VOICEMAIL_SID),
        "SpeechResult": "我女儿的地址是幸福路十八号",
    }
    with caplog.at_level("ERROR", logger="hotline.telephony.webhooks"):
        response = twilio.post("/twilio/voice/input?node=main&lang=zh-CN&turn=1", params)
    assert response.status_code == 200, "the caller still hears the fallback"
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "could not spool" in logged and VOICEMAIL_SID in logged
    assert "幸福路" not in logged and "<13 characters>" in logged
