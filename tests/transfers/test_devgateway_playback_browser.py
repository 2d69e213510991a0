"""In real headless Chromium, through the local Twilio emulator (hotline.devgateway): a call on
a line that records is taken and ends, the emulator's dual-channel recording reaches the app,
and a supervisor plays it on the case screen; the audio comes from the emulator through the
app's proxy (never its address in the page), and the playback is in the case's audit trail."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Role
from hotline.queue.models import QueueStatus
from hotline.transfers.models import CallRecording
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import PASSWORD, entry_of, login
from tests.operator_queue.test_queue_devgateway_journey import ELDER, LINE, OPERATOR_PHONE

pytestmark = pytest.mark.browser


def test_a_supervisor_plays_a_dev_gateway_recording_and_sees_it_in_the_audit_trail(
    dev_twilio, app, emulator, live_server, page, make_operator
):
    with app.app_context():
        db.session.scalar(select(Line)).is_recording_enabled = True
        db.session.commit()
    make_operator("lin", phone_number=OPERATOR_PHONE)
    boss_id = make_operator(
        "chen", role=Role.SUPERVISOR, phone_number="+8613123456783", display_name="陈组长"
    )
    lin = app.test_client()
    login(lin, "lin")

    # 王阿姨 rings the recording line and presses 0; 林 takes her and opens her case from the
    # call panel; they talk for 40 s and she hangs up.
    sid = emulator("POST", f"/phones/{ELDER}/calls", to=LINE)["call"]["sid"]
    emulator.advance(20)
    emulator("POST", f"/calls/{sid}/digits", digits="0")
    emulator.advance(15)
    taken = lin.post("/console/api/queue/take-next", data={"via": "phone"})
    assert taken.status_code == 200, taken.get_json()
    entry_id = taken.get_json()["entry_id"]
    emulator.advance(5)  # the operator's phone answers by itself
    assert entry_of(app, entry_id).status == QueueStatus.CONNECTED
    opened = lin.post(f"/console/cases/for-call/{sid}")
    assert opened.status_code == 303, opened.get_data(as_text=True)
    number = opened.headers["Location"].rsplit("/", 1)[-1]
    emulator.advance(40)
    emulator("POST", f"/calls/{sid}/hangup")
    emulator.advance(5)
    with app.app_context():
        recording = db.session.scalar(select(CallRecording))
        assert recording is not None, "the emulator's recording reached the app"
        assert recording.channels == 2 and recording.duration_seconds >= 40
        recording_id, duration = recording.id, recording.duration_seconds
        media_url = recording.media_url
    media = requests.Session()
    media.trust_env = False
    app.config["RECORDING_MEDIA_SESSION"] = media

    # The supervisor, in Chromium, opens the case and plays the recording.
    page.goto(live_server.url + f"/console/cases/{number}")
    page.fill("#username", "chen")
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    audio = page.locator(f'audio[data-recording="{recording_id}"]')
    audio.wait_for(timeout=5000)
    content = page.content()
    assert media_url not in content and "/Recordings/" not in content
    assert audio.get_attribute("src") == f"/console/recordings/{recording_id}/audio"
    page.evaluate(
        f"document.querySelector('audio[data-recording=\"{recording_id}\"]').play()"
        ".catch(() => {})"
    )
    page.wait_for_function(
        f"() => {{ const a = document.querySelector('audio[data-recording=\"{recording_id}\"]');"
        " return a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 0; }",
        timeout=10000,
    )
    # The whole call: the recording is as long as the conference (the dev gateway's WAV).
    shown = page.evaluate(
        f"document.querySelector('audio[data-recording=\"{recording_id}\"]').duration"
    )
    assert abs(shown - duration) < 1, (shown, duration)

    with app.app_context():
        played = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording_played")
        ).all()
        assert [(p.operator_id, p.after["what"]) for p in played] == [(boss_id, "conversation")]

    # The case screen's audit trail lists the playback: who, and what.
    page.reload()
    page.locator("#trail summary").click()
    row = page.locator('#trail tr[data-action="recording_played"]')
    assert row.count() == 1
    text = row.inner_text()
    assert "陈组长" in text and "播放录音" in text and "conversation" in text
