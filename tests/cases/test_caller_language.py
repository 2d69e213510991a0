"""The operator corrects the caller's language or dialect on the case: saved to the profile,
audited on the caller and the case, and routing uses it for the caller's next call."""

from __future__ import annotations

from hotline.callers.models import Caller
from hotline.db import db
from hotline.operators.models import Role
from hotline.queue import service
from tests import factories


def test_correcting_the_language_on_the_case_routes_the_next_call_by_it(
    app, client, sign_in, make_staff, make_caller, open_case, audit_of
):
    operator = make_staff(Role.OPERATOR, display_name="坐席 赵强")
    caller_id = make_caller(phone_number="+861055550101", language="zh-CN")
    number = open_case(caller_id, operator_id=operator)
    sign_in(client, operator)

    saved = client.post(f"/console/cases/{number}/caller-language", data={"language": "粤语"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#caller")
    page = client.get(f"/console/cases/{number}").get_data(as_text=True)
    assert "坐席更正" in page and 'value="yue-HK"' in page

    with app.app_context():
        caller = db.session.get(Caller, caller_id)
        # A language the menus speak becomes the menu language as well.
        assert (caller.routing_language, caller.language) == ("yue-HK", "yue-HK")
        on_caller = audit_of(db.session, "caller", caller_id)
        assert on_caller[-1].action == "language_corrected"
        assert on_caller[-1].operator_id == operator
        assert on_caller[-1].before == {"routing_language": None, "language": "zh-CN"}
        assert on_caller[-1].after == {"routing_language": "yue-HK", "language": "yue-HK"}
        on_case = [
            e for e in audit_of(db.session, "case") if e.action == "caller_language_corrected"
        ]
        assert len(on_case) == 1 and on_case[0].after["routing_language"] == "yue-HK"

        # The next call: the menu was in Mandarin, but the queue entry goes by the correction.
        line = factories.main_line(db.session)
        call = factories.make_call(
            db.session, line_id=line.id, caller_id=caller_id, language="zh-CN"
        )
        entry = service.enqueue(db.session, call, caller, reason="key_0")
        assert entry.language == "yue-HK"
        db.session.rollback()

    # A local dialect is kept as written; the menu language stays.
    client.post(f"/console/cases/{number}/caller-language", data={"language": "上海话"})
    with app.app_context():
        caller = db.session.get(Caller, caller_id)
        assert (caller.routing_language, caller.language) == ("上海话", "yue-HK")
    # Two at once is refused; empty removes the correction.
    refused = client.post(
        f"/console/cases/{number}/caller-language", data={"language": "粤语, 上海话"}
    )
    assert refused.status_code == 400
    client.post(f"/console/cases/{number}/caller-language", data={"language": ""})
    with app.app_context():
        assert db.session.get(Caller, caller_id).routing_language is None
