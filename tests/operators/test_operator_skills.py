"""Operator administration edits the languages/dialects and lines an operator serves; a line's
"offer to anyone after N s" threshold is one of its settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.db import db
from hotline.lines.models import Line
from hotline.lines.settings import from_form, validate_line
from hotline.operators.forms import languages_text, parse_languages
from hotline.operators.models import Operator, Role
from tests.lines.conftest import signed_in, valid_form  # noqa: F401 - signed_in is a fixture
from tests.operator_queue.queue_support import *  # noqa: F403
from tests.operator_queue.queue_support import login, operator_of


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("", []),
        ("普通话, 粤语", ["zh-CN", "yue-HK"]),
        ("Cantonese、广东话;English", ["yue-HK", "en-US"]),
        ("上海话，普通话, 上海话", ["上海话", "zh-CN"]),
        (" zh-CN \n 温州话 ", ["zh-CN", "温州话"]),
    ],
)
def test_typed_languages_become_the_callers_codes_and_dialects_stay_as_written(typed, stored):
    assert parse_languages(typed) == stored


def test_stored_languages_read_back_as_typed():
    assert languages_text(["zh-CN", "yue-HK", "上海话"]) == "普通话, 粤语, 上海话"
    assert languages_text([]) == ""


def _lines(app) -> tuple[int, int]:
    """The app's line and a second one."""
    with app.app_context():
        main = db.session.scalar(select(Line.id).order_by(Line.id).limit(1))
        district = Line(key="district", name="区热线", phone_number="+861088880000")
        db.session.add(district)
        db.session.commit()
        return main, district.id


def test_admin_sets_an_operators_languages_and_lines(app, make_operator):
    main, district = _lines(app)
    make_operator("boss", role=Role.ADMIN)
    op_id = make_operator("chan", display_name="陈坐席")
    admin = app.test_client()
    login(admin, "boss")
    page = admin.get("/console/admin/operators").get_data(as_text=True)
    assert "都不选 = 所有线路" in page and f'id="line-{op_id}-{district}"' in page

    form = {"display_name": "陈坐席", "role": "operator", "phone_number": "", "is_active": "y"}
    saved = admin.post(
        f"/console/admin/operators/{op_id}",
        data={**form, "languages": "粤语, 普通话, 潮州话", "line_ids": [str(district)]},
    )
    assert saved.status_code == 302
    operator = operator_of(app, op_id)
    assert operator.languages == ["yue-HK", "zh-CN", "潮州话"]
    assert operator.line_ids == [district]
    page = admin.get("/console/admin/operators").get_data(as_text=True)
    assert 'value="粤语, 普通话, 潮州话"' in page
    assert f'id="line-{op_id}-{district}" checked' in page
    assert f'id="line-{op_id}-{main}" checked' not in page

    # An unknown line is refused; nothing changes.
    admin.post(f"/console/admin/operators/{op_id}", data={**form, "line_ids": ["999"]})
    assert operator_of(app, op_id).line_ids == [district]

    # Nothing ticked, nothing typed: every line, any language.
    admin.post(f"/console/admin/operators/{op_id}", data=form)
    operator = operator_of(app, op_id)
    assert operator.line_ids == [] and operator.languages == []


def test_new_operators_serve_every_line_in_any_language(app, make_operator):
    op_id = make_operator("fresh")
    with app.app_context():
        operator = db.session.scalar(select(Operator).where(Operator.id == op_id))
        assert operator.languages == [] and operator.line_ids == []


SCRIPTS = {"main": ["zh-CN", "en-US", "yue-HK"]}


def test_the_line_threshold_is_validated_and_kept_when_a_form_leaves_it_out(session):
    def check(line=None, **changes):
        return validate_line(session, from_form(valid_form(**changes)), line=line, scripts=SCRIPTS)

    assert check(route_to_anyone_after_seconds="90").values["route_to_anyone_after_seconds"] == 90
    assert "route_to_anyone_after_seconds" in check(route_to_anyone_after_seconds="-1").errors
    assert "route_to_anyone_after_seconds" in check(route_to_anyone_after_seconds="x").errors
    result = check()  # a form from before the field existed: the default
    assert result.ok and result.values["route_to_anyone_after_seconds"] == 120
    line = Line(
        key="old", name="Old", phone_number="+861012340099", route_to_anyone_after_seconds=45
    )
    session.add(line)
    session.flush()
    assert check(line=line).values["route_to_anyone_after_seconds"] == 45


def test_the_line_page_edits_the_threshold(app, signed_in):  # noqa: F811 - the fixture
    client = signed_in(Role.ADMIN)
    with app.app_context():
        main = db.session.scalar(select(Line).where(Line.key == "main"))
        main_id, number = main.id, main.phone_number
    page = client.get(f"/console/admin/lines/{main_id}").get_data(as_text=True)
    assert 'name="route_to_anyone_after_seconds" value="120"' in page
    assert "Offer to any operator after (seconds)" in page
    form = valid_form(phone_number=number, route_to_anyone_after_seconds="45")
    assert client.post(f"/console/admin/lines/{main_id}", data=form).status_code == 302
    with app.app_context():
        assert db.session.get(Line, main_id).route_to_anyone_after_seconds == 45
