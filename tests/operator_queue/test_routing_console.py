"""Routing in the console: take-next follows the operator's languages and lines, the queue JSON
says why each caller is offered, and an operator only sees and takes callers on their lines."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hotline.db import db
from hotline.lines.models import Line
from hotline.operators.models import Operator
from hotline.queue.models import QueueEntry, QueueStatus

from .queue_support import *  # noqa: F403
from .queue_support import entry_of, reach_queue


def _set(
    app, entry_id: int, *, language: str | None = None, waited: int | None = None, line_id=None
):
    """Give a waiting entry a language, a wait so far, or another line."""
    with app.app_context():
        entry = db.session.get(QueueEntry, entry_id)
        if language is not None:
            entry.language = language
        if waited is not None:
            entry.enqueued_at = entry.enqueued_at - timedelta(seconds=waited)
        if line_id is not None:
            entry.line_id = line_id
        db.session.commit()


def _skills(app, operator_id: int, *, languages=(), line_ids=()):
    with app.app_context():
        operator = db.session.get(Operator, operator_id)
        operator.languages = list(languages)
        operator.line_ids = list(line_ids)
        db.session.commit()


def _second_line(app) -> int:
    with app.app_context():
        line = Line(key="district", name="区热线", phone_number="+861088880000")
        db.session.add(line)
        db.session.commit()
        return line.id


def _main_line(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Line.id).order_by(Line.id).limit(1))


def test_take_next_gives_the_cantonese_operator_the_cantonese_caller_first(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    mandarin = reach_queue(twilio, app, from_="+8613800000001")
    cantonese = reach_queue(twilio, app, from_="+8613800000002")
    _set(app, cantonese.entry_id, language="yue-HK")
    _skills(app, operator_id, languages=["yue-HK"])

    state = client.get("/console/api/queue").get_json()
    rows = {row["id"]: row for row in state["waiting"]}
    assert rows[cantonese.entry_id]["offer_reason"] == "language"
    assert rows[cantonese.entry_id]["offer_label"].startswith("粤语 · 等了 ")
    assert rows[cantonese.entry_id]["is_next_for_me"] is True
    assert rows[mandarin.entry_id]["offer_reason"] is None, "shown, not offered: can be picked"
    assert rows[mandarin.entry_id]["is_next_for_me"] is False
    assert state["me"]["languages_label"] == "粤语" and state["me"]["lines_label"] == "所有线路"

    response = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert response.status_code == 200, response.get_json()
    assert entry_of(app, cantonese.entry_id).operator_id == operator_id
    assert entry_of(app, mandarin.entry_id).status == QueueStatus.WAITING


def test_past_the_line_threshold_anyone_is_offered_the_caller_with_the_language_shown(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    cantonese = reach_queue(twilio, app, from_="+8613800000003")
    _set(app, cantonese.entry_id, language="yue-HK", waited=100)
    _skills(app, operator_id, languages=["zh-CN"])
    with app.app_context():
        db.session.get(Line, _main_line(app)).route_to_anyone_after_seconds = 120
        db.session.commit()

    response = client.post("/console/api/queue/take-next", data={"via": "phone"})
    assert response.status_code == 409 and response.get_json()["code"] == "empty"
    assert entry_of(app, cantonese.entry_id).status == QueueStatus.WAITING

    _set(app, cantonese.entry_id, waited=30)  # 130 s now: past the line's 120 s
    [row] = client.get("/console/api/queue").get_json()["waiting"]
    assert row["offer_reason"] == "overflow"
    assert row["offer_label"] == "粤语 · 等了 2 分钟 · 没有会这种语言的坐席接听"
    client.post("/console/lang/en", data={"next": "/console/queue"})
    [row] = client.get("/console/api/queue").get_json()["waiting"]
    assert row["offer_label"] == "Cantonese · waiting 2 min · no operator speaking it took the call"
    assert client.post("/console/api/queue/take-next").status_code == 200
    assert entry_of(app, cantonese.entry_id).operator_id == operator_id


def test_an_operator_may_pick_any_caller_on_their_lines_whatever_the_language(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    cantonese = reach_queue(twilio, app, from_="+8613800000004")
    _set(app, cantonese.entry_id, language="yue-HK")
    _skills(app, operator_id, languages=["zh-CN"])
    response = client.post(f"/console/api/queue/{cantonese.entry_id}/take")
    assert response.status_code == 200, response.get_json()
    assert entry_of(app, cantonese.entry_id).operator_id == operator_id


def test_an_operator_sees_and_takes_only_callers_on_their_lines(
    app, twilio, http_client, operator_client
):
    client, operator_id = operator_client
    main = _main_line(app)
    district = _second_line(app)
    on_main = reach_queue(twilio, app, from_="+8613800000005")
    on_district = reach_queue(twilio, app, from_="+8613800000006")
    _set(app, on_district.entry_id, line_id=district)
    _skills(app, operator_id, line_ids=[main])

    state = client.get("/console/api/queue").get_json()
    assert [row["id"] for row in state["waiting"]] == [on_main.entry_id]
    assert state["me"]["lines_label"] != "所有线路"

    refused = client.post(f"/console/api/queue/{on_district.entry_id}/take")
    assert refused.status_code == 400 and refused.get_json()["code"] == "not_your_line"
    assert entry_of(app, on_district.entry_id).status == QueueStatus.WAITING

    _skills(app, operator_id)  # no lines set: every line
    state = client.get("/console/api/queue").get_json()
    assert {row["id"] for row in state["waiting"]} == {on_main.entry_id, on_district.entry_id}
    assert state["me"]["lines_label"] == "所有线路"


def test_take_next_skips_callers_on_other_lines(app, twilio, http_client, operator_client):
    client, operator_id = operator_client
    district = _second_line(app)
    first = reach_queue(twilio, app, from_="+8613800000007")
    second = reach_queue(twilio, app, from_="+8613800000008")
    _set(app, first.entry_id, line_id=district)
    _skills(app, operator_id, line_ids=[_main_line(app)])
    assert client.post("/console/api/queue/take-next").status_code == 200
    assert entry_of(app, second.entry_id).operator_id == operator_id
    assert entry_of(app, first.entry_id).status == QueueStatus.WAITING
