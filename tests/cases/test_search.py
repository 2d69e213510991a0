"""Search: a number in any format finds the same caller; name, case number and filters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from hotline.callers import service as callers_service
from hotline.cases import lifecycle, queries
from hotline.cases.queries import CaseFilters


def _numbers(session, **filters) -> list[str]:
    return [
        c.number for c in session.scalars(queries.search_cases(session, CaseFilters(**filters)))
    ]


@pytest.fixture
def two_callers(session, make_caller, line_id):
    wang = make_caller(phone_number="+8613800138000", name="王秀英", display_name="王阿姨")
    li = make_caller(phone_number="+8613900139000", name="李建国")
    wang_case = lifecycle.open_case(session, caller_id=wang, line_id=line_id, channel="call")
    li_case = lifecycle.open_case(session, caller_id=li, line_id=line_id, channel="call")
    session.commit()
    return {"wang": (wang, wang_case.number), "li": (li, li_case.number)}


NUMBER_FORMATS = [
    "138 0013 8000",
    "13800138000",
    "138-0013-8000",
    "+86 138 0013 8000",
    "+8613800138000",
    "0086 138 0013 8000",
    "008613800138000",
    "(+86) 138 0013 8000",
    "8000",
]


def test_any_way_of_writing_the_number_finds_the_same_caller(session, two_callers):
    for query in NUMBER_FORMATS:
        assert _numbers(session, q=query) == [two_callers["wang"][1]], query
        found = callers_service.find_callers(session, query)
        assert [c.id for c in found] == [two_callers["wang"][0]], query


def test_name_and_case_number(session, two_callers):
    assert _numbers(session, q="王阿姨") == [two_callers["wang"][1]]
    assert _numbers(session, q="建国") == [two_callers["li"][1]]
    assert _numbers(session, q=two_callers["li"][1]) == [two_callers["li"][1]]
    assert _numbers(session, q="nobody") == []
    assert _numbers(session, q="100%") == [], "wildcards in a query are literal"


def test_filters_by_scenario_status_operator_and_dates(session, make_caller, make_staff, line_id):
    operator = make_staff()
    with time_machine.travel(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), tick=False):
        november = lifecycle.open_case(
            session,
            caller_id=make_caller(),
            line_id=line_id,
            channel="call",
            scenario="medical",
            operator_id=operator,
        )
    with time_machine.travel(datetime(2026, 11, 20, 3, 0, tzinfo=UTC), tick=False):
        later = lifecycle.open_case(
            session, caller_id=None, line_id=line_id, channel="call", scenario="travel"
        )
        lifecycle.escalate(session, later, reason="需要协调公交公司", operator_id=None)
    session.commit()
    assert _numbers(session, scenario="medical") == [november.number]
    assert _numbers(session, status="escalated") == [later.number]
    assert _numbers(session, operator_id=operator) == [november.number]
    assert _numbers(session, date_from=date(2026, 11, 10)) == [later.number]
    assert _numbers(session, date_to=date(2026, 11, 10)) == [november.number]
    assert _numbers(session, date_from=date(2026, 11, 1), date_to=date(2026, 11, 1)) == [
        november.number
    ]


def test_a_merged_number_finds_the_persons_cases(session, make_caller, make_staff, line_id):
    keep = make_caller(phone_number="+8613800138000", name="王秀英")
    landline = make_caller(phone_number="+861062345678")
    old = lifecycle.open_case(session, caller_id=landline, line_id=line_id, channel="call")
    session.commit()
    callers_service.merge_callers(
        session, keep_id=keep, merge_id=landline, operator_id=make_staff()
    )
    session.commit()
    assert _numbers(session, q="010 6234 5678") == [old.number]
    assert [c.id for c in callers_service.find_callers(session, "010-62345678")] == [keep]


def test_the_case_list_page_searches_by_any_number_format(client, sign_in, make_staff, two_callers):
    sign_in(client, make_staff())
    page = client.get("/console/cases", query_string={"q": "0086 138 0013 8000"})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert two_callers["wang"][1] in body and two_callers["li"][1] not in body
    assert "+86*******8000" in body, "numbers are masked in the list"


def test_a_bad_date_gets_a_clear_message_in_both_languages(client, sign_in, make_staff):
    sign_in(client, make_staff())
    page = client.get("/console/cases", query_string={"date_from": "29/11/2026"})
    assert page.status_code == 400
    assert "日期格式不对" in page.get_data(as_text=True)
    sign_in(client, make_staff(), lang="en")
    page = client.get(
        "/console/cases", query_string={"date_from": "2026-11-29", "date_to": "2026-11-01"}
    )
    assert page.status_code == 400
    assert "The end date is before the start date." in page.get_data(as_text=True)
