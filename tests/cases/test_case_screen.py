"""The case screen and the caller profile through the console (test client; the browser test
drives the same screen in Chromium)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callers.models import Caller, FamilyContact
from hotline.cases import followups, lifecycle, referrals
from hotline.cases.events import CaseReferred
from hotline.cases.models import Case, CaseCallback, CaseNote, CaseStatus, Referral
from hotline.db import db
from hotline.operators.models import Role


@pytest.fixture
def operator(make_staff):
    return make_staff(Role.OPERATOR, display_name="坐席 刘芳")


@pytest.fixture
def taken_call(make_caller, make_call):
    caller = make_caller(
        phone_number="+8613800138000", name="王秀英", display_name="王阿姨", is_older_caller=True
    )
    _call_id, sid = make_call(caller, scenario="medical", answered_at=datetime.now(UTC))
    return caller, sid


def _case(app, number=None):
    with app.app_context():
        statement = select(Case) if number is None else select(Case).where(Case.number == number)
        return db.session.scalars(statement.order_by(Case.id.desc())).first()


def test_a_taken_call_opens_its_case_screen(app, client, sign_in, operator, taken_call):
    _caller, sid = taken_call
    sign_in(client, operator)
    response = client.post(f"/console/cases/for-call/{sid}")
    assert response.status_code == 303
    case = _case(app)
    assert response.headers["Location"].endswith(f"/console/cases/{case.number}")
    assert case.status == CaseStatus.IN_PROGRESS and case.owner_id == operator
    page = client.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "王阿姨" in body and "老年来电人" in body and case.number in body
    assert 'aria-pressed="true">就医' in body, "the menu's scenario is preselected"
    # Taking it again (a double click) lands on the same case.
    assert (
        client.post(f"/console/cases/for-call/{sid}").headers["Location"]
        == response.headers["Location"]
    )
    assert client.post("/console/cases/for-call/CAnope").status_code == 404


def test_the_case_screen_requires_an_operator(client, open_case):
    number = open_case(None)
    response = client.get(f"/console/cases/{number}")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_notes_scenario_and_summary_from_the_screen(
    app, client, sign_in, operator, open_case, make_caller
):
    number = open_case(make_caller())
    sign_in(client, operator)
    assert (
        client.post(
            f"/console/cases/{number}/scenario",
            data={"scenario": "affairs", "sub_topic": "养老金认证"},
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/console/cases/{number}/summary", data={"summary": "不会用手机做养老金认证"}
        ).status_code
        == 303
    )
    note = "<script>alert('x')</script> 已约社区上门"
    assert client.post(f"/console/cases/{number}/notes", data={"text": note}).status_code == 303
    case = _case(app, number)
    assert (case.scenario, case.sub_topic) == ("affairs", "养老金认证")
    body = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 已约社区上门" in body
    assert "<script>alert" not in body


def test_form_errors_are_clear_in_both_languages(client, sign_in, operator, make_staff, open_case):
    number = open_case(None)
    sign_in(client, operator)
    empty = client.post(f"/console/cases/{number}/notes", data={"text": "  "})
    assert empty.status_code == 400
    body = empty.get_data(as_text=True)
    assert "请先写备注内容。" in body and 'aria-invalid="true"' in body
    sign_in(client, make_staff(), lang="en")
    assert "Please write the note first." in client.post(
        f"/console/cases/{number}/notes", data={"text": ""}
    ).get_data(as_text=True)
    bad_scenario = client.post(f"/console/cases/{number}/scenario", data={"scenario": "moon"})
    assert bad_scenario.status_code == 400
    assert "Please choose from the list." in bad_scenario.get_data(as_text=True)
    no_reason = client.post(f"/console/cases/{number}/escalate", data={"reason": ""})
    assert "An escalation needs a reason." in no_reason.get_data(as_text=True)
    no_outcome = client.post(f"/console/cases/{number}/resolve", data={"outcome": ""})
    assert "Please choose an outcome." in no_outcome.get_data(as_text=True)
    no_time = client.post(f"/console/cases/{number}/callback", data={"due_at": "soon"})
    assert "Not a valid time" in no_time.get_data(as_text=True)
    refused = client.post(f"/console/cases/{number}/reopen", data={})
    assert refused.status_code == 400
    assert "Only a resolved case can be reopened." in refused.get_data(as_text=True)


def test_call_back_at_creates_a_callback_request(app, client, sign_in, operator, taken_call):
    caller, sid = taken_call
    sign_in(client, operator)
    number = client.post(f"/console/cases/for-call/{sid}").headers["Location"].rsplit("/", 1)[1]
    response = client.post(
        f"/console/cases/{number}/callback",
        data={"due_at": "2099-06-01T15:30", "note": "她女儿下午在家"},
    )
    assert response.status_code == 303
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        assert callback.reason == CallbackReason.OPERATOR
        assert callback.phone_number == "+8613800138000" and callback.caller_id == caller
        assert callback.due_at == datetime(2099, 6, 1, 7, 30, tzinfo=UTC)  # 15:30 Shanghai
        assert callback.requested_by_operator_id == operator
        assert number in callback.note
        link = db.session.scalar(select(CaseCallback))
        assert (link.callback_id, link.purpose) == (callback.id, "operator")
        assert followups.case_for_callback(db.session, callback.id).number == number
    past = client.post(f"/console/cases/{number}/callback", data={"due_at": "2001-01-01T10:00"})
    assert past.status_code == 400 and "回电时间不能是过去的时间" in past.get_data(as_text=True)


def test_a_callback_to_a_refused_number_says_so_and_is_kept_for_supervisors(
    app, client, sign_in, operator, make_caller, open_case
):
    """The number policy refuses a foreign number: the operator is told why, not "scheduled"."""
    number = open_case(make_caller(phone_number="+442071838750"))
    sign_in(client, operator)
    response = client.post(f"/console/cases/{number}/callback", data={"due_at": "2099-06-01T15:30"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "这个号码不能回电" in page and "country code +44 is not allowed" in page
    assert "回电已安排。" not in page
    with app.app_context():
        callback = db.session.scalar(select(CallbackRequest))
        assert callback.status.value == "refused" and "+44" in callback.refusal_reason


def test_a_case_without_a_number_cannot_be_called_back(client, sign_in, operator, open_case):
    number = open_case(None)
    sign_in(client, operator)
    response = client.post(f"/console/cases/{number}/callback", data={"due_at": "2099-06-01T15:30"})
    assert response.status_code == 400
    assert "没有可以回拨的号码" in response.get_data(as_text=True)


def test_referral_from_the_screen_publishes_case_referred(
    app, client, sign_in, operator, open_case, make_caller
):
    seen = []

    def subscriber(session, event: CaseReferred) -> None:
        seen.append(session.get(Referral, event.referral_id).target_number)

    app.extensions["hotline.events"].subscribe(CaseReferred, subscriber)
    number = open_case(make_caller())
    sign_in(client, operator, lang="en")
    missing = client.post(
        f"/console/cases/{number}/referral",
        data={"target_kind": "volunteer", "target_name": "张志愿者", "reason": "陪同去医院"},
    )
    assert missing.status_code == 400
    assert "needs the volunteer&#39;s phone number" in missing.get_data(as_text=True)
    assert seen == []
    ok = client.post(
        f"/console/cases/{number}/referral",
        data={
            "target_kind": "volunteer",
            "target_name": "张志愿者",
            "target_number": "137 0013 7000",
            "reason": "陪同去医院",
        },
    )
    assert ok.status_code == 303
    assert seen == ["+8613700137000"]
    with app.app_context():
        referral = db.session.scalar(select(Referral))
        assert referral.status.value == "pending" and referral.referred_by_id == operator
        assert referrals.pending_referrals(db.session) == [referral]
    answered = client.post(
        f"/console/cases/{number}/referrals/{referral.id}/response",
        data={"response": "accepted", "response_text": "明天上午去"},
    )
    assert answered.status_code == 303
    with app.app_context():
        assert db.session.get(Referral, referral.id).status.value == "accepted"
        assert referrals.pending_referrals(db.session) == []


def test_resolve_reopen_and_close(app, client, sign_in, operator, make_staff, open_case):
    number = open_case(None)
    sign_in(client, operator)
    assert (
        client.post(
            f"/console/cases/{number}/resolve",
            data={"outcome": "answered", "note": "告诉了窗口时间"},
        ).status_code
        == 303
    )
    assert _case(app, number).status == CaseStatus.RESOLVED
    assert client.post(f"/console/cases/{number}/close").status_code == 403
    sign_in(client, make_staff(Role.SUPERVISOR))
    assert client.post(f"/console/cases/{number}/close").status_code == 303
    body = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "此工单已关闭,只能查看。" in body
    assert f'action="/console/cases/{number}/notes"' not in body, "no forms on a closed case"
    refused = client.post(f"/console/cases/{number}/notes", data={"text": "再补一句"})
    assert refused.status_code == 400 and "只能查看" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(CaseNote)) is None


def test_follow_up_date_from_the_screen(app, client, sign_in, operator, open_case, make_caller):
    number = open_case(make_caller())
    sign_in(client, operator)
    assert (
        client.post(
            f"/console/cases/{number}/follow-up", data={"follow_up_at": "2099-01-05T10:00"}
        ).status_code
        == 303
    )
    assert _case(app, number).follow_up_at == datetime(2099, 1, 5, 2, 0, tzinfo=UTC)
    assert (
        client.post(f"/console/cases/{number}/follow-up", data={"follow_up_at": ""}).status_code
        == 303
    )
    assert _case(app, number).follow_up_at is None


# --------------------------------------------------------------------------- caller profile


def test_profile_page_edits_and_family_consent(app, client, sign_in, operator, make_caller):
    caller_id = make_caller(phone_number="+8613800138000", name="王秀英")
    sign_in(client, operator)
    page = client.get(f"/console/callers/{caller_id}")
    assert page.status_code == 200 and "王秀英" in page.get_data(as_text=True)
    saved = client.post(
        f"/console/callers/{caller_id}/profile",
        data={
            "name": "王秀英",
            "display_name": "王阿姨",
            "age_band": "80_89",
            "district": "朝阳区",
            "language": "zh-CN",
            "dialect": "",
            "is_older_caller": "y",
            "is_hard_of_hearing": "y",
            "callback_window_start": "09:00",
            "callback_window_end": "11:30",
            "notes": "",
            "speech_rate_percent": "",
            "input_timeout_seconds": "12",
            "requested_by": "",
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    with app.app_context():
        caller = db.session.get(Caller, caller_id)
        assert (
            caller.is_older_caller
            and caller.is_hard_of_hearing
            and not caller.is_straight_to_person
        )
        assert caller.input_timeout_seconds == 12 and caller.age_band.value == "80_89"
    bad = client.post(
        f"/console/callers/{caller_id}/profile",
        data={
            "callback_window_start": "18:00",
            "callback_window_end": "09:00",
            "speech_rate_percent": "fast",
        },
    )
    assert bad.status_code == 400
    assert "请输入整数。" in bad.get_data(as_text=True)

    added = client.post(
        f"/console/callers/{caller_id}/family",
        data={
            "name": "李丽",
            "relation": "女儿",
            "phone_number": "139 0013 9000",
            "may_change_profile": "y",
        },
    )
    assert added.status_code == 303
    with app.app_context():
        contact_id = db.session.scalar(select(FamilyContact.id))
    # Without the elder's consent the daughter cannot switch on straight-to-person.
    refused = client.post(
        f"/console/callers/{caller_id}/profile",
        data={
            "name": "王秀英",
            "is_older_caller": "y",
            "is_straight_to_person": "y",
            "requested_by": str(contact_id),
        },
    )
    assert refused.status_code == 400 and "老人尚未同意" in refused.get_data(as_text=True)
    no_method = client.post(f"/console/callers/{caller_id}/family/{contact_id}/consent", data={})
    assert no_method.status_code == 400 and "请选择老人表示同意的方式" in no_method.get_data(
        as_text=True
    )
    assert (
        client.post(
            f"/console/callers/{caller_id}/family/{contact_id}/consent",
            data={"method": "elder_on_call"},
        ).status_code
        == 303
    )
    allowed = client.post(
        f"/console/callers/{caller_id}/profile",
        data={
            "name": "王秀英",
            "is_older_caller": "y",
            "is_straight_to_person": "y",
            "requested_by": str(contact_id),
        },
    )
    assert allowed.status_code == 303
    with app.app_context():
        assert db.session.get(Caller, caller_id).is_straight_to_person


def test_callers_page_finds_by_number(client, sign_in, operator, make_caller):
    make_caller(phone_number="+8613800138000", name="王秀英")
    sign_in(client, operator)
    body = client.get("/console/callers", query_string={"q": "+86 138-0013-8000"}).get_data(
        as_text=True
    )
    assert "王秀英" in body


def test_supervisor_exports_and_erases_a_callers_data(
    app, client, sign_in, make_staff, make_caller, open_case, audit_of
):
    caller_id = make_caller(phone_number="+8613800138000", name="王秀英")
    number = open_case(caller_id)
    sign_in(client, make_staff(Role.SUPERVISOR))
    exported = client.post(f"/console/callers/{caller_id}/export")
    assert exported.status_code == 200 and exported.mimetype == "application/json"
    data = exported.get_json()
    assert data["profiles"][0]["name"] == "王秀英" and data["cases"][0]["number"] == number
    wrong = client.post(f"/console/callers/{caller_id}/erase", data={"confirm": "yes"})
    assert wrong.status_code == 400 and "ERASE" in wrong.get_data(as_text=True)
    assert (
        client.post(f"/console/callers/{caller_id}/erase", data={"confirm": "ERASE"}).status_code
        == 303
    )
    with app.app_context():
        caller = db.session.get(Caller, caller_id)
        assert (
            caller.anonymised_at
            and caller.name == ""
            and caller.phone_number == f"anon-{caller_id}"
        )
        actions = [e.action for e in audit_of(db.session, "caller", caller_id)]
        assert actions[-2:] == ["data_exported", "anonymised"]


def test_restriction_and_merge_through_the_profile(app, client, sign_in, make_staff, make_caller):
    keep = make_caller(phone_number="+8613800138000")
    make_caller(phone_number="+861062345678")
    sign_in(client, make_staff(Role.SUPERVISOR), lang="en")
    no_reason = client.post(
        f"/console/callers/{keep}/restriction", data={"kind": "block", "until": "2099-01-01T00:00"}
    )
    assert no_reason.status_code == 400 and "Please give the reason." in no_reason.get_data(
        as_text=True
    )
    too_long = client.post(
        f"/console/callers/{keep}/restriction",
        data={"kind": "block", "reason": "辱骂坐席", "until": "2099-01-01T00:00"},
    )
    assert "at most 180 days" in too_long.get_data(as_text=True)
    soon = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert (
        client.post(
            f"/console/callers/{keep}/restriction",
            data={"kind": "warn", "reason": "辱骂坐席", "until": soon},
        ).status_code
        == 303
    )
    unknown = client.post(f"/console/callers/{keep}/merge", data={"other": "13900139000"})
    assert "No caller profile has that number." in unknown.get_data(as_text=True)
    assert (
        client.post(f"/console/callers/{keep}/merge", data={"other": "010 6234 5678"}).status_code
        == 303
    )
    body = client.get(f"/console/callers/{keep}").get_data(as_text=True)
    assert "+861062345678" in body and "Warning: abuse" in body


def test_texts_on_the_case_show_what_the_caller_wrote_escaped(
    app, client, sign_in, operator, make_caller, open_case
):
    from hotline.sms.models import SmsDirection, SmsMessage, SmsStatus

    caller = make_caller()
    number = open_case(caller)
    with app.app_context():
        text = SmsMessage(
            direction=SmsDirection.INBOUND,
            status=SmsStatus.RECEIVED,
            caller_id=caller,
            to_number="+861012345678",
            from_number="+8613123456701",
            body="<img src=x onerror=alert(1)> 请回电",
        )
        db.session.add(text)
        db.session.flush()
        lifecycle.record_contact(
            db.session, lifecycle.get_case(db.session, number), kind="sms_in", sms_id=text.id
        )
        db.session.commit()
    sign_in(client, operator)
    body = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt; 请回电" in body
    assert "<img src=x" not in body
