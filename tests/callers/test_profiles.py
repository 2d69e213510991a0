"""Caller profiles: family consent rules, who may change preferences, repeat callers, flags,
merging two profiles of one person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hotline.callers import service as callers
from hotline.callers.models import Caller, CallerRestriction, FamilyContact
from hotline.cases import lifecycle
from hotline.cases.models import Case
from hotline.errors import ActionRefused, ConsentRequired, InvalidInput
from hotline.timeutil import utcnow

# --------------------------------------------------------------------------- consent


@pytest.fixture
def elder(make_caller):
    return make_caller(phone_number="+8613800138000", name="王秀英", is_older_caller=True)


def _daughter(session, elder, operator, **permissions):
    return callers.add_family_contact(
        session,
        elder,
        name="李丽",
        relation="女儿",
        phone_number="139 0013 9000",
        operator_id=operator,
        **permissions,
    )


def test_a_family_contact_without_consent_gets_nothing(session, elder, make_staff):
    operator = make_staff()
    _daughter(session, elder, operator, may_receive_alerts=True, may_change_profile=True)
    assert callers.consented_family_contacts(session, elder, "may_receive_alerts") == []
    with pytest.raises(ConsentRequired):
        callers.set_preferences(
            session,
            elder,
            source=callers.ChangeSource.FAMILY,
            family_contact_id=1,
            is_straight_to_person=True,
        )


def test_consent_puts_exactly_the_granted_permissions_in_force(
    session, elder, make_staff, audit_of
):
    operator = make_staff()
    daughter = _daughter(session, elder, operator, may_receive_alerts=True)
    callers.record_consent(session, daughter, method="elder_on_call", recorded_by=operator)
    assert callers.consented_family_contacts(session, elder, "may_receive_alerts") == [daughter]
    assert callers.consented_family_contacts(session, elder, "may_request_callbacks") == []
    assert callers.consented_family_contacts(session, elder, "may_change_profile") == []
    assert callers.consented_family_contacts(session, elder, "may_receive_alerts") == [daughter]
    consent = audit_of(session, "family_contact", daughter.id)[-1]
    assert consent.action == "consent_recorded" and consent.operator_id == operator
    assert consent.after["consent_method"] == "elder_on_call"
    with pytest.raises(ValueError):
        callers.consented_family_contacts(session, elder, "may_do_anything")


def test_only_the_elder_consents_recorded_by_an_operator_not_in_the_future(
    session, elder, make_staff
):
    operator = make_staff()
    daughter = _daughter(session, elder, operator, may_receive_alerts=True)
    with pytest.raises(InvalidInput, match="how the elder"):
        callers.record_consent(session, daughter, method="daughter_says_so", recorded_by=operator)
    with pytest.raises(InvalidInput, match="recorded by an operator"):
        callers.record_consent(session, daughter, method="elder_in_person", recorded_by=None)
    with pytest.raises(InvalidInput, match="future"):
        callers.record_consent(
            session,
            daughter,
            method="elder_in_person",
            recorded_by=operator,
            consented_at=utcnow() + timedelta(days=1),
        )
    assert not daughter.is_consented


def test_a_withdrawn_consent_ends_every_permission(session, elder, make_staff):
    operator = make_staff()
    daughter = _daughter(
        session,
        elder,
        operator,
        may_receive_alerts=True,
        may_request_callbacks=True,
        may_change_profile=True,
    )
    callers.record_consent(session, daughter, method="elder_in_writing", recorded_by=operator)
    callers.revoke_consent(session, daughter, operator_id=operator)
    for permission in ("may_receive_alerts", "may_request_callbacks", "may_change_profile"):
        assert callers.consented_family_contacts(session, elder, permission) == []
    with pytest.raises(ConsentRequired):
        callers.set_preferences(
            session, elder, source="family", family_contact_id=daughter.id, is_older_caller=False
        )


def test_a_consented_family_member_may_change_preferences_only_with_that_permission(
    session, elder, make_staff, make_caller, audit_of
):
    operator = make_staff()
    daughter = _daughter(session, elder, operator, may_receive_alerts=True)
    callers.record_consent(session, daughter, method="elder_on_call", recorded_by=operator)
    with pytest.raises(ConsentRequired, match="not consented"):
        callers.set_preferences(
            session,
            elder,
            source="family",
            family_contact_id=daughter.id,
            is_straight_to_person=True,
        )
    callers.set_family_permissions(session, daughter, operator_id=operator, may_change_profile=True)
    caller = callers.set_preferences(
        session, elder, source="family", family_contact_id=daughter.id, is_straight_to_person=True
    )
    assert caller.is_straight_to_person
    assert audit_of(session, "caller", elder)[-1].actor == f"family_contact:{daughter.id}"
    # Someone else's relative has no say over this elder.
    session.commit()
    other = make_caller(phone_number="+8613123456702")
    stranger = callers.add_family_contact(
        session,
        other,
        name="张三",
        phone_number="13700137000",
        operator_id=operator,
        may_change_profile=True,
    )
    callers.record_consent(session, stranger, method="elder_on_call", recorded_by=operator)
    with pytest.raises(ConsentRequired, match="not listed"):
        callers.set_preferences(
            session, elder, source="family", family_contact_id=stranger.id, is_older_caller=False
        )


def test_the_caller_and_the_operator_may_set_preferences(session, elder, make_staff, audit_of):
    callers.set_preferences(session, elder, source="caller", is_straight_to_person=True)
    assert audit_of(session, "caller", elder)[-1].actor == "caller"
    operator = make_staff()
    callers.set_preferences(
        session, elder, source="operator", operator_id=operator, is_hard_of_hearing=True
    )
    last = audit_of(session, "caller", elder)[-1]
    assert last.operator_id == operator and last.after == {"is_hard_of_hearing": True}


def test_an_operator_changing_preferences_for_a_family_member_needs_their_consent(
    session, elder, make_staff
):
    operator = make_staff()
    daughter = _daughter(session, elder, operator)
    caller = session.get(Caller, elder)
    with pytest.raises(ConsentRequired):
        callers.update_profile(
            session,
            caller,
            operator_id=operator,
            requested_by_family_id=daughter.id,
            is_straight_to_person=True,
        )
    # Fields that are not preferences are the operator's own business.
    callers.update_profile(
        session, caller, operator_id=operator, requested_by_family_id=daughter.id, district="朝阳区"
    )
    assert caller.district == "朝阳区"


def test_family_numbers_are_checked(session, elder, make_staff):
    operator = make_staff()
    with pytest.raises(InvalidInput, match="not a valid number"):
        callers.add_family_contact(
            session, elder, name="x", phone_number="12", operator_id=operator
        )
    with pytest.raises(InvalidInput, match="own number"):
        callers.add_family_contact(
            session, elder, name="x", phone_number="138 0013 8000", operator_id=operator
        )
    _daughter(session, elder, operator)
    with pytest.raises(InvalidInput, match="already"):
        callers.add_family_contact(
            session, elder, name="y", phone_number="+86 139 0013 9000", operator_id=operator
        )


# --------------------------------------------------------------------------- repeat callers


def test_three_calls_in_seven_days_make_a_repeat_caller(session, make_caller, make_call):
    caller = make_caller()
    other = make_caller(phone_number="+8613123456702")
    now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    make_call(caller, created_at=now - timedelta(days=8))  # too old
    make_call(caller, created_at=now - timedelta(days=6))
    make_call(caller, created_at=now - timedelta(hours=1), direction="outbound")  # a callback
    make_call(caller, created_at=now - timedelta(minutes=5))
    assert not callers.is_repeat_caller(session, caller, now)
    assert callers.recent_call_count(session, caller, now) == 2
    make_call(caller, created_at=now)
    assert callers.is_repeat_caller(session, caller, now)
    assert callers.is_repeat_caller(session, caller, now)
    assert not callers.is_repeat_caller(session, caller, now + timedelta(days=6, hours=1))
    assert callers.repeat_caller_ids(session, [caller, other, None], now) == {caller}
    assert not callers.is_repeat_caller(session, None, now)


def test_calls_from_a_merged_number_count_for_the_person(
    session, make_caller, make_call, make_staff
):
    mobile = make_caller(phone_number="+8613800138000")
    landline = make_caller(phone_number="+861062345678")
    now = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
    make_call(mobile, created_at=now - timedelta(days=1))
    make_call(landline, created_at=now - timedelta(days=2))
    make_call(landline, created_at=now - timedelta(days=3))
    assert not callers.is_repeat_caller(session, mobile, now)
    callers.merge_callers(session, keep_id=mobile, merge_id=landline, operator_id=make_staff())
    session.commit()
    make_call(landline, created_at=now - timedelta(hours=1))  # the alias still rings
    assert callers.is_repeat_caller(session, mobile, now)
    assert callers.is_repeat_caller(session, landline, now)


def test_the_case_screen_highlights_a_repeat_caller(
    client, sign_in, make_staff, make_caller, make_call, open_case
):
    caller = make_caller()
    for _ in range(3):
        make_call(caller)
    number = open_case(caller)
    sign_in(client, make_staff())
    body = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "多次来电" in body and "· 3" in body


# --------------------------------------------------------------------------- flags and merging


def test_a_flag_needs_a_reason_and_an_expiry_and_expires(session, elder, make_staff, audit_of):
    supervisor = make_staff()
    caller = session.get(Caller, elder)
    with pytest.raises(InvalidInput, match="reason"):
        callers.set_restriction(
            session,
            caller,
            kind="block",
            reason="",
            until=utcnow() + timedelta(days=1),
            operator_id=supervisor,
        )
    with pytest.raises(InvalidInput, match="future"):
        callers.set_restriction(
            session,
            caller,
            kind="block",
            reason="辱骂坐席",
            until=utcnow() - timedelta(days=1),
            operator_id=supervisor,
        )
    with pytest.raises(InvalidInput, match="180 days"):
        callers.set_restriction(
            session,
            caller,
            kind="block",
            reason="辱骂坐席",
            until=utcnow() + timedelta(days=400),
            operator_id=supervisor,
        )
    until = utcnow() + timedelta(days=30)
    callers.set_restriction(
        session, caller, kind="warn", reason="辱骂坐席", until=until, operator_id=supervisor
    )
    assert caller.restriction_in_force(utcnow()) == CallerRestriction.WARN
    assert caller.restriction_in_force(until + timedelta(seconds=1)) is None
    assert audit_of(session, "caller", elder)[-1].action == "restriction_set"
    callers.clear_restriction(session, caller, operator_id=supervisor)
    assert caller.restriction_in_force(utcnow()) is None


def test_merging_moves_everything_and_keeps_the_alias_recognisable(
    session, make_caller, make_call, make_staff, line_id, audit_of
):
    operator = make_staff()
    keep = make_caller(phone_number="+8613800138000", name="王秀英")
    merge = make_caller(
        phone_number="+861062345678",
        display_name="王阿姨",
        district="朝阳区",
        is_hard_of_hearing=True,
    )
    call_id, _ = make_call(merge)
    old_case = lifecycle.open_case(session, caller_id=merge, line_id=line_id, channel="call")
    contact = callers.add_family_contact(
        session, merge, name="李丽", phone_number="13900139000", operator_id=operator
    )
    session.commit()
    callers.merge_callers(session, keep_id=keep, merge_id=merge, operator_id=operator)
    session.commit()

    kept = session.get(Caller, keep)
    alias = session.get(Caller, merge)
    assert (kept.name, kept.display_name, kept.district) == ("王秀英", "王阿姨", "朝阳区")
    assert kept.is_hard_of_hearing
    assert alias.merged_into_id == keep and alias.phone_number == "+861062345678"
    assert alias.display_name == "王阿姨" and alias.is_hard_of_hearing, "the IVR still greets"
    assert alias.district == "" and alias.name == ""
    assert session.get(Case, old_case.id).caller_id == keep
    assert session.get(FamilyContact, contact.id).caller_id == keep
    from hotline.calls.models import Call

    assert session.get(Call, call_id).caller_id == keep
    # A new call from the old number continues the person's case.
    continued = lifecycle.open_or_continue_case(
        session, caller_id=merge, line_id=line_id, channel="call"
    )
    assert continued.id == old_case.id
    # A later profile change reaches the alias too (what the menu reads).
    callers.update_profile(session, kept, operator_id=operator, is_straight_to_person=True)
    assert alias.is_straight_to_person
    assert [e.action for e in audit_of(session, "caller", keep)][-2:] == [
        "merged_in",
        "profile_updated",
    ]
    with pytest.raises(ActionRefused):
        callers.merge_callers(session, keep_id=keep, merge_id=merge, operator_id=operator)
    with pytest.raises(ActionRefused):
        callers.merge_callers(session, keep_id=keep, merge_id=keep, operator_id=operator)


def test_merging_the_same_relative_twice_keeps_one_with_the_consent(
    session, make_caller, make_staff
):
    operator = make_staff()
    keep = make_caller(phone_number="+8613800138000")
    merge = make_caller(phone_number="+861062345678")
    callers.add_family_contact(
        session, keep, name="李丽", phone_number="13900139000", operator_id=operator
    )
    consented = callers.add_family_contact(
        session,
        merge,
        name="李丽",
        phone_number="13900139000",
        operator_id=operator,
        may_receive_alerts=True,
    )
    callers.record_consent(session, consented, method="elder_on_call", recorded_by=operator)
    session.commit()
    callers.merge_callers(session, keep_id=keep, merge_id=merge, operator_id=operator)
    session.commit()
    remaining = session.scalars(select(FamilyContact)).all()
    assert len(remaining) == 1 and remaining[0].caller_id == keep
    assert callers.consented_family_contacts(session, keep, "may_receive_alerts") == remaining


def test_profile_values_are_validated(session, elder, make_staff):
    from datetime import time

    caller = session.get(Caller, elder)
    operator = make_staff()
    with pytest.raises(InvalidInput):
        callers.update_profile(session, caller, operator_id=operator, speech_rate_percent=20)
    with pytest.raises(InvalidInput):
        callers.update_profile(
            session,
            caller,
            operator_id=operator,
            callback_window_start=time(18),
            callback_window_end=time(9),
        )
    with pytest.raises(InvalidInput):
        callers.update_profile(session, caller, operator_id=operator, age_band="teen")
    with pytest.raises(ValueError):
        callers.update_profile(session, caller, operator_id=operator, phone_number="+86")


def test_time_machine_works_with_the_repeat_rule(session, make_caller, make_call):
    caller = make_caller()
    with time_machine.travel(datetime(2026, 11, 29, 6, 0, tzinfo=UTC), tick=False):
        for _ in range(3):
            make_call(caller)
        assert callers.is_repeat_caller(session, caller, utcnow())


def test_find_caller_is_the_one_lookup_by_number(session, make_caller):
    caller_id = make_caller(phone_number="+8613123456709")
    assert callers.find_caller(session, "+8613123456709").id == caller_id
    assert callers.find_caller(session, "+8613123456708") is None
    # find_or_create_caller goes through it: the same profile, not a second one.
    assert callers.find_or_create_caller(session, "13123456709", "CN").id == caller_id
