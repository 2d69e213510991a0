"""The check-in programme in the console (blueprint `checkins`, under /console/checkins):
today's check-ins, an enrolment with the elder's history strip, enrol / pause / resume / stop,
and the 个案排查 report with its CSV; plus the history strip on the caller page (a caller panel).

Each handler loads, checks access, calls one domain function (hotline.checkins.service) and
commits once. Roles: operators see and do everything here except stopping an enrolment for
good (supervisors, like closing a case) and the report's personal columns (supervisors, like
the cases CSV).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from hotline.callers.models import Caller
from hotline.callers.views import current_operator_id, load_caller, register_panel
from hotline.cases.models import AuditEntry, Case
from hotline.checkins import cascade, export, forms, queries, service
from hotline.checkins.models import CheckinEnrolment, CheckinEpisode, EnrolmentStatus
from hotline.db import db
from hotline.directory.models import Volunteer
from hotline.errors import ActionRefused
from hotline.i18n import t
from hotline.lines.models import Line
from hotline.operators.auth import role_required
from hotline.operators.models import Operator, Role
from hotline.reports import metrics
from hotline.timeutil import console_timezone, local_day, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("checkins", __name__, url_prefix="/console/checkins", template_folder="templates")

#: Days in the history strip (four weeks: a pattern of misses shows at a glance).
STRIP_DAYS = 28


def init_app(app) -> None:
    """The history strip on every caller page; the missed check-in on its 失联 case."""
    register_panel(app, "caller", caller_panel)
    register_panel(app, "case", case_panel)


@bp.context_processor
def _helpers() -> dict:
    return {"local_time": _local_time, "minutes": export.minutes}


def _local_time(value: datetime | None, timezone: str, pattern: str = "%H:%M") -> str:
    return value.astimezone(ZoneInfo(timezone)).strftime(pattern) if value else ""


#: Words for the states and steps the pages show: value -> (中文, English).
LABELS = {
    # episode statuses
    "due": ("待呼叫", "Due"),
    "calling": ("呼叫中", "Calling"),
    "ok": ("平安", "OK"),
    "help": ("需要帮助", "Needed help"),
    "missed": ("未接通", "Missed"),
    "cascade": ("联络中", "In cascade"),
    "reached": ("已联系上", "Reached"),
    "unreachable": ("仍未联系上", "Not reached"),
    "canceled": ("已取消", "Canceled"),
    # strip states
    "pending": ("进行中", "In progress"),
    "none": ("无回访", "No check-in"),
    # cascade steps
    "volunteer_sms": ("已短信志愿者", "Volunteer texted"),
    "family_sms": ("已短信家人", "Family texted"),
    "case": ("已开失联工单", "Lost-contact case opened"),
    "supervisor": ("已告警值班负责人", "Supervisor alerted"),
    # who reached the elder
    "volunteer": ("志愿者", "volunteer"),
    "family": ("家人", "family"),
    "elder": ("老人来电", "the elder called"),
    "operator": ("坐席", "operator"),
    # enrolment statuses
    "active": ("进行中", "Active"),
    "paused": ("暂停", "Paused"),
    "stopped": ("已停止", "Stopped"),
}


def label(value) -> str:
    key = getattr(value, "value", value)
    zh, en = LABELS.get(key, (key, key))
    return t(zh, en)


# --------------------------------------------------------------------------- today


def _chosen_line(lines: list[Line]) -> Line:
    if not lines:
        abort(404)
    wanted = request.args.get("line", "")
    return next((ln for ln in lines if ln.key == wanted), lines[0])


@bp.get("/")
@role_required(Role.OPERATOR)
def today_page():
    """Today's check-ins of a line: open 失联 cases first (by deadline), then the cascade, the
    missed, those who needed help, those still to call, and the OK ones."""
    lines = metrics.active_lines(db.session)
    line = _chosen_line(lines)
    today = local_day(utcnow(), line.timezone)
    day = today
    if request.args.get("day"):
        try:
            day = date.fromisoformat(request.args["day"])
        except ValueError:
            abort(400)
    board = queries.today_board(db.session, line.id, day)
    # One reading of those still to call: the list below and the figures' "later today".
    scheduled = queries.scheduled_without_episode(db.session, line, day)
    return render_template(
        "checkins/today.html",
        lines=lines,
        line=line,
        day=day,
        today=today,
        board=board,
        scheduled=scheduled,
        figures=queries.day_figures(db.session, line, day, scheduled=scheduled),
        sections=queries.SECTIONS,
        label=label,
    )


@bp.post("/episodes/<int:episode_id>/close")
@role_required(Role.OPERATOR)
def close_episode(episode_id: int):
    """An operator reached a missed elder themselves (closes the day and its 失联 case), or
    records that they could not either (the case stays open)."""
    episode = db.session.get(CheckinEpisode, episode_id)
    if episode is None:
        abort(404)
    line = db.session.get(Line, episode.line_id)
    form = forms.CloseEpisodeForm()
    if not form.validate_on_submit():
        flash(t("没有记录,请重试。", "Nothing was recorded; please try again."), "error")
    elif episode.status not in queries.STILL_OPEN:
        flash(t("这一天的回访已经结束。", "This check-in is already closed."), "error")
    else:
        reached = form.reached.data == "1"
        cascade.close_by_operator(
            db.session, episode, operator_id=current_operator_id(), reached=reached
        )
        db.session.commit()
        flash(
            t("已记录:联系上老人。", "Recorded: the elder was reached.")
            if reached
            else t("已记录:仍联系不上。", "Recorded: still not reached."),
            "success",
        )
    case = db.session.get(Case, episode.case_id) if episode.case_id else None
    if request.form.get("back") == "case" and case is not None:
        return redirect(url_for("cases.case_page", number=case.number) + "#checkin-episode", 303)
    return redirect(url_for("checkins.today_page", line=line.key) + "#section-lost_contact", 303)


@bp.get("/enrolments")
@role_required(Role.OPERATOR)
def enrolments_page():
    """Every elder in the programme (active and paused; stopped ones on request)."""
    show_stopped = request.args.get("stopped") == "1"
    statuses = (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED) + (
        (EnrolmentStatus.STOPPED,) if show_stopped else ()
    )
    return render_template(
        "checkins/enrolments.html",
        rows=queries.enrolment_list(db.session, statuses),
        show_stopped=show_stopped,
        calendar_rules={value: (zh, en) for value, zh, en in forms.CALENDAR_RULES},
        weekdays=forms.WEEKDAYS,
        label=label,
    )


# --------------------------------------------------------------------------- one enrolment


def _load_enrolment(enrolment_id: int) -> CheckinEnrolment:
    enrolment = db.session.get(CheckinEnrolment, enrolment_id)
    if enrolment is None:
        abort(404)
    return enrolment


def _render_enrolment(enrolment: CheckinEnrolment, *, status: int = 200, **override_forms):
    session = db.session
    line = session.get(Line, enrolment.line_id)
    caller = session.get(Caller, enrolment.caller_id)
    page_forms = {
        "schedule_form": _schedule_form(enrolment, caller),
        "pause_form": forms.PauseForm(formdata=None),
        "resume_form": forms.EmptyForm(formdata=None),
        "stop_form": forms.StopForm(formdata=None),
    }
    page_forms.update(override_forms)
    trail = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "checkin_enrolment", AuditEntry.entity_id == enrolment.id)
        .order_by(AuditEntry.id.desc())
        .limit(50)
    ).all()
    volunteer = session.get(Volunteer, enrolment.volunteer_id) if enrolment.volunteer_id else None
    return (
        render_template(
            "checkins/enrolment.html",
            enrolment=enrolment,
            line=line,
            caller=caller,
            volunteer=volunteer,
            told_family=[
                c
                for c in queries.consented_family(session, caller.id)
                if enrolment.tells_family_contact(c.id)
            ],
            strip=queries.history_strip(
                session, caller.id, local_day(utcnow(), line.timezone), days=STRIP_DAYS
            ),
            episodes=queries.recent_episodes(session, enrolment.id),
            trail=trail,
            operators={o.id: o for o in session.scalars(select(Operator))},
            calendar_rules={value: (zh, en) for value, zh, en in forms.CALENDAR_RULES},
            consent_methods={value: (zh, en) for value, zh, en in forms.CONSENT_METHODS},
            label=label,
            **page_forms,
            **_schedule_options(page_forms["schedule_form"], caller),
        ),
        status,
    )


def _schedule_form(enrolment: CheckinEnrolment, caller: Caller, formdata=None):
    """The enrolment's schedule form, filled from the enrolment unless posted."""
    form = forms.ScheduleForm(
        formdata=formdata,
        data=None
        if formdata is not None
        else {
            "calendar_rule": enrolment.calendar_rule.value,
            "days_of_week": [str(d) for d in enrolment.days_of_week],
            "skip_public_holidays": enrolment.skip_public_holidays,
            "window_start": enrolment.window_start,
            "window_end": enrolment.window_end,
            "retry_minutes": enrolment.retry_minutes,
            "volunteer_id": str(enrolment.volunteer_id or ""),
            "family_contact_ids": [
                str(c.id)
                for c in queries.consented_family(db.session, caller.id)
                if enrolment.tells_family_contact(c.id)
            ],
        },
    )
    return _with_choices(form, caller)


@bp.get("/enrolments/<int:enrolment_id>")
@role_required(Role.OPERATOR)
def enrolment_page(enrolment_id: int):
    """One enrolment: schedule, consent, volunteer, family, the history strip, recent days."""
    return _render_enrolment(_load_enrolment(enrolment_id))


def _enrolment_action(enrolment_id: int, form, form_name: str, action, done: tuple[str, str]):
    enrolment = _load_enrolment(enrolment_id)
    if form.validate_on_submit():
        try:
            action(enrolment, form)
            db.session.commit()
            flash(t(*done), "success")
            return redirect(url_for("checkins.enrolment_page", enrolment_id=enrolment_id), 303)
        except ActionRefused as exc:
            db.session.rollback()
            form.form_errors.append(exc.message())
            enrolment = _load_enrolment(enrolment_id)
    return _render_enrolment(enrolment, status=400, **{form_name: form})


def _line_today(enrolment: CheckinEnrolment) -> date:
    line = db.session.get(Line, enrolment.line_id)
    return local_day(utcnow(), line.timezone)


@bp.post("/enrolments/<int:enrolment_id>/schedule")
@role_required(Role.OPERATOR)
def change_schedule(enrolment_id: int):
    """Change the days, window, retries, volunteer or whether the family is told."""
    enrolment = _load_enrolment(enrolment_id)
    caller = db.session.get(Caller, enrolment.caller_id)

    def action(enrolment, form):
        service.update_schedule(
            db.session,
            enrolment,
            operator_id=current_operator_id(),
            calendar_rule=form.calendar_rule.data,
            days_of_week=[int(d) for d in form.days_of_week.data or ()],
            skip_public_holidays=form.skip_public_holidays.data,
            window_start=form.window_start.data,
            window_end=form.window_end.data,
            retry_minutes=form.retry_minutes.data,
            volunteer_id=int(form.volunteer_id.data),
            **_chosen_family(form),
        )

    return _enrolment_action(
        enrolment_id,
        _schedule_form(enrolment, caller, formdata=request.form),
        "schedule_form",
        action,
        ("回访安排已更改。", "Schedule changed."),
    )


@bp.post("/enrolments/<int:enrolment_id>/pause")
@role_required(Role.OPERATOR)
def pause(enrolment_id: int):
    """Pause through a date (calls resume the day after)."""

    def action(enrolment, form):
        today = _line_today(enrolment)
        if form.until.data < today:
            form.until.errors = [
                t("暂停的结束日期不能早于今天。", "The pause cannot end before today.")
            ]
            raise ActionRefused("请更正暂停日期。", "Please correct the pause's end date.")
        service.pause(
            db.session,
            enrolment,
            until=form.until.data,
            reason=form.reason.data or "",
            operator_id=current_operator_id(),
            today=today,
        )

    return _enrolment_action(
        enrolment_id, forms.PauseForm(), "pause_form", action, ("回访已暂停。", "Check-ins paused.")
    )


@bp.post("/enrolments/<int:enrolment_id>/resume")
@role_required(Role.OPERATOR)
def resume(enrolment_id: int):
    """End a pause now."""

    def action(enrolment, form):
        service.resume(db.session, enrolment, operator_id=current_operator_id())

    return _enrolment_action(
        enrolment_id,
        forms.EmptyForm(),
        "resume_form",
        action,
        ("回访已恢复。", "Check-ins resumed."),
    )


@bp.post("/enrolments/<int:enrolment_id>/stop")
@role_required(Role.SUPERVISOR)
def stop(enrolment_id: int):
    """Stop for good (supervisors)."""

    def action(enrolment, form):
        service.stop(
            db.session,
            enrolment,
            reason=form.reason.data,
            operator_id=current_operator_id(),
            today=_line_today(enrolment),
        )

    return _enrolment_action(
        enrolment_id, forms.StopForm(), "stop_form", action, ("回访已停止。", "Check-ins stopped.")
    )


# --------------------------------------------------------------------------- enrol


def _with_choices(form: forms.ScheduleForm, caller: Caller) -> forms.ScheduleForm:
    """The volunteer choices (the active roster, the elder's district first) and the family
    choices (the contacts whose consent to alerts is recorded)."""
    roster = queries.volunteer_roster(db.session, caller.district)
    form.volunteer_id.choices = forms.choices(
        [("", "")]
        + [(str(v.id), f"{v.name} · {v.district}" if v.district else v.name) for v in roster]
    )
    family = queries.consented_family(db.session, caller.id)
    form.family_contact_ids.choices = forms.choices([(str(c.id), c.name) for c in family])
    return form


def _chosen_family(form: forms.ScheduleForm) -> dict:
    """The service's family arguments from the form: told at all, and whom."""
    chosen = [int(i) for i in form.family_contact_ids.data or ()]
    return {"notify_family": bool(chosen), "family_contact_ids": chosen}


def _schedule_options(form: forms.ScheduleForm, caller: Caller) -> dict:
    """What the shared schedule fields need to render (checkins/_schedule_fields.html)."""
    return {
        "weekdays": forms.WEEKDAYS,
        "volunteer_options": [(c.value, c.label) for c in form.volunteer_id.choices],
        "rule_options": [(value, t(zh, en)) for value, zh, en in forms.CALENDAR_RULES],
        "family": queries.consented_family(db.session, caller.id),
    }


def _enrol_form(caller: Caller, lines: list[Line], formdata=None) -> forms.EnrolForm:
    form = forms.EnrolForm(formdata=formdata)
    form.line_id.choices = forms.choices([(str(ln.id), ln.name) for ln in lines])
    form = _with_choices(form, caller)
    if formdata is None:
        form.line_id.data = str(lines[0].id) if lines else None
        form.family_contact_ids.data = [c.value for c in form.family_contact_ids.choices]
    return form


def _render_enrol(caller: Caller, form: forms.EnrolForm, *, status: int = 200):
    return (
        render_template(
            "checkins/enrol.html",
            caller=caller,
            form=form,
            line_options=[(c.value, c.label) for c in form.line_id.choices],
            method_options=[("", "")]
            + [(value, t(zh, en)) for value, zh, en in forms.CONSENT_METHODS],
            enrolments=queries.live_enrolments(db.session, caller.id),
            label=label,
            **_schedule_options(form, caller),
        ),
        status,
    )


def _enrollable_caller(caller_id: int) -> Caller:
    caller = load_caller(caller_id)
    if caller.anonymised_at is not None or caller.merged_into_id is not None:
        abort(404)
    return caller


@bp.get("/enrol/<int:caller_id>")
@role_required(Role.OPERATOR)
def enrol_page(caller_id: int):
    """The enrolment form for one elder."""
    caller = _enrollable_caller(caller_id)
    return _render_enrol(caller, _enrol_form(caller, metrics.active_lines(db.session)))


@bp.post("/enrol/<int:caller_id>")
@role_required(Role.OPERATOR)
def enrol(caller_id: int):
    """Enrol the elder (their consent recorded); field errors in the viewer's language."""
    caller = _enrollable_caller(caller_id)
    form = _enrol_form(caller, metrics.active_lines(db.session), formdata=request.form)
    if form.validate_on_submit():
        consented_at = form.consented_at.data.astimezone(UTC)
        if consented_at > utcnow():
            form.consented_at.errors = [
                t("同意时间不能在将来。", "The consent cannot be dated in the future.")
            ]
        else:
            try:
                enrolment = service.enrol(
                    db.session,
                    caller_id=caller.id,
                    line_id=int(form.line_id.data),
                    window_start=form.window_start.data,
                    window_end=form.window_end.data,
                    consent_method=form.consent_method.data,
                    consented_at=consented_at,
                    consent_witness=form.consent_witness.data,
                    operator_id=current_operator_id(),
                    calendar_rule=form.calendar_rule.data,
                    days_of_week=[int(d) for d in form.days_of_week.data or ()],
                    skip_public_holidays=form.skip_public_holidays.data,
                    retry_minutes=form.retry_minutes.data,
                    volunteer_id=int(form.volunteer_id.data),
                    notes=form.notes.data or "",
                    **_chosen_family(form),
                )
                db.session.commit()
                flash(t("已加入关爱回访。", "Enrolled in check-ins."), "success")
                return redirect(
                    url_for("checkins.enrolment_page", enrolment_id=enrolment.id), code=303
                )
            except ActionRefused as exc:
                db.session.rollback()
                form.form_errors.append(exc.message())
    flash(t("表单有误,请按提示更正。", "The form has errors; please correct them."), "error")
    return _render_enrol(caller, form, status=400)


# --------------------------------------------------------------------------- the caller panel


def caller_panel(caller: Caller) -> Markup:
    """The elder's check-ins on their caller page: enrolments, the strip, enrol."""
    session = db.session
    enrolments = queries.enrolments_of(session, caller.id)
    today = local_day(utcnow(), console_timezone().key)
    strip = queries.history_strip(session, caller.id, today, days=STRIP_DAYS) if enrolments else []
    can_enrol = (
        caller.anonymised_at is None
        and caller.merged_into_id is None
        and not any(e.status != EnrolmentStatus.STOPPED for e in enrolments)
    )
    return Markup(
        render_template(
            "checkins/_caller_panel.html",
            caller=caller,
            enrolments=enrolments[:5],
            strip=strip,
            can_enrol=can_enrol,
            label=label,
        )
    )


def case_panel(case) -> Markup | str:
    """On a 失联 case opened by a missed check-in: that day's check-in and what was done."""
    row = queries.board_row_for_case(db.session, case.id)
    if row is None:
        return ""
    line = db.session.get(Line, row.episode.line_id)
    return Markup(
        render_template(
            "checkins/_case_panel.html",
            row=row,
            line=line,
            label=label,
            local_time=_local_time,
            is_open=row.episode.status in queries.STILL_OPEN,
        )
    )


# --------------------------------------------------------------------------- reports


def _report_period(form: forms.ReportForm) -> tuple[date, date, int]:
    today = utcnow().astimezone(console_timezone()).date()
    status = 200 if form.validate() else 400
    day_to = form.date_to.data or today
    day_from = form.date_from.data or (day_to - timedelta(days=29))
    if day_from > day_to:
        form.date_to.errors = [
            t("结束日期不能早于开始日期。", "The end date is before the start date.")
        ]
        day_from, day_to, status = day_to, day_to, 400
    return day_from, day_to, status


def _report(form: forms.ReportForm):
    day_from, day_to, status = _report_period(form)
    grouping = form.by.data if form.by.data in queries.GROUPINGS else "district"
    report = queries.checkin_report(db.session, grouping, day_from, day_to)
    return report, status


@bp.get("/reports")
@role_required(Role.OPERATOR)
def report_page():
    """个案排查 for check-ins: per district or per volunteer over a period."""
    form = forms.ReportForm(formdata=request.args)
    report, status = _report(form)
    is_personal = current_user.has_role(Role.SUPERVISOR)
    return (
        render_template(
            "checkins/report.html",
            form=form,
            report=report,
            is_personal=is_personal,
            missed_elders=export.most_missed,
            args=request.args.to_dict(),
        ),
        status,
    )


@bp.get("/reports.csv")
@role_required(Role.OPERATOR)
def report_csv():
    """The report as CSV; personal columns for supervisors only; audited."""
    form = forms.ReportForm(formdata=request.args)
    report, status = _report(form)
    if status != 200:
        flash(
            t("筛选条件有误,未导出。", "The filters are not valid; nothing was exported."), "error"
        )
        return redirect(url_for("checkins.report_page", **request.args.to_dict()), code=303)
    is_personal = current_user.has_role(Role.SUPERVISOR)
    body = export.export_report_csv(
        db.session, report, is_personal=is_personal, operator_id=current_operator_id()
    )
    db.session.commit()
    log.info(
        "operator %s exported the check-in report (personal=%s)", current_operator_id(), is_personal
    )
    name = f"checkins-{report.grouping}-{report.day_from:%Y%m%d}-{report.day_to:%Y%m%d}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
