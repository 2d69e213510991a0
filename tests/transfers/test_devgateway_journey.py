"""End to end through the local Twilio emulator (hotline.devgateway) over real HTTP, the real
twilio SDK on one side and signed webhooks on the other: on a line that records, the caller
hears the notice, an operator takes them, brings a community office in (warm: the caller on
hold while they talk), hands over and leaves; the office hangs up, the conference's recording
arrives, and a supervisor plays it through the app."""

from __future__ import annotations

import io
import wave

import requests
from sqlalchemy import select

from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Presence, Role
from hotline.queue.models import QueueStatus
from hotline.transfers.models import CallRecording, ExternalTransfer, TransferStatus
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import entry_of, login, operator_of
from tests.operator_queue.test_queue_devgateway_journey import ELDER, LINE, OPERATOR_PHONE

OFFICE = "+861055551234"


def _transfer(app) -> ExternalTransfer:
    with app.app_context():
        transfer = db.session.scalar(select(ExternalTransfer))
        db.session.expunge(transfer)
        return transfer


def test_a_recorded_call_with_a_warm_external_transfer_reviewed_by_a_supervisor(
    dev_twilio, app, emulator, make_operator
):
    with app.app_context():
        db.session.scalar(select(Line)).is_recording_enabled = True
        db.session.commit()
    operator_id = make_operator("lin", phone_number=OPERATOR_PHONE)
    make_operator("chen", role=Role.SUPERVISOR, phone_number="+8613123456783")
    client = app.test_client()
    login(client, "lin")

    sid = emulator("POST", f"/phones/{ELDER}/calls", to=LINE)["call"]["sid"]
    emulator.advance(20)
    heard = " ".join(e["text"] for e in emulator("GET", f"/calls/{sid}")["transcript"])
    assert "与工作人员的通话会录音" in heard, heard[:400]
    emulator("POST", f"/calls/{sid}/digits", digits="0")
    emulator.advance(15)
    taken = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert taken.status_code == 200, taken.get_json()
    entry_id = taken.get_json()["entry_id"]
    emulator.advance(5)  # the operator's phone answers by itself
    assert entry_of(app, entry_id).status == QueueStatus.CONNECTED

    started = client.post(
        f"/console/api/transfers/{entry_id}/start", data={"number": OFFICE, "mode": "warm"}
    )
    assert started.status_code == 200, started.get_json()
    emulator.advance(2)
    transfer = _transfer(app)
    office_leg = transfer.participant_call_sid
    assert emulator("GET", f"/calls/{office_leg}")["status"] == "ringing"
    emulator("POST", f"/calls/{office_leg}/answer")
    emulator.advance(2)
    assert _transfer(app).status == TransferStatus.CONSULTING
    office = emulator("GET", f"/calls/{office_leg}")
    assert any("与工作人员的通话会录音" in e["text"] for e in office["transcript"]), (
        "the office is told the conversation is recorded"
    )
    caller = emulator("GET", f"/calls/{sid}")
    assert caller["activity"] == "on-hold", caller["activity"]

    handed = client.post(f"/console/api/transfers/{entry_id}/hand-over")
    assert handed.get_json()["ok"], handed.get_json()
    emulator.advance(3)
    caller = emulator("GET", f"/calls/{sid}")
    numbers = {p["number"] for p in caller["conference"]["participants"]}
    assert numbers == {ELDER, OFFICE}, numbers
    assert caller["activity"] == "conference"
    assert entry_of(app, entry_id).status == QueueStatus.COMPLETED
    assert operator_of(app, operator_id).presence == Presence.WRAP_UP

    emulator.advance(60)  # caller and office talk for a minute
    emulator("POST", f"/calls/{office_leg}/hangup")
    emulator.advance(10)
    done = _transfer(app)
    assert done.status == TransferStatus.ENDED and done.duration_seconds, done
    caller = emulator("GET", f"/calls/{sid}")
    assert caller["status"] == "completed", caller["activity"]

    with app.app_context():
        recording = db.session.scalar(select(CallRecording))
        assert recording is not None, "the conference recording reached the app"
        assert recording.channels == 2 and recording.duration_seconds >= 60
        recording_id, duration = recording.id, recording.duration_seconds
    media = requests.Session()
    media.trust_env = False
    app.config["RECORDING_MEDIA_SESSION"] = media
    boss = app.test_client()
    login(boss, "chen")
    played = boss.get(f"/console/recordings/{recording_id}/audio")
    assert played.status_code == 200 and played.data[:4] == b"RIFF"
    # Two channels (the caller, and everyone else), as long as the recorded conference.
    with wave.open(io.BytesIO(played.data)) as audio:
        assert audio.getnchannels() == 2
        assert audio.getnframes() == audio.getframerate() * min(duration, 600)
    assert played.headers["Accept-Ranges"] == "bytes"
    assert played.headers["Content-Length"] == str(len(played.data))
    # Seeking: the dev gateway answers the range, the app passes it on.
    seek = boss.get(f"/console/recordings/{recording_id}/audio", headers={"Range": "bytes=44-99"})
    assert seek.status_code == 206 and seek.data == played.data[44:100]
    assert seek.headers["Content-Range"] == f"bytes 44-99/{len(played.data)}"
    problems = emulator("GET", "/problems")
    errors = [
        p
        for p in problems.get("problems", problems)
        if isinstance(p, dict) and p.get("level") == "error"
    ]
    assert errors == [], errors
