"""Recorded calls: the consent notice in the greeting, the conference recorded on a line with
recording on, the signed recording webhook, playback through the app (403 for operators not on
the case, every playback audited) and deletion at Twilio by the retention job."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.cases import jobs, lifecycle
from hotline.cases.models import AuditEntry
from hotline.db import db
from hotline.lines.models import Line
from hotline.transfers.models import CallRecording
from tests import factories
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import (
    ACCOUNT_PATH,
    BASE_URL,
    entry_of,
    login,
    path_of,
    reach_queue,
    xml,
)
from tests.operator_queue.test_queue_connect import _take
from tests.transfers.media import FakeMedia, serve_media

RECORDING_SID = "RE" + "5" * 32
MEDIA_URL = f"https://api.twilio.com{ACCOUNT_PATH}/Recordings/{RECORDING_SID}"
WAV = b"RIFF$\x00\x00\x00WAVEfmt " + b"\x00" * 28


def _recording_on(app) -> None:
    with app.app_context():
        db.session.scalar(select(Line)).is_recording_enabled = True
        db.session.commit()


def _media(app, status: int = 200, **headers) -> FakeMedia:
    return serve_media(app, WAV, status, **headers)


def _recording_webhook(twilio, entry_id: int, **overrides):
    params = {
        "AccountSid": "AC" + "1" * 32,
        "ConferenceSid": "CF" + "c" * 32,
        "RecordingSid": RECORDING_SID,
        "RecordingUrl": MEDIA_URL,
        "RecordingStatus": "completed",
        "RecordingDuration": "184",
        "RecordingChannels": "2",
        "RecordingSource": "Conference",
        **overrides,
    }
    params = {k: v for k, v in params.items() if v is not None}
    return twilio.post(f"/twilio/transfers/recording-status?entry={entry_id}", params)


# --------------------------------------------------------------------------- consent + TwiML


def test_a_recording_line_says_so_in_the_greeting_and_others_do_not(app, twilio):
    sid = twilio.new_call_sid()
    plain = ET.tostring(xml(twilio.post("/twilio/voice", twilio.call_params(sid))), "unicode")
    assert "录音" not in plain
    _recording_on(app)
    sid = twilio.new_call_sid()
    told = ET.tostring(xml(twilio.post("/twilio/voice", twilio.call_params(sid))), "unicode")
    assert "与工作人员的通话会录音。" in told


def test_a_recording_line_records_the_conference_from_its_start(
    app, twilio, http_client, operator_client
):
    _recording_on(app)
    client, operator_id = operator_client
    queued = reach_queue(twilio, app, from_="+8613123456763")
    assert _take(client).status_code == 200
    ring, dequeue = http_client.requests
    entry = entry_of(app, queued.entry_id)
    assert ring.data["Url"] == [
        f"{BASE_URL}/twilio/queue/operator?entry={entry.id}&op={operator_id}&rec=1"
    ]
    join_url = dequeue.data["Url"][0]
    assert join_url.endswith("&rec=1")
    callback = f"{BASE_URL}/twilio/transfers/recording-status?entry={entry.id}"
    caller_leg = xml(twilio.post(path_of(join_url), queued.in_progress()))
    # Twilio fetches the operator leg's Url (with rec=1) when they pick up.
    operator_leg = xml(
        twilio.post(
            f"/twilio/queue/operator?entry={entry.id}&op={operator_id}&rec=1",
            twilio.call_params(
                entry.operator_call_sid,
                from_="+861012345678",
                to="+8613123456781",
                CallStatus="in-progress",
                Direction="outbound-api",
            ),
        )
    )
    for leg in (caller_leg, operator_leg):
        conference = leg.find("Dial/Conference")
        assert conference.get("record") == "record-from-start"
        assert conference.get("recordingStatusCallback") == callback
        assert conference.get("recordingStatusCallbackMethod") == "POST"
        assert conference.get("recordingStatusCallbackEvent") == "completed"


def test_a_line_without_recording_records_nothing(app, twilio, http_client, operator_client):
    client, _operator_id = operator_client
    queued = reach_queue(twilio, app, from_="+8613123456764")
    _take(client)
    _ring, dequeue = http_client.requests
    caller_leg = xml(twilio.post(path_of(dequeue.data["Url"][0]), queued.in_progress()))
    assert caller_leg.find("Dial/Conference").get("record") is None


# --------------------------------------------------------------------------- webhook


def test_the_recording_webhook_keeps_the_recording_once(app, twilio, operator_client):
    queued = reach_queue(twilio, app, from_="+8613123456765")
    assert _recording_webhook(twilio, queued.entry_id).status_code == 204
    assert _recording_webhook(twilio, queued.entry_id, RecordingDuration="185").status_code == 204
    with app.app_context():
        [recording] = db.session.scalars(select(CallRecording)).all()
        call = db.session.scalar(select(Call).where(Call.call_sid == queued.sid))
        assert recording.call_id == call.id and recording.queue_entry_id == queued.entry_id
        assert (recording.duration_seconds, recording.channels) == (184, 2)
        assert recording.media_url == MEDIA_URL


def test_a_malformed_recording_webhook_is_refused_and_writes_nothing(app, twilio):
    assert _recording_webhook(twilio, 1, RecordingSid="nope").status_code == 400
    assert _recording_webhook(twilio, 1, RecordingUrl=None).status_code == 400
    assert _recording_webhook(twilio, 1, RecordingStatus="absent").status_code == 204
    with app.app_context():
        assert db.session.scalar(select(CallRecording)) is None


def test_an_unsigned_recording_webhook_is_refused(app, client):
    response = client.post(
        "/twilio/transfers/recording-status?entry=1",
        data={"RecordingSid": RECORDING_SID, "RecordingUrl": MEDIA_URL},
    )
    assert response.status_code == 403


# --------------------------------------------------------------------------- playback


def _recorded_case(app, *, handled_by: int, channels: int | None = None) -> tuple[str, int, int]:
    """A call handled by `handled_by`, its case and its recording: (case number, call id,
    recording id)."""
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = factories.make_caller(session, phone_number="+8613123456766")
        call = factories.make_call(session, line_id=line.id, caller_id=caller.id)
        case = lifecycle.case_for_call(session, call, operator_id=handled_by)
        recording = CallRecording(
            recording_sid=RECORDING_SID,
            call_id=call.id,
            media_url=MEDIA_URL,
            duration_seconds=60,
            channels=channels,
        )
        session.add(recording)
        session.commit()
        return case.number, call.id, recording.id


def _played(app) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEntry).where(AuditEntry.action == "recording_played"))
        )


def test_an_operator_not_on_the_case_is_refused(app, operator_client, make_operator):
    _client, operator_id = operator_client
    _number, _call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    adapter = _media(app)
    make_operator("zhao", phone_number="+8613123456782")
    other = app.test_client()
    login(other, "zhao")
    response = other.get(f"/console/recordings/{recording_id}/audio")
    assert response.status_code == 403
    assert adapter.requests == [] and _played(app) == []


def test_the_operator_who_talked_on_the_call_plays_it_without_opening_its_case(
    app, operator_client, make_operator
):
    """Found by the shift journey in the dev gateway: the operator took the recorded call (and
    handed it over) without opening its case screen; they may still play their conversation.
    A colleague who took no part may not."""
    _client, operator_id = operator_client
    make_operator("zhao", phone_number="+8613123456782")
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = factories.make_caller(session, phone_number="+8613123456767")
        call = factories.make_call(session, line_id=line.id, caller_id=caller.id)
        factories.make_handled_entry(
            session, line_id=line.id, call_id=call.id, operator_id=operator_id
        )
        recording = CallRecording(
            recording_sid=RECORDING_SID, call_id=call.id, media_url=MEDIA_URL, duration_seconds=60
        )
        session.add(recording)
        session.commit()
        recording_id, call_id = recording.id, call.id
    adapter = _media(app)
    other = app.test_client()
    login(other, "zhao")
    assert other.get(f"/console/recordings/{recording_id}/audio").status_code == 403
    client, _ = operator_client
    response = client.get(f"/console/recordings/{recording_id}/audio")
    assert response.status_code == 200 and response.data == WAV
    [fetch] = adapter.requests
    assert fetch.url == MEDIA_URL + ".wav"
    [audit] = _played(app)
    assert (audit.operator_id, audit.entity_id) == (operator_id, call_id)


def test_the_operator_who_handed_the_call_over_still_plays_it(
    app, twilio, http_client, operator_client, make_operator
):
    """林 takes a recorded call, rings 赵 in and hands over (without opening its case): the
    recording's entry is 赵's now, and 林 keeps the right to play it; so does 赵."""
    from tests.operator_queue.test_queue_connect import _connected, _operator_answers

    _recording_on(app)
    zhao = make_operator("zhao", phone_number="+8613123456782")
    client, _lin, queued, _leg = _connected(app, twilio, http_client, operator_client)
    assert client.post(
        f"/console/api/queue/{queued.entry_id}/transfer", data={"to": zhao}
    ).get_json()["ok"]
    colleague_leg = entry_of(app, queued.entry_id).transfer_call_sid
    _operator_answers(twilio, queued.entry_id, zhao, colleague_leg)
    assert client.post(f"/console/api/queue/{queued.entry_id}/hand-over").get_json()["ok"]
    assert entry_of(app, queued.entry_id).operator_id == zhao
    assert _recording_webhook(twilio, queued.entry_id).status_code == 204
    with app.app_context():
        recording_id = db.session.scalar(select(CallRecording.id))
    _media(app)
    assert client.get(f"/console/recordings/{recording_id}/audio").status_code == 200
    colleague = app.test_client()
    login(colleague, "zhao")
    assert colleague.get(f"/console/recordings/{recording_id}/audio").status_code == 200
    make_operator("chen", phone_number="+8613123456783")
    bystander = app.test_client()
    login(bystander, "chen")
    assert bystander.get(f"/console/recordings/{recording_id}/audio").status_code == 403
    assert len(_played(app)) == 2


def test_the_operator_on_the_case_plays_it_through_the_app(app, operator_client):
    client, operator_id = operator_client
    number, call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    adapter = _media(app)
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert f"/console/recordings/{recording_id}/audio" in page
    assert "api.twilio.com" not in page, "no provider URL in a page"
    response = client.get(f"/console/recordings/{recording_id}/audio")
    assert response.status_code == 200 and response.data == WAV
    assert response.mimetype == "audio/x-wav"
    [fetch] = adapter.requests
    assert (fetch.method, fetch.url) == ("GET", MEDIA_URL + ".wav")
    # The account credentials (HTTP basic auth), never put in a page.
    assert fetch.headers["Authorization"].startswith("Basic ")
    [audit] = _played(app)
    assert audit.operator_id == operator_id and audit.entity_id == call_id
    assert audit.after == {"what": "conversation", "recording_sid": RECORDING_SID}


def test_a_supervisor_plays_any_recording_and_a_voicemail(app, operator_client, make_operator):
    from hotline.operators.models import Role

    _client, operator_id = operator_client
    _number, call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    with app.app_context():
        db.session.get(Call, call_id).recording_url = MEDIA_URL.replace("5555", "6666")
        db.session.commit()
    _media(app)
    make_operator("chen", role=Role.SUPERVISOR, phone_number="+8613123456783")
    boss = app.test_client()
    login(boss, "chen")
    assert boss.get(f"/console/recordings/{recording_id}/audio").status_code == 200
    assert boss.get(f"/console/calls/{call_id}/voicemail-audio").status_code == 200
    assert [a.after["what"] for a in _played(app)] == ["conversation", "voicemail"]


def test_the_case_screens_audit_trail_lists_who_played_its_recordings_and_when(
    app, operator_client, make_operator
):
    from hotline.operators.models import Role

    client, operator_id = operator_client
    number, call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    with app.app_context():
        db.session.get(Call, call_id).recording_url = MEDIA_URL.replace("5555", "6666")
        db.session.commit()
    _media(app)
    make_operator(
        "chen", role=Role.SUPERVISOR, phone_number="+8613123456783", display_name="陈组长"
    )
    boss = app.test_client()
    with time_machine.travel(datetime(2026, 3, 2, 3, 4, 5, tzinfo=UTC), tick=False):
        login(boss, "chen")
        assert boss.get(f"/console/recordings/{recording_id}/audio").data == WAV
        assert boss.get(f"/console/calls/{call_id}/voicemail-audio").data == WAV
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    trail = page[page.index('id="trail"') :]
    rows = re.findall(r'<tr data-action="recording_played">(.*?)</tr>', trail, re.S)
    assert len(rows) == 2
    for row, what in zip(rows, ("voicemail", "conversation"), strict=True):  # newest first
        assert "陈组长" in row and "播放录音" in row and f"what: {what}" in row
        assert "2026-03-02 11:04" in row  # Shanghai time
    assert "api.twilio.com" not in page


def test_a_recording_twilio_cannot_give_is_a_502_and_not_audited(app, operator_client):
    client, operator_id = operator_client
    _number, _call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    _media(app, status=404)
    assert client.get(f"/console/recordings/{recording_id}/audio").status_code == 502
    assert _played(app) == []


# --------------------------------------------------------------------------- retention


def test_retention_deletes_a_callers_recordings_at_twilio_and_here(app, http_client):
    long_ago = datetime(2023, 3, 1, 2, 0, tzinfo=UTC)
    with app.app_context():
        session = db.session
        line = factories.main_line(session)
        caller = Caller(
            phone_number="+8613800138000", created_at=long_ago, last_contact_at=long_ago
        )
        session.add(caller)
        session.flush()
        call = factories.make_call(
            session, line_id=line.id, caller_id=caller.id, created_at=long_ago
        )
        session.add(
            CallRecording(
                recording_sid=RECORDING_SID,
                call_id=call.id,
                media_url=MEDIA_URL,
                created_at=long_ago,
            )
        )
        session.commit()
    app.config["CALLER_RETENTION_DAYS"] = 730
    with time_machine.travel(long_ago + timedelta(days=1000), tick=False), app.app_context():
        jobs.run_retention(app)
    deletes = http_client.find("DELETE", "/Recordings/")
    assert [(r.method, r.url) for r in deletes] == [
        ("DELETE", f"https://api.twilio.com{ACCOUNT_PATH}/Recordings/{RECORDING_SID}.json")
    ]
    with app.app_context():
        assert db.session.scalar(select(CallRecording)) is None
        [deleted] = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "recording_deleted")
        ).all()
        assert deleted.after == {"recording_sid": RECORDING_SID}


def test_a_callback_on_a_recording_line_tells_the_callee_before_the_queue():
    from pathlib import Path

    from hotline.callbacks.render import answer_twiml
    from hotline.callbacks.service import AnswerResult
    from hotline.ivr.check import check_directory

    scripts, errors = check_directory(Path(__file__).resolve().parents[2] / "ivr_scripts")
    assert not errors
    line = Line(key="main", name="长者服务热线", phone_number="+861012345678", script_key="main")
    for recorded, expected in ((False, 0), (True, 1)):
        line.is_recording_enabled = recorded
        result = AnswerResult(kind="person", line=line, language="yue-HK", rate_percent=None)
        document = answer_twiml(result, scripts, urls=factories.voice_urls()).to_xml()
        assert document.count("同职员嘅通话会录音。") == expected
        assert document.index("<Enqueue") > 0


def test_a_callers_data_export_lists_their_recordings_without_the_provider_address(
    app, operator_client
):
    from hotline.cases import privacy

    _client, operator_id = operator_client
    _number, call_id, _recording_id = _recorded_case(app, handled_by=operator_id)
    with app.app_context():
        caller_id = db.session.get(Call, call_id).caller_id
        data = privacy.export_caller_data(db.session, caller_id, operator_id=operator_id)
    [recording] = data["call_recordings"]
    assert recording["recording_sid"] == RECORDING_SID and recording["call_id"] == call_id
    assert "media_url" not in recording
    assert data["transfers"] == []


def test_seeking_asks_twilio_for_the_range_and_is_not_a_new_playback(app, operator_client):
    client, operator_id = operator_client
    _number, _call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    adapter = _media(app)
    assert client.get(f"/console/recordings/{recording_id}/audio").status_code == 200
    seek = client.get(f"/console/recordings/{recording_id}/audio", headers={"Range": "bytes=8-"})
    assert seek.status_code == 206 and seek.data == WAV[8:]
    assert seek.headers["Content-Range"] == f"bytes 8-{len(WAV) - 1}/{len(WAV)}"
    assert adapter.requests[1].headers["Range"] == "bytes=8-"
    assert len(_played(app)) == 1


def test_a_dual_channel_recording_is_fetched_with_both_channels_field_by_field(
    app, operator_client
):
    """What the proxy asks Twilio's media host and what it passes back, field by field: a
    dual-channel recording (RecordingChannels 2) is asked for with RequestedChannels=2; the
    status, Content-Type, Content-Length, Content-Range and Accept-Ranges are Twilio's."""
    client, operator_id = operator_client
    _number, _call_id, recording_id = _recorded_case(app, handled_by=operator_id, channels=2)
    adapter = _media(app)
    whole = client.get(f"/console/recordings/{recording_id}/audio")
    [fetch] = adapter.requests
    assert fetch.method == "GET"
    assert fetch.url == MEDIA_URL + ".wav?RequestedChannels=2"
    assert fetch.headers["Authorization"].startswith("Basic ")
    assert "Range" not in fetch.headers
    assert whole.status_code == 200 and whole.data == WAV
    assert whole.headers["Content-Type"] == "audio/x-wav"
    assert whole.headers["Content-Length"] == str(len(WAV))
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert "no-store" in whole.headers["Cache-Control"]
    assert "Content-Range" not in whole.headers

    part = client.get(f"/console/recordings/{recording_id}/audio", headers={"Range": "bytes=4-11"})
    ranged = adapter.requests[1]
    assert ranged.url == MEDIA_URL + ".wav?RequestedChannels=2"
    assert ranged.headers["Range"] == "bytes=4-11"
    assert part.status_code == 206 and part.data == WAV[4:12]
    assert part.headers["Content-Range"] == f"bytes 4-11/{len(WAV)}"
    assert part.headers["Content-Length"] == "8"
    assert part.headers["Content-Type"] == "audio/x-wav"
    assert part.headers["Accept-Ranges"] == "bytes"
    # A Range the proxy does not understand is not passed on (the whole file).
    client.get(f"/console/recordings/{recording_id}/audio", headers={"Range": "items=1-2"})
    assert "Range" not in adapter.requests[2].headers
    assert len(_played(app)) == 2  # the whole file and the odd range; the seek is not a playback


def test_a_range_request_without_a_playback_before_it_is_audited(app, operator_client):
    """Asking for the audio from byte 1 on, with no playback started: audited all the same (the
    audio never leaves without an audit row); a second seek right after is the same playback."""
    client, operator_id = operator_client
    _number, call_id, recording_id = _recorded_case(app, handled_by=operator_id)
    _media(app)
    for start in (1, 8):
        seek = client.get(
            f"/console/recordings/{recording_id}/audio", headers={"Range": f"bytes={start}-"}
        )
        assert seek.status_code == 206 and seek.data == WAV[start:]
    [audit] = _played(app)
    assert (audit.operator_id, audit.entity_id) == (operator_id, call_id)


def test_a_mono_recording_is_fetched_as_is_and_its_headers_passed_through(app, operator_client):
    """A mono recording is fetched without RequestedChannels (Twilio refuses to make two
    channels of one); another content type is passed through, and no Accept-Ranges is sent
    when Twilio sends none."""
    client, operator_id = operator_client
    _number, _call_id, recording_id = _recorded_case(app, handled_by=operator_id, channels=1)
    adapter = _media(app, content_type="audio/mpeg", accept_ranges=None)
    response = client.get(f"/console/recordings/{recording_id}/audio")
    [fetch] = adapter.requests
    assert fetch.url == MEDIA_URL + ".wav"
    assert response.status_code == 200 and response.data == WAV
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert "Accept-Ranges" not in response.headers


def test_an_agency_joining_a_recorded_call_hears_the_notice(
    app, twilio, http_client, operator_client
):
    from tests.operator_queue.test_queue_connect import _connected
    from tests.transfers.test_external_transfers import (
        AGENCY_LEG,
        PARTICIPANTS,
        _answering_agency,
        _leg_status,
        _transfer,
    )

    _recording_on(app)
    client, _operator_id, queued, _leg = _connected(app, twilio, http_client, operator_client)
    _answering_agency(http_client)
    client.post(f"/console/api/transfers/{queued.entry_id}/start", data={"choice": "emergency:120"})
    transfer = _transfer(app)
    http_client.requests.clear()
    _leg_status(twilio, transfer.id, "in-progress")
    [announce] = http_client.requests
    notice = f"{BASE_URL}/twilio/transfers/recording-notice?entry={queued.entry_id}"
    assert (announce.method, announce.url, announce.data) == (
        "POST",
        f"{PARTICIPANTS}/{AGENCY_LEG}.json",
        {"AnnounceUrl": [notice], "AnnounceMethod": ["POST"]},
    )
    said = xml(twilio.post(path_of(notice), {"AccountSid": "AC" + "1" * 32}))
    assert "".join(said.itertext()).strip() == "与工作人员的通话会录音。"
    assert 'rate="100%"' in ET.tostring(said, "unicode")
    # Answering again (a repeated callback) does not announce twice.
    http_client.requests.clear()
    _leg_status(twilio, transfer.id, "in-progress")
    assert http_client.requests == []
