# ruff: noqa: F811
"""Smaller doors of the console (issue 12, item 8): no GET changes data, no date the console
cannot compute with gives a 500, and no case text reaches the logs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from hotline.callbacks import service as callbacks_service
from hotline.callbacks.models import CallbackReason
from hotline.callers.models import FamilyContact
from hotline.cases import lifecycle
from hotline.cases.models import Case, CaseStatus
from hotline.db import db
from hotline.operators.models import Role
from hotline.timeutil import utcnow

# The cases feature's fixtures, used here as arguments (so ruff's F811 is off in this file).
from tests.cases.conftest import line_id, make_call, make_staff, open_case, sign_in  # noqa: F401

CALLER = "+8613800000001"
OUT_OF_RANGE = "日期超出范围"


def _cases(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Case))


# --------------------------------------------------------------------------- no GET changes data


def test_opening_the_case_of_a_call_is_a_post_and_a_get_changes_nothing(
    app, client, sign_in, make_staff, make_caller, make_call
):
    sign_in(client, make_staff(Role.OPERATOR))
    _call_id, sid = make_call(make_caller(phone_number=CALLER), answered_at=datetime.now(UTC))

    page = client.get(f"/console/cases/for-call/{sid}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200, "a GET (a prefetch, a link in a mail) only shows a button"
    assert f'method="post" action="/console/cases/for-call/{sid}"' in body
    assert 'name="csrf_token"' in body
    assert _cases(app) == 0

    opened = client.post(f"/console/cases/for-call/{sid}")
    assert opened.status_code == 303 and "/console/cases/" in opened.headers["Location"]
    assert _cases(app) == 1
    assert client.get("/console/cases/for-call/CAnope").status_code == 404


def test_the_queue_opens_a_case_with_a_post_form(client, sign_in, make_staff):
    sign_in(client, make_staff(Role.OPERATOR))
    body = client.get("/console/queue").get_data(as_text=True)
    for button in ("current-case", "wrapup-case"):
        form = body[: body.index(f'id="{button}"')].rsplit("<form", 1)[1]
        assert form.startswith(' method="post"') and 'name="csrf_token"' in form, button
        assert "</form>" not in form, f"{button} is inside the POST form"


# --------------------------------------------------------------------------- dates


@pytest.fixture
def supervisor(client, sign_in, make_staff):
    return sign_in(client, make_staff(Role.SUPERVISOR))


@pytest.fixture
def caller_case(app, make_caller, open_case, line_id):
    """Ids and numbers the forms' URLs need: caller, number, callback, case_id, contact."""
    caller = make_caller(phone_number=CALLER, name="王秀英")
    number = open_case(caller)
    with app.app_context():
        contact = FamilyContact(caller_id=caller, name="王小明", phone_number="+8613800000002")
        db.session.add(contact)
        callback = callbacks_service.request_callback(
            db.session,
            line_id=line_id,
            phone_number=CALLER,
            reason=CallbackReason.OPERATOR,
            original_arrival_at=utcnow(),
            caller_id=caller,
        )
        case_id = db.session.scalar(select(Case.id).where(Case.number == number))
        db.session.commit()
        return {
            "caller": caller,
            "number": number,
            "callback": callback.id,
            "case_id": case_id,
            "contact": contact.id,
        }


EXTREME_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01"]


@pytest.mark.parametrize("day", EXTREME_DAYS)
@pytest.mark.parametrize(
    "url",
    [
        "/console/cases?date_from={day}",
        "/console/cases?date_to={day}",
        "/console/cases/review?date_from={day}",
        "/console/cases/review?date_to={day}",
        "/console/cases/export.csv?date_from={day}",
        "/console/cases/export.csv?date_to={day}",
    ],
)
def test_extreme_dates_in_searches_say_so_next_to_the_field(client, supervisor, url, day):
    response = client.get(url.format(day=day), follow_redirects=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 400, "a clear refusal, never a 500"
    assert OUT_OF_RANGE in body
    assert 'aria-invalid="true"' in body, "the message is on the field"


@pytest.mark.parametrize("day", EXTREME_DAYS)
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/console/cases/{number}/callback", "due_at"),
        ("/console/cases/{number}/follow-up", "follow_up_at"),
        ("/console/cases/{number}/escalation", "c{case_id}-deadline_at"),
        ("/console/callers/{caller}/restriction", "until"),
        ("/console/callers/{caller}/family/{contact}/consent", "consented_at"),
        ("/console/callbacks/{callback}/reschedule", "due_at"),
        ("/console/callbacks/schedule", "due_at"),
    ],
)
def test_extreme_dates_in_forms_are_refused_with_a_clear_message(
    app, client, supervisor, caller_case, url, field, day
):
    data = {
        field.format(**caller_case): f"{day}T10:00",
        "kind": "block",
        "reason": "骚扰",
        "phone_number": "+8613800000002",
        "method": "elder_on_call",
    }
    target = url.format(**caller_case)
    response = client.post(target, data=data, follow_redirects=True)
    assert response.status_code in (200, 400), "a clear refusal, never a 500"
    assert OUT_OF_RANGE in response.get_data(as_text=True)


# --------------------------------------------------------------------------- logs

SECRETS = {
    "summary": "摘要秘密SUMMARY",
    "note": "备注秘密NOTE",
    "sub_topic": "子题秘密SUB",
    "callback_note": "回电秘密CB",
    "referral_name": "转介秘密NAME",
    "referral_reason": "转介秘密REASON",
    "escalation": "上报秘密ESC",
    "outcome_note": "结果秘密OUT",
    "reopen": "重开秘密REOPEN",
    "caller_name": "王秀英",
}


def _case_screen_actions(client, number: str) -> None:
    posts = [
        ("scenario", {"scenario": "affairs", "sub_topic": SECRETS["sub_topic"]}),
        ("summary", {"summary": SECRETS["summary"]}),
        ("notes", {"text": SECRETS["note"]}),
        ("callback", {"due_at": "2099-06-01T15:30", "note": SECRETS["callback_note"]}),
        ("follow-up", {"follow_up_at": "2099-06-01T15:30"}),
        (
            "referral",
            {
                "target_kind": "agency",
                "target_name": SECRETS["referral_name"],
                "reason": SECRETS["referral_reason"],
            },
        ),
        ("escalate", {"reason": SECRETS["escalation"]}),
        ("resolve", {"outcome": "answered", "note": SECRETS["outcome_note"]}),
        ("reopen", {"reason": SECRETS["reopen"]}),
    ]
    for action, data in posts:
        response = client.post(f"/console/cases/{number}/{action}", data=data)
        assert response.status_code in (303, 400), (action, response.status_code)
    client.get(f"/console/cases/{number}")
    client.get("/console/cases", query_string={"q": SECRETS["caller_name"]})
    client.get("/console/cases/export.csv", query_string={"q": SECRETS["caller_name"]})


def _assert_no_secret(caplog) -> None:
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for name, secret in SECRETS.items():
        assert secret not in logged, f"the {name} was logged"


def test_no_case_text_reaches_the_logs_from_the_case_screen(
    app, client, supervisor, caller_case, caplog, monkeypatch
):
    """Every case screen action, then one that fails in the database as a stall or a bug
    would: its error is logged with its statement, never with the values written."""
    caplog.set_level(logging.DEBUG)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a 500 is logged
    number = caller_case["number"]
    _case_screen_actions(client, number)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.number == number))
        assert case.summary == SECRETS["summary"], "the actions did run"
        assert case.status == CaseStatus.IN_PROGRESS

    real = lifecycle.update_summary

    def failing_update(session, case, *, summary, operator_id):
        real(session, case, summary=summary, operator_id=operator_id)
        session.execute(text("UPDATE no_such_table SET summary = :summary"), {"summary": summary})

    monkeypatch.setattr(lifecycle, "update_summary", failing_update)
    response = client.post(f"/console/cases/{number}/summary", data={"summary": SECRETS["summary"]})
    assert response.status_code == 500
    assert "no_such_table" in caplog.text, "the error itself is logged"
    _assert_no_secret(caplog)
