"""The per-process line cache (hotline.lines.cache): a change made in one process is seen by
another on its next request. Two app instances on the same database stand in for two
processes: each has its own engine, so its own cache."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, select

from hotline.db import db
from hotline.lines import cache
from hotline.lines.models import Line, SettingsVersion
from hotline.lines.service import NoLineConfigured, add_override, find_line, save_line

from .test_statement_counts import counted

LINE_NUMBER = "+861012345678"


def _line_name(app) -> str:
    with app.app_context():
        return find_line(db.session, LINE_NUMBER, "CN").name


def test_a_line_changed_in_one_process_is_seen_by_the_other(app, make_app):
    other = make_app()
    assert _line_name(app) == _line_name(other) == "长者服务热线"  # both caches are warm
    with other.app_context():
        line = db.session.scalar(select(Line).where(Line.key == "main"))
        save_line(db.session, line, {"name": "新名字"}, operator_id=None, actor="test")
        db.session.commit()
    assert _line_name(app) == "新名字"
    assert _line_name(other) == "新名字"


def test_a_line_changed_outside_the_service_still_bumps_the_counter(app, make_app):
    other = make_app()
    _line_name(app)
    with other.app_context():
        before = db.session.scalar(select(SettingsVersion.version))
        db.session.scalar(select(Line)).max_wait_seconds = 600  # e.g. a script or the shell
        db.session.commit()
        assert db.session.scalar(select(SettingsVersion.version)) == before + 1
    with app.app_context():
        assert find_line(db.session, LINE_NUMBER, "CN").max_wait_seconds == 600


def test_a_calendar_override_is_seen_by_the_other_process(app, make_app):
    other = make_app()
    day = date(2026, 3, 4)  # a Wednesday: a working day nationally
    with app.app_context():
        line = find_line(db.session, LINE_NUMBER, "CN")
        assert cache.calendar_for(db.session, line).is_working_day(day)
    with other.app_context():
        add_override(
            db.session, line=None, day=day, is_working_day=False, note="台风", operator_id=None
        )
        db.session.commit()
    with app.app_context():
        line = find_line(db.session, LINE_NUMBER, "CN")
        assert not cache.calendar_for(db.session, line).is_working_day(day)


def test_a_warm_request_reads_only_the_counter(app):
    with app.app_context():
        cache.calendar_for(db.session, find_line(db.session, LINE_NUMBER, "CN"))
    with app.app_context(), counted() as reads:
        line = find_line(db.session, LINE_NUMBER, "CN")
        cache.calendar_for(db.session, line).is_open(datetime(2026, 3, 4, 3, tzinfo=UTC))
        assert cache.line_by_id(db.session, line.id) is line
    assert len(reads.statements) == 1 and "settings_version" in reads.statements[0]


def test_an_uncommitted_change_is_never_cached(app):
    with app.app_context():
        line = find_line(db.session, LINE_NUMBER, "CN")
        line.name = "未提交"
        db.session.flush()
        assert find_line(db.session, LINE_NUMBER, "CN").name == "未提交"
        db.session.rollback()
    with app.app_context():
        assert find_line(db.session, LINE_NUMBER, "CN").name == "长者服务热线"


def test_a_line_the_session_already_holds_stays_attached(app):
    """Filling the cache never detaches the caller's own Line instances."""
    with app.app_context():
        held = db.session.scalar(select(Line).where(Line.key == "main"))
        assert find_line(db.session, LINE_NUMBER, "CN") is held
        held.max_wait_seconds = 900
        db.session.commit()
    with app.app_context():
        assert find_line(db.session, LINE_NUMBER, "CN").max_wait_seconds == 900


def test_an_unflushed_edit_is_seen_in_its_own_transaction(app):
    """As the query the cache replaces would autoflush, a pending edit of a line counts."""
    with app.app_context():
        find_line(db.session, LINE_NUMBER, "CN")  # the cache is warm
    with app.app_context():
        find_line(db.session, LINE_NUMBER, "CN").is_active = False  # the only line; not flushed
        with pytest.raises(NoLineConfigured):
            find_line(db.session, LINE_NUMBER, "CN")
        db.session.rollback()
    with app.app_context():
        assert find_line(db.session, LINE_NUMBER, "CN").is_active


def test_a_missing_counter_row_is_recreated_by_the_next_change(app, make_app):
    other = make_app()
    with app.app_context():
        db.session.execute(delete(SettingsVersion))
        db.session.commit()
    assert _line_name(app) == "长者服务热线"
    with other.app_context():
        line = db.session.scalar(select(Line).where(Line.key == "main"))
        save_line(db.session, line, {"name": "又一个名字"}, operator_id=None, actor="test")
        db.session.commit()
    assert _line_name(app) == "又一个名字"


def test_a_webhook_reads_the_counter_with_its_lookup_and_sees_the_other_process(
    app, make_app, twilio
):
    """The webhook guard's lookup of an earlier answer also reads the settings counter: no
    statement of its own, and a line changed by another process is reloaded by the next
    webhook."""
    other = make_app()
    first = twilio.call_params(twilio.new_call_sid(), from_="+8613800000011")
    assert twilio.post("/twilio/voice", first).status_code == 200  # the cache is warm
    with other.app_context():
        line = db.session.scalar(select(Line).where(Line.key == "main"))
        save_line(db.session, line, {"name": "新名字"}, operator_id=None, actor="test")
        db.session.commit()
    second = twilio.call_params(twilio.new_call_sid(), from_="+8613800000012")
    with counted() as sent:
        assert twilio.post("/twilio/voice", second).status_code == 200
    assert not [s for s in sent.statements if s.startswith("SELECT settings_version")]
    with app.app_context():
        snapshot = cache._snapshots[db.engine]
        assert {row.name for row in snapshot.lines.values()} == {"新名字"}
