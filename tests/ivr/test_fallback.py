"""When the database fails, callers still reach a voicemail and a callback, never an error."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import select

from conftest import TwilioCaller
from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.db import db


def _broken_db_app(make_app, tmp_path):
    """The same app, but its database is unreachable (a path that cannot exist)."""
    return make_app(DATABASE_URL=f"sqlite:///{tmp_path}/missing/dir/db.sqlite3")


def test_fallback_url_answers_with_voicemail_without_touching_the_database(make_app, tmp_path):
    app = _broken_db_app(make_app, tmp_path)
    twilio = TwilioCaller(app.test_client())
    response = twilio.post("/twilio/voice/fallback", twilio.call_params("CA" + "f" * 32))
    assert response.status_code == 200
    root = ET.fromstring(response.get_data())
    assert root.find("Record") is not None
    assert "非常抱歉" in "".join(root.itertext())


def test_database_failure_during_a_call_plays_the_fallback_and_spools(
    app_config, make_app, tmp_path
):
    app = _broken_db_app(make_app, tmp_path)
    twilio = TwilioCaller(app.test_client())
    params = twilio.call_params("CA" + "e" * 32, from_="+8613123456708")
    response = twilio.post("/twilio/voice", params)
    assert response.status_code == 200, "never a 500: the caller would hear 'application error'"
    assert ET.fromstring(response.get_data()).find("Record") is not None
    spool = Path(app_config["FALLBACK_SPOOL_DIR"]) / "webhooks.jsonl"
    records = [json.loads(line) for line in spool.read_text().splitlines()]
    assert records[-1]["params"]["CallSid"] == "CA" + "e" * 32


def test_voicemail_left_during_an_outage_becomes_a_callback_after_replay(
    app, make_app, tmp_path, runner
):
    broken = _broken_db_app(make_app, tmp_path)
    twilio = TwilioCaller(broken.test_client())
    params = {
        **twilio.call_params("CA" + "d" * 32, from_="+8613123456709"),
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "RecordingDuration": "17",
    }
    response = twilio.post("/twilio/voice/fallback/recorded?lang=zh-CN", params)
    assert response.status_code == 200
    assert ET.fromstring(response.get_data()).find("Hangup") is not None
    with app.app_context():
        assert db.session.scalar(select(CallbackRequest)) is None

    result = runner.invoke(args=["spool", "replay"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"replayed": 1, "still_failing": 0}
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        assert callback.phone_number == "+8613123456709"
        assert callback.reason == CallbackReason.VOICEMAIL
    again = runner.invoke(args=["spool", "replay"])
    assert json.loads(again.output) == {"replayed": 0, "still_failing": 0}


def test_a_fallback_message_on_a_callback_call_owes_the_person_called_not_the_line(app, twilio):
    """On a call we placed, From is the line and To the person: the callback is the person's."""
    params = {
        **twilio.call_params(
            "CA" + "c" * 32, from_="+861012345678", to="+8613123456707", Direction="outbound-api"
        ),
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE2",
        "RecordingDuration": "9",
    }
    response = twilio.post("/twilio/voice/fallback/recorded?lang=zh-CN", params)
    assert response.status_code == 200
    with app.app_context():
        numbers = set(db.session.scalars(select(CallbackRequest.phone_number)))
    assert numbers == {"+8613123456707"}


def test_no_line_configured_still_answers_with_the_fallback(make_app, tmp_path):
    app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with app.app_context():
        db.create_all()
    twilio = TwilioCaller(app.test_client())
    response = twilio.post("/twilio/voice", twilio.call_params("CA" + "c" * 32))
    assert response.status_code == 200
    assert ET.fromstring(response.get_data()).find("Record") is not None
