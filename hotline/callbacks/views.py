"""Callbacks over HTTP: the console page (blueprint `callbacks`), thin. Twilio's callback-call
webhooks live with the voice orchestration (hotline.voice.callback_views).

Console: GET /console/callbacks (`callbacks.list_page`) lists pending callbacks; an operator can
call one now, reschedule it, cancel it with a reason, or schedule a new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from hotline.callbacks import service, texts
from hotline.callbacks.forms import CallNowForm, CancelForm, RescheduleForm, ScheduleForm
from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callers.forms import OUT_OF_RANGE
from hotline.callers.models import Caller, CallerRestriction
from hotline.calls.models import Call, CallDirection
from hotline.db import db
from hotline.i18n import current_language, t
from hotline.lines.models import Line
from hotline.operators.auth import role_required
from hotline.operators.models import Role
from hotline.phone import try_normalise
from hotline.schedule import is_stale, last_heartbeat
from hotline.timeutil import utcnow

bp = Blueprint("callbacks", __name__, template_folder="templates")


# --------------------------------------------------------------------------- console

REASON_LABELS = {
    CallbackReason.VIRTUAL_HOLD: ("排队时选择回电", "chose a callback while waiting"),
    CallbackReason.ABANDONED: ("排队时挂断", "hung up while waiting"),
    CallbackReason.VOICEMAIL: ("留言", "left a voicemail"),
    CallbackReason.OPERATOR: ("坐席安排", "scheduled by an operator"),
    CallbackReason.FOLLOW_UP: ("回访", "follow-up"),
    CallbackReason.SMS: ("短信要求回电", "asked by text"),
    CallbackReason.CHECK_IN: ("定期问候", "check-in call"),
    CallbackReason.FAMILY: ("家属代办要求回电", "asked for by family"),
}
STATUS_LABELS = {
    CallbackStatus.PENDING: ("等待回电", "waiting"),
    CallbackStatus.DIALING: ("正在拨打", "ringing"),
    CallbackStatus.CONNECTED: ("已接通,排队中", "answered, in the queue"),
    CallbackStatus.FAILED: ("未能联系上", "could not reach"),
    CallbackStatus.CANCELED: ("已取消", "canceled"),
    CallbackStatus.DONE: ("已完成", "done"),
    CallbackStatus.REFUSED: ("号码不允许拨打", "refused by the number policy"),
}


@dataclass(frozen=True)
class CallbackRow:
    """One callback as the console shows it."""

    callback: CallbackRequest
    who: str
    why: str
    status: str
    due: str
    arrived: str
    attempts: str
    last_outcome: str
    can_change: bool
    #: Why the number policy refused to dial it (refused callbacks only).
    refusal_reason: str = ""
    #: Why it was held beside the elder's check-in call (the line was closed), if it was.
    held_reason: str = ""


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")


def _rows(callbacks: list[CallbackRequest]) -> list[CallbackRow]:
    session = db.session
    lines = {line.id: line for line in session.scalars(select(Line)).all()}
    caller_ids = {c.caller_id for c in callbacks if c.caller_id}
    callers = (
        {c.id: c for c in session.scalars(select(Caller).where(Caller.id.in_(caller_ids))).all()}
        if caller_ids
        else {}
    )
    language = current_language()
    rows = []
    for callback in callbacks:
        line = lines.get(callback.line_id)
        zone = line.timezone if line else "Asia/Shanghai"
        caller = callers.get(callback.caller_id) if callback.caller_id else None
        name = (caller.display_name or caller.name) if caller else ""
        reason = t(*REASON_LABELS[callback.reason])
        rows.append(
            CallbackRow(
                callback=callback,
                who=f"{name} {callback.phone_number}".strip(),
                why=f"{reason}: {callback.note}" if callback.note else reason,
                status=t(*STATUS_LABELS[callback.status]),
                due=_local(callback.due_at, zone),
                arrived=_local(callback.original_arrival_at, zone),
                attempts=f"{callback.attempts}/{callback.max_attempts}",
                last_outcome=texts.outcome_label(callback.last_outcome, language),
                can_change=callback.status == CallbackStatus.PENDING,
                refusal_reason=callback.refusal_reason or "",
                held_reason=callback.held_reason or "",
            )
        )
    return rows


#: How far back the page lists calls from blocked callers, and how many at most.
BLOCKED_CALLS_DAYS = 7
BLOCKED_CALLS_MAX = 50


@dataclass(frozen=True)
class BlockedCallRow:
    """A call from a blocked caller: it owes no automatic callback, so an operator judges it."""

    who: str
    called: str
    message: str
    #: The block's reason and end, for supervisors only (operators see that a block applies).
    block: str


def _blocked_calls(*, show_reason: bool) -> list[BlockedCallRow]:
    """Recent calls that met a block (voicemail, no queue place), newest first."""
    session = db.session
    since = utcnow() - timedelta(days=BLOCKED_CALLS_DAYS)
    found = session.execute(
        select(Call, Caller)
        .join(Caller, Call.caller_id == Caller.id)
        .where(
            Caller.restriction == CallerRestriction.BLOCK,
            Call.direction == CallDirection.INBOUND,
            Call.created_at >= since,
        )
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(BLOCKED_CALLS_MAX * 4)
    ).all()
    lines = {line.id: line for line in session.scalars(select(Line)).all()}
    rows = []
    for call, caller in found:
        if not call.met_a_block:
            continue  # called before the block, or after it lapsed: an ordinary call
        line = lines.get(call.line_id) if call.line_id else None
        zone = line.timezone if line else "Asia/Shanghai"
        if call.recording_url:
            seconds = call.recording_duration_seconds or 0
            message = t(f"留言 {seconds} 秒(在工单里)", f"voicemail, {seconds} s (on the case)")
        else:
            message = t("没有留言", "no message")
        block = ""
        if show_reason:
            until = _local(caller.restriction_until, zone) or t("不限期", "no end")
            block = t(
                f"{caller.restriction_reason or '-'}(至 {until})",
                f"{caller.restriction_reason or '-'} (until {until})",
            )
        rows.append(
            BlockedCallRow(
                who=f"{caller.label} {caller.phone_number}".strip(),
                called=_local(call.created_at, zone),
                message=message,
                block=block,
            )
        )
        if len(rows) == BLOCKED_CALLS_MAX:
            break
    return rows


@bp.get("/console/callbacks")
@role_required(Role.OPERATOR)
def list_page():
    """Pending callbacks (who, why, when due, attempts, last outcome), the failed ones, and for
    supervisors the ones the number policy refused (with the reason)."""
    session = db.session
    refused = _rows(service.recently_refused(session)) if current_user.is_supervisor else None
    heartbeat = last_heartbeat(session)
    zone = current_app.config["HOTLINE_TIMEZONE"]
    return render_template(
        "callbacks/list.html",
        pending=_rows(service.pending_callbacks(session)),
        blocked_calls=_blocked_calls(show_reason=current_user.is_supervisor),
        failed=_rows(service.recently_failed(session)),
        refused=refused,
        heartbeat=heartbeat,
        heartbeat_local=_local(heartbeat.last_seen_at, zone) if heartbeat else "",
        heartbeat_age=int((utcnow() - heartbeat.last_seen_at).total_seconds()) if heartbeat else 0,
        clock_is_stale=is_stale(heartbeat),
        lines=session.scalars(select(Line).where(Line.is_active.is_(True))).all(),
        call_now_form=CallNowForm(),
        reschedule_form=RescheduleForm(),
        cancel_form=CancelForm(),
        schedule_form=ScheduleForm(),
    )


def _back():
    return redirect(url_for("callbacks.list_page"))


def _not_pending():
    flash(
        t(
            "这个回电正在拨打或已经结束,不能再修改。",
            "This callback is being dialled or has ended; it can no longer be changed.",
        ),
        "error",
    )
    return _back()


def _line_zone(callback_id: int) -> ZoneInfo:
    callback = db.session.get(CallbackRequest, callback_id)
    line = db.session.get(Line, callback.line_id) if callback else None
    return ZoneInfo(line.timezone if line else "Asia/Shanghai")


def _when_message(row: CallbackRequest) -> str:
    line = db.session.get(Line, row.line_id)
    due = _local(row.due_at, line.timezone if line else "Asia/Shanghai")
    if row.due_at <= utcnow():
        return t("马上回电。", "Calling shortly.")
    return t(f"将在 {due} 回电(回电时间段内)。", f"Will call at {due} (inside calling hours).")


@bp.post("/console/callbacks/<int:callback_id>/call-now")
@role_required(Role.OPERATOR)
def call_now(callback_id: int):
    """Make the callback due now; the clock places it (inside the calling window)."""
    if not CallNowForm().validate_on_submit():
        flash(t("表单已过期,请重试。", "The form expired; please try again."), "error")
        return _back()
    try:
        row = service.call_now(db.session, callback_id, operator_id=current_user.id)
        db.session.commit()
    except service.NotPending:
        return _not_pending()
    flash(_when_message(row), "success")
    return _back()


def _first_error(field) -> str | None:
    """A date out of the console's range says so (the other errors keep their message)."""
    return str(OUT_OF_RANGE) if str(OUT_OF_RANGE) in field.errors else None


@bp.post("/console/callbacks/<int:callback_id>/reschedule")
@role_required(Role.OPERATOR)
def reschedule(callback_id: int):
    """Move the callback to another time (kept inside the calling window)."""
    form = RescheduleForm()
    if not form.validate_on_submit():
        flash(
            _first_error(form.due_at) or t("请填写新的回电时间。", "Please give the new time."),
            "error",
        )
        return _back()
    due_at = form.due_at.data.replace(tzinfo=_line_zone(callback_id))
    try:
        row = service.reschedule_callback(
            db.session, callback_id, due_at=due_at, operator_id=current_user.id
        )
        db.session.commit()
    except service.NotPending:
        return _not_pending()
    flash(_when_message(row), "success")
    return _back()


@bp.post("/console/callbacks/<int:callback_id>/cancel")
@role_required(Role.OPERATOR)
def cancel(callback_id: int):
    """Cancel the callback; a reason is required."""
    form = CancelForm()
    if not form.validate_on_submit() or not form.reason.data.strip():
        flash(t("取消回电需要填写原因。", "Canceling a callback needs a reason."), "error")
        return _back()
    try:
        service.cancel_callback(
            db.session, callback_id, reason=form.reason.data, operator_id=current_user.id
        )
        db.session.commit()
    except service.NotPending:
        return _not_pending()
    flash(t("回电已取消。", "Callback canceled."), "success")
    return _back()


@bp.post("/console/callbacks/schedule")
@role_required(Role.OPERATOR)
def schedule():
    """An operator promises a callback (merged into any pending one for the same number)."""
    form = ScheduleForm()
    number = try_normalise(form.phone_number.data, current_app.config["DEFAULT_REGION"])
    line = db.session.scalar(
        select(Line)
        .where(Line.is_active.is_(True))
        .where(Line.id == request.form.get("line_id", type=int))
    ) or db.session.scalar(select(Line).where(Line.is_active.is_(True)).order_by(Line.id))
    if not form.validate_on_submit() or number is None or line is None:
        flash(
            _first_error(form.due_at)
            or t("请填写正确的电话号码。", "Please enter a valid phone number."),
            "error",
        )
        return _back()
    zone = ZoneInfo(line.timezone)
    due_at = form.due_at.data.replace(tzinfo=zone) if form.due_at.data else None
    caller = db.session.scalar(select(Caller).where(Caller.phone_number == number))
    row = service.request_callback(
        db.session,
        line_id=line.id,
        phone_number=number,
        reason=CallbackReason.OPERATOR,
        original_arrival_at=utcnow(),
        due_at=due_at,
        caller_id=caller.id if caller else None,
        requested_by_operator_id=current_user.id,
        language=caller.language if caller else None,
        note=(form.note.data or "").strip(),
    )
    db.session.commit()
    if row.status == CallbackStatus.REFUSED:
        flash(
            t("这个号码不允许拨打,没有安排回电:", "This number may not be called; no callback: ")
            + (row.refusal_reason or ""),
            "error",
        )
        return _back()
    flash(_when_message(row), "success")
    return _back()
