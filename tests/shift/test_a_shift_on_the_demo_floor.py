"""A shift on the demo floor, end to end (issue 15's "done means").

The demo data `python3 dev.py run` seeds (hotline.seed: the key-menu line, the line that
records, 刘芳 who speaks Mandarin, 赵强 who speaks Cantonese, the supervisor 张敏, the community
office in the directory), the hotline and the local Twilio emulator (hotline.devgateway) each on
a real local port: the real twilio SDK one way, signed webhooks the other.

王阿姨 (Mandarin) rings the key-menu line first, 陈伯 (Cantonese) the recording line after her.
赵强 takes the next caller and gets 陈伯, though 王阿姨 waited longer (the queue JSON says why:
"粤语 · 等了 … 秒"); 刘芳 gets 王阿姨. 赵强 brings the community office into 陈伯's recorded
conversation (warm: 陈伯 on hold while they talk), hands over and leaves; 王阿姨 hangs up. 刘芳
resolves her case and says she is done after 20 s; 赵强 lets the wrap-up end by itself after
the line's 60 s. The office hangs up, the recording arrives, and the supervisor plays it (an
audit row; 刘芳, not on that case, is refused), sees both operators on the live board, and the
operator's day with the figures computed by hand below. Later 刘芳 goes to lunch (the board
says so) and 李先生 (Mandarin) waits: after the line's 120 s he is offered to 赵强 too, the
overflow said in his row, and becomes 赵强's second call of the day.

The app's clock is frozen and moved by hand together with the emulator's (`Floor.wait`), so
every time the app stamps is known: each step moves both clocks, then lets the emulator run
what fell due (its webhooks are stamped at the end of the step), then each operator's console
polls as a browser would (their presence heartbeat). Runs on SQLite and, with
HOTLINE_TEST_DB=postgres, on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from sqlalchemy import select

from hotline.calls.models import Call
from hotline.cases.models import AuditEntry, Case
from hotline.db import db
from hotline.directory.models import Agency
from hotline.lines.models import Line
from hotline.operators.models import Operator
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.seed import (
    DEMO_AGENCIES,
    DEMO_LINE_NUMBER,
    DEMO_OPERATORS,
    DEMO_RECORDED_LINE_NUMBER,
    seed_demo_data,
)
from hotline.transfers.models import CallRecording, ExternalTransfer, TransferStatus
from tests.operator_queue.queue_support import login

WANG = "+8613123456701"  # 王阿姨: Mandarin, older caller, straight to a person
CHEN = "+8613123456703"  # 陈伯: Cantonese, older caller, hard of hearing
LI = "+8613123456702"  # 李先生: Mandarin
PHONES = {username: phone for username, _n, _r, _p, phone in DEMO_OPERATORS}
PASSWORDS = {username: password for username, _n, _r, password, _p in DEMO_OPERATORS}
OFFICE = DEMO_AGENCIES[0][2]
#: 10:00 in Beijing on a Monday: the whole shift falls on one local day.
START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


@pytest.fixture
def gateway_overrides() -> dict:
    """The two demo lines the callers ring; both operators' phones answer by themselves (the
    office's does not: the test answers it, so the operator talks to it first)."""
    return {
        "LINES": f"{DEMO_LINE_NUMBER},{DEMO_RECORDED_LINE_NUMBER}",
        "AUTO_ANSWER_NUMBERS": f"{PHONES['operator']},{PHONES['operator2']}",
    }


class Floor:
    """Both clocks, moved together, and the operators' consoles polling."""

    def __init__(self, emulator, traveller, consoles):
        self.emulator, self.traveller, self.consoles = emulator, traveller, consoles
        self.elapsed = 0

    def wait(self, seconds: int, *, step: int = 20) -> None:
        left = seconds
        while left > 0:
            chunk = min(step, left)
            self.traveller.shift(timedelta(seconds=chunk))
            self.elapsed += chunk
            self.emulator.advance(chunk)
            for console in self.consoles:
                assert console.get("/console/api/queue").status_code == 200
            left -= chunk

    def now(self) -> datetime:
        return START + timedelta(seconds=self.elapsed)


def _client(app, username: str):
    client = app.test_client()
    login(client, username, PASSWORDS[username])
    return client


def _row(state: dict, entry_id: int) -> dict:
    return next(row for row in state["waiting"] if row["id"] == entry_id)


def _entry_of_call(app, call_sid: str) -> QueueEntry:
    with app.app_context():
        entry = db.session.scalar(
            select(QueueEntry)
            .join(Call, Call.id == QueueEntry.call_id)
            .where(Call.call_sid == call_sid)
        )
        db.session.expunge(entry)
        return entry


def _board(supervisor) -> dict[str, dict]:
    response = supervisor.get("/console/floor/api/board")
    assert response.status_code == 200
    return {row["name"]: row for row in response.get_json()["operators"]}


def _day_csv(client, **query) -> dict[str, dict[str, str]]:
    response = client.get("/console/floor/day.csv", query_string={"day": "2026-12-07", **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    return {row[1]: dict(zip(header, row, strict=True)) for row in body}


def _table_rows(html: str) -> dict[str, dict[str, str]]:
    """The operator's day table: operator id -> its row's data attributes (without data-)."""
    rows = {}
    for tag in re.findall(r"<tr data-operator=.*?>", html, flags=re.S):
        data = dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag))
        rows[data.pop("operator")] = data
    return rows


def test_a_shift_with_two_dialects_a_warm_transfer_and_a_recorded_call_reviewed(
    dev_twilio, app, emulator
):
    with app.app_context():
        seed_demo_data(db.session)
        ids = {op.username: op.id for op in db.session.scalars(select(Operator))}
        agency_id = db.session.scalar(select(Agency.id).where(Agency.phone_number == OFFICE))
        lines = {line.phone_number: line for line in db.session.scalars(select(Line))}
        assert lines[DEMO_RECORDED_LINE_NUMBER].is_recording_enabled
        assert not lines[DEMO_LINE_NUMBER].is_recording_enabled
        assert lines[DEMO_RECORDED_LINE_NUMBER].wrap_up_seconds == 60
    media = requests.Session()
    media.trust_env = False
    app.config["RECORDING_MEDIA_SESSION"] = media

    with time_machine.travel(START, tick=False) as traveller:
        liu, zhao = _client(app, "operator"), _client(app, "operator2")
        boss = _client(app, "supervisor")
        for console in (liu, zhao):
            assert console.post("/console/api/presence", data={"presence": "available"}).get_json()[
                "ok"
            ]
        floor = Floor(emulator, traveller, (liu, zhao))

        # 王阿姨 rings first (straight to a person, greeted by name), 陈伯 ten seconds later.
        wang = emulator("POST", f"/phones/{WANG}/calls", to=DEMO_LINE_NUMBER)["call"]["sid"]
        floor.wait(10)
        chen = emulator("POST", f"/phones/{CHEN}/calls", to=DEMO_RECORDED_LINE_NUMBER)["call"][
            "sid"
        ]
        floor.wait(20)
        heard = " ".join(e["text"] for e in emulator("GET", f"/calls/{chen}")["transcript"])
        assert "同职员嘅通话会录音" in heard, heard[:400]  # the recording notice, in Cantonese
        emulator("POST", f"/calls/{chen}/digits", digits="0")
        floor.wait(10)
        for sid in (wang, chen):
            view = emulator("GET", f"/calls/{sid}")
            assert view["queue"], (sid, view["activity"])
        wang_entry, chen_entry = _entry_of_call(app, wang), _entry_of_call(app, chen)
        assert (wang_entry.language, chen_entry.language) == ("zh-CN", "yue-HK")
        assert wang_entry.enqueued_at < chen_entry.enqueued_at

        # Why each caller is offered to whom (the queue JSON the console shows).
        zhao_view = zhao.get("/console/api/queue").get_json()
        assert _row(zhao_view, chen_entry.id)["offer_reason"] == "language"
        assert _row(zhao_view, chen_entry.id)["offer_label"] == "粤语 · 等了 10 秒"
        assert _row(zhao_view, chen_entry.id)["is_next_for_me"]
        assert _row(zhao_view, wang_entry.id)["offer_reason"] is None  # not his language, yet
        liu_view = liu.get("/console/api/queue").get_json()
        assert _row(liu_view, wang_entry.id)["offer_reason"] == "language"
        assert _row(liu_view, wang_entry.id)["offer_label"] == "普通话 · 等了 40 秒"
        assert _row(liu_view, chen_entry.id)["offer_reason"] is None

        taken = zhao.post("/console/api/queue/take-next", data={"via": "phone"})
        assert taken.get_json() == {"ok": True, "entry_id": chen_entry.id}
        taken = liu.post("/console/api/queue/take-next", data={"via": "phone"})
        assert taken.get_json() == {"ok": True, "entry_id": wang_entry.id}
        floor.wait(5)  # both operators' phones answer by themselves: both conversations start
        connected_at = floor.now()
        for sid in (wang, chen):
            assert _entry_of_call(app, sid).status == QueueStatus.CONNECTED
            assert emulator("GET", f"/calls/{sid}")["activity"] == "conference"

        board = _board(boss)
        assert board["坐席 赵强"]["presence"] == "busy"
        assert board["坐席 赵强"]["caller"]["language_label"] == "粤语"
        assert board["坐席 赵强"]["caller"]["entry_id"] == chen_entry.id
        assert board["坐席 刘芳"]["presence"] == "busy"
        assert board["坐席 刘芳"]["caller"]["entry_id"] == wang_entry.id
        # 王阿姨 joined the queue at once (0 s), 陈伯 when he pressed 0 (30 s); both answered at
        # 45 s.
        assert board["坐席 刘芳"]["caller"]["waited_seconds"] == 45
        assert board["坐席 赵强"]["caller"]["waited_seconds"] == 15
        assert board["坐席 刘芳"]["caller"]["talk_seconds"] == 0

        # Each opens the caller's case from the call panel.
        numbers = {}
        for console, sid in ((liu, wang), (zhao, chen)):
            opened = console.post(f"/console/cases/for-call/{sid}")
            assert opened.status_code == 303, opened.get_data(as_text=True)
            numbers[sid] = opened.headers["Location"].rsplit("/", 1)[-1]

        # A minute in, 赵强 brings the community office in: 陈伯 on hold while they talk.
        floor.wait(60)
        started = zhao.post(
            f"/console/api/transfers/{chen_entry.id}/start",
            data={"choice": f"agency:{agency_id}", "mode": "warm"},
        )
        assert started.get_json()["ok"], started.get_json()
        floor.wait(2)
        with app.app_context():
            office_leg = db.session.scalar(select(ExternalTransfer.participant_call_sid))
        assert emulator("GET", f"/calls/{office_leg}")["status"] == "ringing"
        emulator("POST", f"/calls/{office_leg}/answer")
        floor.wait(2)
        assert emulator("GET", f"/calls/{chen}")["activity"] == "on-hold"
        office = emulator("GET", f"/calls/{office_leg}")
        assert any("与工作人员的通话会录音" in e["text"] for e in office["transcript"])
        handed = zhao.post(f"/console/api/transfers/{chen_entry.id}/hand-over")
        assert handed.get_json()["ok"], handed.get_json()
        zhao_ended = floor.now()
        floor.wait(3)
        caller = emulator("GET", f"/calls/{chen}")
        assert {p["number"] for p in caller["conference"]["participants"]} == {CHEN, OFFICE}
        assert _board(boss)["坐席 赵强"]["presence"] == "wrap_up"

        # 王阿姨 hangs up; 刘芳 resolves her case and is done 20 s later.
        emulator("POST", f"/calls/{wang}/hangup")
        liu_ended = floor.now()
        emulator("POST", "/wait")
        assert _entry_of_call(app, wang).status == QueueStatus.COMPLETED
        resolved = liu.post(f"/console/cases/{numbers[wang]}/resolve", data={"outcome": "answered"})
        assert resolved.status_code == 303, resolved.get_data(as_text=True)
        floor.wait(20)
        assert liu.post("/console/api/wrap-up/done").get_json()["ok"]
        liu_ready = floor.now()

        # 赵强 does nothing: his wrap-up ends by itself after the line's 60 s.
        floor.wait(45)
        board = _board(boss)
        zhao_row, liu_row = board["坐席 赵强"], board["坐席 刘芳"]
        assert zhao_row["presence"] == "available"
        assert zhao_row["since"] == (zhao_ended + timedelta(seconds=60)).isoformat()
        assert liu_row["presence"] == "available" and liu_row["since"] == liu_ready.isoformat()
        assert zhao_row["caller"] is None and liu_row["caller"] is None

        # The office and 陈伯 finish; the office hangs up, which ends the recorded conference.
        emulator("POST", f"/calls/{office_leg}/hangup")
        floor.wait(10)
        assert emulator("GET", f"/calls/{chen}")["status"] == "completed"
        with app.app_context():
            transfer = db.session.scalar(select(ExternalTransfer))
            assert transfer.status == TransferStatus.ENDED and transfer.duration_seconds
            assert transfer.operator_id == ids["operator2"]
            recording = db.session.scalar(select(CallRecording))
            assert recording is not None and recording.channels == 2
            assert recording.call_id == transfer.call_id
            assert (
                db.session.scalar(select(CallRecording.id).where(CallRecording.id != recording.id))
                is None
            ), "王阿姨's line does not record"

        # The supervisor opens 陈伯's case: the transfer and the recording, played through the
        # app (no provider address in the page).
        page = boss.get(f"/console/cases/{numbers[chen]}").get_data(as_text=True)
        assert f"/console/recordings/{recording.id}/audio" in page
        assert "和平里社区居委会" in page
        assert recording.media_url not in page and "/Recordings/" not in page
        # The supervisor plays the recording; 刘芳, not on 陈伯's case, may not.
        played = boss.get(f"/console/recordings/{recording.id}/audio")
        assert played.status_code == 200 and played.data[:4] == b"RIFF"
        assert liu.get(f"/console/recordings/{recording.id}/audio").status_code == 403
        with app.app_context():
            plays = db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == "recording_played")
            ).all()
            assert [(p.operator_id, p.entity_id) for p in plays] == [
                (ids["supervisor"], recording.call_id)
            ]
            cases = {c.opened_by_id: c for c in db.session.scalars(select(Case))}
            assert set(cases) == {ids["operator"], ids["operator2"]}

        # The operator's day, computed by hand from the steps above.
        zhao_talk = int((zhao_ended - connected_at).total_seconds())  # until the hand-over
        liu_talk = int((liu_ended - connected_at).total_seconds())
        assert (zhao_talk, liu_talk) == (64, 67)
        day = _day_csv(boss)
        assert set(day) == {"坐席 刘芳", "坐席 赵强"}, day
        expected = {
            "坐席 赵强": {
                "接听通话": "1",
                "平均通话秒数": str(zhao_talk),
                "最长通话秒数": str(zhao_talk),
                "平均整理秒数": "60",
                "安排回电": "0",
                "回电接通": "0",
                "转接": "1",
                "新建工单": "1",
                "解决工单": "0",
            },
            "坐席 刘芳": {
                "接听通话": "1",
                "平均通话秒数": str(liu_talk),
                "最长通话秒数": str(liu_talk),
                "平均整理秒数": "20",
                "安排回电": "0",
                "回电接通": "0",
                "转接": "0",
                "新建工单": "1",
                "解决工单": "1",
            },
        }
        for name, figures in expected.items():
            got = {key: day[name][key] for key in figures}
            assert got == figures, (name, got)
        # The page shows the same rows (the sortable table's data attributes).
        page = boss.get("/console/floor/day", query_string={"day": "2026-12-07"})
        assert page.status_code == 200
        table = _table_rows(page.get_data(as_text=True))
        shown = {
            "name": "坐席 赵强",
            "calls": "1",
            "talk": str(zhao_talk),
            "wrap": "60",
            "transfers": "1",
            "opened": "1",
            "resolved": "0",
        }
        zhao_row = table[str(ids["operator2"])]
        assert {key: zhao_row[key] for key in shown} == shown
        assert table[str(ids["operator"])]["talk"] == str(liu_talk)
        assert boss.get("/console/floor/board").status_code == 200
        # An operator sees their own figures only, whatever the URL asks for.
        own = _day_csv(liu, operator=str(ids["operator2"]))
        assert list(own) == ["坐席 刘芳"]
        mine = liu.get(
            "/console/floor/day", query_string={"day": "2026-12-07", "operator": ids["operator2"]}
        ).get_data(as_text=True)
        assert "坐席 刘芳" in mine and "坐席 赵强" not in mine
        assert liu.get("/console/floor/board").status_code == 403

        # Later: 刘芳 goes to lunch, and 李先生 (Mandarin) rings. Nobody speaking Mandarin takes
        # him, so after the line's 120 s he is offered to 赵强 too, his language shown.
        away = liu.post("/console/api/presence", data={"presence": "away", "reason": "meal"})
        assert away.get_json()["ok"]
        lunch = _board(boss)["坐席 刘芳"]
        assert (lunch["presence"], lunch["reason_label"]) == ("away", "用餐")
        li = emulator("POST", f"/phones/{LI}/calls", to=DEMO_LINE_NUMBER)["call"]["sid"]
        floor.wait(20)
        emulator("POST", f"/calls/{li}/digits", digits="0")
        li_entry = _entry_of_call(app, li)
        floor.wait(100)
        row = _row(zhao.get("/console/api/queue").get_json(), li_entry.id)
        assert row["offer_reason"] is None, row["offer_label"]  # 100 s: still Mandarin only
        floor.wait(20)
        row = _row(zhao.get("/console/api/queue").get_json(), li_entry.id)
        assert row["offer_reason"] == "overflow" and row["is_next_for_me"]
        assert row["offer_label"] == "普通话 · 等了 2 分钟 · 没有会这种语言的坐席接听"
        taken = zhao.post("/console/api/queue/take-next", data={"via": "phone"})
        assert taken.get_json() == {"ok": True, "entry_id": li_entry.id}
        floor.wait(5)
        with_li = _board(boss)["坐席 赵强"]
        assert with_li["presence"] == "busy" and with_li["caller"]["language_label"] == "普通话"
        floor.wait(30)
        emulator("POST", f"/calls/{li}/hangup")
        emulator("POST", "/wait")
        later = _day_csv(boss)["坐席 赵强"]
        assert (later["接听通话"], later["最长通话秒数"], later["平均通话秒数"]) == (
            "2",
            str(zhao_talk),
            str(round((zhao_talk + 30) / 2)),
        )

    problems = emulator("GET", "/problems")
    errors = [
        p
        for p in problems.get("problems", problems)
        if isinstance(p, dict) and p.get("level") == "error"
    ]
    assert errors == [], errors
