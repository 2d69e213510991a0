"""Line administration in the console (blueprint `lines_admin`): admins change, supervisors read.

GET  /console/admin/lines                       lines and what stops them from working
GET  /console/admin/lines/new, POST             a new line
GET  /console/admin/lines/<id>, POST            one line's settings
POST /console/admin/lines/<id>/recipients       who is told what
GET  /console/admin/lines/<id>/calendar         the month at a glance, holidays, overrides
POST /console/admin/lines/<id>/overrides        add a local override; .../<oid>/delete removes it

Each POST is an entry point: it validates (hotline.lines.settings, shared with the CLI),
changes nothing on an error (the form comes back with a message next to each field), and
commits once.
"""

from __future__ import annotations

import calendar as month_calendar
from datetime import date, timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from hotline.db import db
from hotline.i18n import t
from hotline.lines import service
from hotline.lines.calendar import LineCalendar, holiday_name, national_is_working_day
from hotline.lines.models import CalendarOverride, Line, LineRecipient
from hotline.lines.readiness import Problem, readiness_problems
from hotline.lines.settings import (
    WEEKDAY_LABELS,
    WEEKDAYS,
    current_text,
    defaults,
    from_form,
    hours_text,
    plain_phone,
    script_choices,
    validate_line,
)
from hotline.operators.auth import role_required
from hotline.operators.models import Operator, Role
from hotline.sms.models import AlertKind

bp = Blueprint(
    "lines_admin", __name__, url_prefix="/console/admin/lines", template_folder="templates"
)

#: Alert kinds a recipient may choose, with their labels.
ALERT_LABELS = {
    AlertKind.LONG_WAIT: ("等候过久", "Long wait"),
    AlertKind.SERVICE_LEVEL: ("服务水平偏低", "Service level low"),
    AlertKind.CALLBACKS_FAILING: ("回电失败", "Callbacks failing"),
    AlertKind.URGENT_CASE: ("紧急个案", "Urgent case"),
    AlertKind.OVERDUE_ESCALATION: ("上报逾期", "Escalation overdue"),
    AlertKind.CLOCK_SILENT: ("定时任务停止", "Clock silent"),
}


def current_readiness() -> list[Problem]:
    """The readiness problems of the running app (for /healthz and the admin home)."""
    scripts = current_app.extensions.get("hotline.ivr_scripts")
    valid = set(getattr(scripts, "scripts", {}) or {})
    return readiness_problems(
        db.session, valid_scripts=valid, region=current_app.config.get("DEFAULT_REGION", "CN")
    )


def _scripts() -> dict[str, list[str]]:
    return script_choices(current_app.config["IVR_SCRIPTS_DIR"])


def _line_or_404(line_id: int) -> Line:
    line = db.session.get(Line, line_id)
    if line is None:
        abort(404)
    return line


def _can_edit() -> bool:
    return current_user.has_role(Role.ADMIN)


@bp.get("")
@role_required(Role.SUPERVISOR)
def lines_page():
    """Every line at a glance, and what stops any of them from working."""
    lines = list(db.session.scalars(select(Line).order_by(Line.id)))
    return render_template(
        "lines/index.html",
        lines=lines,
        problems=current_readiness(),
        can_edit=_can_edit(),
        hours_text=hours_text,
    )


def _form_page(line: Line | None, text: dict[str, str], errors: dict[str, str], status=200):
    recipients = {}
    if line is not None:
        recipients = {
            r.operator_id: r
            for r in db.session.scalars(
                select(LineRecipient).where(LineRecipient.line_id == line.id)
            )
        }
    supervisors = list(
        db.session.scalars(
            select(Operator)
            .where(Operator.role.in_((Role.SUPERVISOR, Role.ADMIN)))
            .order_by(Operator.display_name)
        )
    )
    return (
        render_template(
            "lines/edit.html",
            line=line,
            text=text,
            errors=errors,
            scripts=_scripts(),
            weekdays=WEEKDAYS,
            weekday_labels=WEEKDAY_LABELS,
            can_edit=_can_edit(),
            supervisors=supervisors,
            recipients=recipients,
            alert_labels=ALERT_LABELS,
        ),
        status,
    )


@bp.get("/new")
@role_required(Role.ADMIN)
def new_line_page():
    """An empty form for a new line."""
    return _form_page(None, defaults(), {})


@bp.post("/new")
@role_required(Role.ADMIN)
def create_line():
    """Create a line, or show the form again with what to fix."""
    return _save(None)


@bp.get("/<int:line_id>")
@role_required(Role.SUPERVISOR)
def line_page(line_id: int):
    """One line's settings (read-only for supervisors)."""
    line = _line_or_404(line_id)
    return _form_page(line, current_text(line), {})


@bp.post("/<int:line_id>")
@role_required(Role.ADMIN)
def update_line(line_id: int):
    """Change a line, or show the form again with what to fix (nothing is changed)."""
    return _save(_line_or_404(line_id))


def _save(line: Line | None):
    raw = from_form(request.form)
    result = validate_line(
        db.session,
        raw,
        line=line,
        scripts=_scripts(),
        region=current_app.config.get("DEFAULT_REGION", "CN"),
    )
    if not result.ok:
        flash(t("没有保存:请看标出的栏目。", "Not saved: see the marked fields."), "error")
        shown = {**(current_text(line) if line else defaults()), **raw}
        return _form_page(line, shown, result.errors, status=422)
    saved = service.save_line(
        db.session, line, result.values, operator_id=current_user.id, actor=current_user.username
    )
    db.session.commit()
    flash(t("已保存,下一通电话起生效。", "Saved; it applies from the next call."), "success")
    return redirect(url_for("lines_admin.line_page", line_id=saved.id))


@bp.post("/<int:line_id>/recipients")
@role_required(Role.ADMIN)
def save_recipients(line_id: int):
    """Choose who gets this line's daily summary and which alerts, and their phones."""
    line = _line_or_404(line_id)
    people = list(
        db.session.scalars(select(Operator).where(Operator.role.in_((Role.SUPERVISOR, Role.ADMIN))))
    )
    region = current_app.config.get("DEFAULT_REGION", "CN")
    wanted: dict[int, tuple[bool, set[str]]] = {}
    phones: dict[int, str | None] = {}
    errors: dict[str, str] = {}
    for op in people:
        summary = request.form.get(f"summary_{op.id}") == "on"
        kinds = {k.value for k in AlertKind if request.form.get(f"alert_{op.id}_{k.value}") == "on"}
        if summary or kinds:
            wanted[op.id] = (summary, kinds)
        if f"phone_{op.id}" in request.form:
            try:
                phones[op.id] = plain_phone(request.form[f"phone_{op.id}"], region)
            except ValueError as exc:
                errors[f"phone_{op.id}"] = str(exc)
    if errors:
        flash(t("没有保存:请看标出的栏目。", "Not saved: see the marked fields."), "error")
        return _form_page(line, current_text(line), errors, status=422)
    service.set_recipient_phones(
        db.session, phones, operator_id=current_user.id, actor=current_user.username
    )
    service.set_recipients(
        db.session, line, wanted, operator_id=current_user.id, actor=current_user.username
    )
    db.session.commit()
    flash(t("通知对象已保存。", "Recipients saved."), "success")
    return redirect(url_for("lines_admin.line_page", line_id=line.id) + "#recipients")


def _month(raw: str | None) -> date:
    try:
        year, month = (int(p) for p in (raw or "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return date.today().replace(day=1)


@bp.get("/<int:line_id>/calendar")
@role_required(Role.SUPERVISOR)
def calendar_page(line_id: int):
    """The month at a glance: open or closed each day, its hours, holidays and overrides."""
    line = _line_or_404(line_id)
    first = _month(request.args.get("month"))
    cal = LineCalendar.load(db.session, line)
    weeks = []
    for week in month_calendar.Calendar().monthdatescalendar(first.year, first.month):
        weeks.append(
            [
                {
                    "day": day,
                    "in_month": day.month == first.month,
                    "hours": cal.hours_on(day),
                    "holiday": holiday_name(day),
                    "make_up": day.weekday() >= 5 and national_is_working_day(day),
                    "override": day in cal.overrides,
                }
                for day in week
            ]
        )
    year_days = _national_year(first.year)
    overrides = list(
        db.session.scalars(
            select(CalendarOverride)
            .where(or_(CalendarOverride.line_id.is_(None), CalendarOverride.line_id == line.id))
            .order_by(CalendarOverride.day)
        )
    )
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return render_template(
        "lines/calendar.html",
        line=line,
        first=first,
        weeks=weeks,
        year_days=year_days,
        overrides=overrides,
        previous=previous,
        following=following,
        hours_text=hours_text,
        can_edit=_can_edit(),
    )


def _national_year(year: int) -> list[tuple[date, str]]:
    """The year's public holidays and make-up working days (调休), in date order."""
    rows = []
    day = date(year, 1, 1)
    while day.year == year:
        name = holiday_name(day)
        if name:
            rows.append((day, name))
        elif day.weekday() >= 5 and national_is_working_day(day):
            rows.append((day, t("调休上班", "Make-up working day")))
        day += timedelta(days=1)
    return rows


@bp.post("/<int:line_id>/overrides")
@role_required(Role.ADMIN)
def add_override(line_id: int):
    """Close the line on a day, or open it on a holiday, with a note."""
    line = _line_or_404(line_id)
    try:
        day = date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        flash(t("日期要写成 2027-01-01。", "Write the date as 2027-01-01."), "error")
        return redirect(url_for("lines_admin.calendar_page", line_id=line.id))
    note = request.form.get("note", "").strip()
    if not note:
        flash(t("请写一句说明。", "Add a note saying why."), "error")
        return redirect(url_for("lines_admin.calendar_page", line_id=line.id))
    service.add_override(
        db.session,
        line=None if request.form.get("scope") == "all" else line,
        day=day,
        is_working_day=request.form.get("is_working_day") == "open",
        note=note,
        operator_id=current_user.id,
        actor=current_user.username,
    )
    db.session.commit()
    flash(t("已添加。", "Added."), "success")
    return redirect(url_for("lines_admin.calendar_page", line_id=line.id, month=f"{day:%Y-%m}"))


@bp.post("/<int:line_id>/overrides/<int:override_id>/delete")
@role_required(Role.ADMIN)
def delete_override(line_id: int, override_id: int):
    """Remove a local override (the national calendar applies again)."""
    line = _line_or_404(line_id)
    row = db.session.get(CalendarOverride, override_id)
    if row is None or row.line_id not in (None, line.id):
        abort(404)
    service.remove_override(
        db.session, row, operator_id=current_user.id, actor=current_user.username
    )
    db.session.commit()
    flash(t("已删除。", "Removed."), "success")
    return redirect(url_for("lines_admin.calendar_page", line_id=line.id))
