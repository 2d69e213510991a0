"""The operators' live queue console and the operator administration page.

Blueprint `queue_console`:
- `queue_console.queue_page` (GET /console/queue): the live queue; its script polls
  GET /console/api/queue every second and posts the operator's actions to /console/api/...
  (JSON; the CSRF token travels in the X-CSRFToken header).
- `queue_console.operators_page` (GET /console/admin/operators, admins only): accounts, roles,
  phones, password resets.

Everything callers said or typed and every name is sent as JSON data and written into the page
with textContent, never as HTML.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.db import db
from hotline.i18n import t
from hotline.lines.models import Line
from hotline.operators import presence
from hotline.operators.auth import end_sessions, hash_password, password_problem, role_required
from hotline.operators.models import Operator, Presence, Role
from hotline.phone import InvalidNumber, mask, normalise
from hotline.queue import connect, service
from hotline.queue.connect import QueueActionError
from hotline.queue.forms import OperatorCreateForm, OperatorUpdateForm, PasswordResetForm
from hotline.queue.models import QueueEntry, QueueStatus
from hotline.timeutil import utcnow

bp = Blueprint(
    "queue_console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/queue",
)

#: Rows the live queue shows (the counts above it include everyone).
MAX_ROWS = 200
#: How often the console asks for the queue (the issue wants changes on screen within 3 s).
POLL_MILLISECONDS = 1000

PRIORITY_LABELS = {
    service.Priority.URGENT: ("紧急", "Urgent"),
    service.Priority.CALLBACK: ("回电", "Callback"),
    service.Priority.OLDER: ("长者", "Older caller"),
    service.Priority.NORMAL: ("普通", "Normal"),
}
PRIORITY_REASON_LABELS = {
    "emergency": ("选择了紧急求助", "chose emergency help"),
    "callback": ("我们回电后接通", "answered our callback"),
    "older_caller": ("登记的长者来电", "registered older caller"),
    "normal": ("", ""),
}
REASON_LABELS = {
    "key_0": ("要人工服务", "asked for a person"),
    "chosen": ("菜单选择", "menu choice"),
    "silence_twice": ("两次没有按键", "silent twice"),
    "invalid_twice": ("两次按错", "wrong key twice"),
    "loop_cap": ("在菜单里绕圈", "went round the menus"),
    "straight_to_person": ("直接转人工", "straight to a person"),
    "callback": ("回电", "callback"),
}
LANGUAGE_LABELS = {
    "zh-CN": ("普通话", "Mandarin"),
    "yue-HK": ("粤语", "Cantonese"),
    "en-US": ("英语", "English"),
}
SCENARIO_LABELS = {
    "emergency": ("紧急情况", "Emergency"),
    "travel": ("出行", "Travel"),
    "medical": ("就医", "Medical"),
    "consumption": ("缴费购物", "Payments"),
    "culture": ("文体活动", "Culture"),
    "affairs": ("办事", "Public services"),
    "smart_devices": ("智能设备", "Smart devices"),
    "other": ("其他", "Other"),
}
PRESENCE_LABELS = {
    Presence.AVAILABLE: ("空闲", "Available"),
    Presence.BUSY: ("通话中", "On a call"),
    Presence.WRAP_UP: ("整理中", "Wrap-up"),
    Presence.AWAY: ("暂离", "Away"),
    Presence.OFFLINE: ("离线", "Offline"),
}
KEYS_ONLY = re.compile(r"^[0-9*#\s]*$")


def _label(table: dict, key, default: str = "") -> str:
    pair = table.get(key)
    return t(*pair) if pair else default


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _said(call: Call | None) -> str:
    """The last thing the caller said in the menus (keys are not interesting here)."""
    for step in reversed((call.menu_path or []) if call else []):
        heard = step.get("input") if isinstance(step, dict) else None
        if isinstance(heard, str) and heard and not KEYS_ONLY.match(heard):
            return heard[:200]
    return ""


def _earlier_cases(caller_ids: set[int]) -> dict[int, int]:
    """How many cases each caller already has."""
    if not caller_ids:
        return {}
    from hotline.cases.models import Case

    rows = db.session.execute(
        select(Case.caller_id, func.count())
        .where(Case.caller_id.in_(caller_ids))
        .group_by(Case.caller_id)
    )
    return {caller_id: count for caller_id, count in rows}


def _operator_name(operator_id: int | None) -> str:
    if operator_id is None:
        return ""
    operator = db.session.get(Operator, operator_id)
    return (operator.display_name or operator.username) if operator else ""


def entry_json(
    entry: QueueEntry,
    *,
    now: datetime,
    position: int | None = None,
    cases: dict[int, int] | None = None,
    full_number: bool = False,
    repeat_callers: set[int] | None = None,
) -> dict:
    """One caller as the console shows them (plain data; the page writes it as text)."""
    caller = db.session.get(Caller, entry.caller_id) if entry.caller_id else None
    call = db.session.get(Call, entry.call_id)
    line = db.session.get(Line, entry.line_id)
    number = caller.phone_number if caller else (call.from_number if call else "")
    name = (caller.display_name or caller.name) if caller else ""
    return {
        "id": entry.id,
        "position": position,
        "status": entry.status.value,
        "waited_seconds": max(0, int((now - entry.enqueued_at).total_seconds())),
        "arrived_at": _iso(entry.arrived_at),
        "line": line.name if line else "",
        "language": entry.language,
        "language_label": _label(LANGUAGE_LABELS, entry.language, entry.language),
        "priority": entry.priority,
        "priority_label": _label(PRIORITY_LABELS, entry.priority),
        "priority_reason": entry.priority_reason,
        "priority_reason_label": _label(PRIORITY_REASON_LABELS, entry.priority_reason),
        "reason_label": _label(REASON_LABELS, entry.reason, entry.reason),
        "scenario_label": _label(SCENARIO_LABELS, entry.scenario) if entry.scenario else "",
        "caller_name": name,
        "caller_number": number if full_number else mask(number),
        "is_older_caller": bool(caller and caller.is_older_caller),
        "is_hard_of_hearing": bool(caller and caller.is_hard_of_hearing),
        "earlier_cases": (cases or {}).get(entry.caller_id, 0) if entry.caller_id else 0,
        "is_repeat_caller": bool(entry.caller_id and entry.caller_id in (repeat_callers or set())),
        "said": _said(call),
        "preferred_operator": _operator_name(entry.preferred_operator_id),
        "requeue_count": entry.requeue_count,
    }


def _repeat_callers(caller_ids: set[int], now: datetime) -> set[int]:
    """Callers who rang often lately (the cases feature's rule), in one query."""
    if not caller_ids:
        return set()
    from hotline.callers.service import repeat_caller_ids

    return repeat_caller_ids(db.session, caller_ids, now)


def _case_url(entry: QueueEntry) -> str | None:
    """The case screen for this entry's call (opens or continues the caller's case)."""
    call = db.session.get(Call, entry.call_id)
    if call is None or "cases.case_for_call" not in current_app.view_functions:
        return None
    return url_for("cases.case_for_call", call_sid=call.call_sid)


def _current_json(entry: QueueEntry, operator_id: int, now: datetime) -> dict:
    caller_ids = {entry.caller_id} if entry.caller_id else set()
    data = entry_json(
        entry,
        now=now,
        cases=_earlier_cases(caller_ids),
        full_number=True,
        repeat_callers=_repeat_callers(caller_ids, now),
    )
    data["case_url"] = _case_url(entry)
    is_target = entry.transfer_operator_id == operator_id
    data.update(
        state=entry.status.value,
        is_on_hold=entry.is_on_hold,
        is_transfer_target=is_target,
        operator=_operator_name(entry.operator_id),
        connected_seconds=int((now - entry.connected_at).total_seconds())
        if entry.connected_at
        else 0,
        transfer=(
            {
                "operator": _operator_name(entry.transfer_operator_id),
                "joined": entry.is_transfer_joined,
            }
            if entry.transfer_operator_id is not None
            else None
        ),
    )
    return data


def console_state(operator_id: int) -> dict:
    """Everything the queue console shows, for one operator."""
    session = db.session
    me = presence.heartbeat(session, operator_id)
    assert me is not None
    now = utcnow()
    waiting = service.waiting_entries(session, limit=MAX_ROWS)
    # Load every caller, call and line of the page in three queries (entry_json then finds them
    # in the session instead of asking the database once per row, every second, for every
    # operator). The lists are kept until the rows are built: the session only holds weak
    # references, so objects nobody refers to would be gone again by the time they are needed.
    caller_ids = {e.caller_id for e in waiting if e.caller_id}
    page_callers = (
        list(session.scalars(select(Caller).where(Caller.id.in_(caller_ids)))) if caller_ids else []
    )
    page_calls = (
        list(session.scalars(select(Call).where(Call.id.in_([e.call_id for e in waiting]))))
        if waiting
        else []
    )
    page_lines = list(
        session.scalars(select(Line).where(Line.id.in_({e.line_id for e in waiting})))
    )
    cases = _earlier_cases(caller_ids)
    repeat_callers = _repeat_callers(caller_ids, now)
    positions: dict[int, int] = {}
    rows = []
    for entry in waiting:
        positions[entry.line_id] = positions.get(entry.line_id, 0) + 1
        data = entry_json(
            entry,
            now=now,
            position=positions[entry.line_id],
            cases=cases,
            repeat_callers=repeat_callers,
        )
        data["is_reserved_for_other"] = connect.is_reserved_for_someone_else(
            session, entry, operator_id, now
        )
        rows.append(data)
    del page_callers, page_calls, page_lines
    current = connect.active_entry(session, operator_id)
    wrap_up = None
    if me.presence == Presence.WRAP_UP:
        last = session.scalar(
            select(QueueEntry)
            .where(
                QueueEntry.operator_id == operator_id, QueueEntry.status == QueueStatus.COMPLETED
            )
            .order_by(QueueEntry.ended_at.desc())
            .limit(1)
        )
        wrap_up = {"caller_name": "", "ended_at": None}
        if last is not None:
            done = entry_json(last, now=now)
            wrap_up = {
                "caller_name": done["caller_name"],
                "ended_at": _iso(last.ended_at),
                "entry_id": last.id,
                "case_url": _case_url(last),
            }
    colleagues = [
        {"id": op.id, "name": op.display_name or op.username}
        for op in session.scalars(
            select(Operator)
            .where(
                Operator.id != operator_id,
                Operator.is_active,
                Operator.presence == Presence.AVAILABLE,
                Operator.phone_number.is_not(None),
            )
            .order_by(Operator.display_name)
        )
        if presence.is_reachable(op)
    ]
    return {
        "now": now.isoformat(),
        "me": {
            "id": me.id,
            "presence": me.presence.value,
            "presence_label": _label(PRESENCE_LABELS, me.presence),
            "has_phone": bool(me.phone_number),
        },
        "waiting": rows,
        "current": _current_json(current, operator_id, now) if current is not None else None,
        "wrap_up": wrap_up,
        "transfer_to": colleagues,
        "stats": service.live_snapshot(session),
    }


# --------------------------------------------------------------------------- pages


def _browser_calling_available() -> bool:
    if not connect.browser_calling_configured():
        return False
    return bool(
        db.session.scalar(
            select(func.count()).select_from(Line).where(Line.is_browser_calling_enabled)
        )
    )


@bp.get("/queue")
@role_required(Role.OPERATOR)
def queue_page():
    """The live queue."""
    return render_template(
        "queue/queue.html",
        poll_ms=POLL_MILLISECONDS,
        browser_calling=_browser_calling_available(),
        voice_sdk_url=current_app.config.get("TWILIO_VOICE_SDK_URL"),
        strings=_js_strings(),
    )


def _js_strings() -> dict[str, str]:
    """Fixed console wording for the script, in the operator's language."""
    return {
        "take": t("接听", "Take"),
        "take_label": t("接听这位来电者:{name}", "Take this caller: {name}"),
        "unknown": t("未登记姓名", "name not known"),
        "seconds": t("{n} 秒", "{n} s"),
        "minutes": t("{m} 分 {s} 秒", "{m} min {s} s"),
        "cases": t("以前的工单:{n}", "earlier cases: {n}"),
        "repeat": t("近期多次来电", "called often lately"),
        "said": t("说过:", "said: "),
        "for_other": t("留给 {name}", "kept for {name}"),
        "for_me": t("留给您", "kept for you"),
        "new_caller": t("有新的来电者在等待!", "A new caller is waiting!"),
        "connecting": t("正在拨打您的电话,请接听……", "Ringing your phone, please answer…"),
        "connecting_browser": t("请在浏览器里接听……", "Answer in the browser…"),
        "connected": t("通话中", "Connected"),
        "on_hold": t("保持中(来电者在等候)", "On hold (the caller is waiting)"),
        "transfer_ringing": t("正在转接给 {name}……", "Ringing {name} for the transfer…"),
        "transfer_joined": t("{name} 已加入通话", "{name} has joined the call"),
        "transferred_to_you": t("转接来电,由 {name} 转来", "Transferred to you by {name}"),
        "error": t("出错了,请再试一次。", "Something went wrong. Please try again."),
        "offline": t("连接中断,正在重试……", "Connection lost, retrying…"),
        "nobody": t("现在没有人在等待。", "Nobody is waiting right now."),
        "waiting_count": t("{n} 人等待", "{n} waiting"),
        "longest": t("最长等待 {w}", "longest wait {w}"),
        "available_ops": t("空闲坐席 {n} 人", "{n} operators available"),
        "requeued": t("重新排队 {n} 次", "back in the queue {n}×"),
        "older": t("长者", "older caller"),
        "hard_of_hearing": t("听力不好", "hard of hearing"),
    }


# --------------------------------------------------------------------------- JSON API


def _ok(**extra):
    return jsonify(ok=True, **extra)


def _refused(error: QueueActionError):
    status = 409 if error.code in ("taken", "busy", "empty", "transfer_busy") else 400
    if error.code == "telephony":
        status = 502
    return jsonify(ok=False, code=error.code, error=t(error.zh, error.en)), status


@bp.get("/api/queue")
@role_required(Role.OPERATOR)
def api_queue():
    """The live queue and the operator's own state (polled)."""
    response = jsonify(console_state(current_user.id))
    response.headers["Cache-Control"] = "no-store"
    return response


def _via() -> str:
    return "browser" if request.form.get("via") == "browser" else "phone"


@bp.post("/api/queue/take-next")
@role_required(Role.OPERATOR)
def api_take_next():
    """Take the caller who has waited at the highest priority."""
    try:
        entry = connect.take(db.session, current_user.id, via=_via())
    except QueueActionError as error:
        return _refused(error)
    return _ok(entry_id=entry.id)


@bp.post("/api/queue/<int:entry_id>/take")
@role_required(Role.OPERATOR)
def api_take(entry_id: int):
    """Take this caller (if nobody was quicker)."""
    try:
        entry = connect.take(db.session, current_user.id, entry_id=entry_id, via=_via())
    except QueueActionError as error:
        return _refused(error)
    return _ok(entry_id=entry.id)


@bp.post("/api/queue/<int:entry_id>/<action>")
@role_required(Role.OPERATOR)
def api_call_action(entry_id: int, action: str):
    """hold, resume, hangup, transfer (to=operator id), hand-over, cancel-transfer."""
    session, me = db.session, current_user.id
    try:
        if action == "hold":
            connect.set_hold(session, entry_id, me, on_hold=True)
        elif action == "resume":
            connect.set_hold(session, entry_id, me, on_hold=False)
        elif action == "hangup":
            connect.hang_up(session, entry_id, me)
        elif action == "transfer":
            try:
                target = int(request.form.get("to", ""))
            except ValueError:
                raise QueueActionError("target_unavailable") from None
            connect.transfer(session, entry_id, me, to_operator_id=target)
        elif action == "hand-over":
            connect.hand_over(session, entry_id, me)
        elif action == "cancel-transfer":
            connect.cancel_transfer(session, entry_id, me)
        else:
            return jsonify(ok=False, error="unknown action"), 404
    except QueueActionError as error:
        return _refused(error)
    return _ok()


@bp.post("/api/presence")
@role_required(Role.OPERATOR)
def api_presence():
    """Available or away, chosen by the operator."""
    try:
        wanted = Presence(request.form.get("presence", ""))
    except ValueError:
        wanted = None
    if wanted not in presence.CHOOSABLE:
        return jsonify(ok=False, error="presence must be available or away"), 400
    on_call = connect.active_entry(db.session, current_user.id) is not None
    if not presence.choose(db.session, current_user.id, wanted, on_call=on_call):
        return jsonify(
            ok=False, error=t("通话中不能更改状态。", "You cannot change this during a call.")
        ), 409
    return _ok()


@bp.post("/api/wrap-up/done")
@role_required(Role.OPERATOR)
def api_wrap_up_done():
    """Wrap-up finished: ready for the next caller."""
    connect.finish_wrap_up(db.session, current_user.id)
    return _ok()


@bp.get("/api/voice-token")
@role_required(Role.OPERATOR)
def api_voice_token():
    """An access token for the Voice JS SDK in this operator's browser."""
    if not connect.browser_calling_configured():
        return jsonify(
            ok=False, error=t("浏览器接听没有配置。", "Browser calling is not configured.")
        ), 404
    return _ok(
        token=connect.voice_access_token(current_user.id),
        identity=connect.operator_identity(current_user.id),
    )


# --------------------------------------------------------------------------- administration


def _admin_redirect():
    return redirect(url_for("queue_console.operators_page"))


@bp.get("/admin/operators")
@role_required(Role.ADMIN)
def operators_page():
    """Console accounts: roles, phones, sign-in, passwords."""
    operators = list(
        db.session.scalars(select(Operator).order_by(Operator.role, Operator.username))
    )
    return render_template(
        "queue/operators.html",
        operators=operators,
        create_form=OperatorCreateForm(),
        update_form=OperatorUpdateForm,
        reset_form=PasswordResetForm(),
        presence_label=lambda p: _label(PRESENCE_LABELS, p),
    )


def _phone(raw: str | None) -> str | None:
    if not raw or not raw.strip():
        return None
    return normalise(raw)


@bp.post("/admin/operators")
@role_required(Role.ADMIN)
def create_operator():
    """Create an account."""
    form = OperatorCreateForm()
    if not form.validate_on_submit():
        flash(
            t("请检查表格:", "Please check the form: ")
            + "; ".join(f"{name}: {', '.join(errors)}" for name, errors in form.errors.items()),
            "error",
        )
        return _admin_redirect()
    problem = password_problem(form.password.data)
    if problem:
        flash(problem, "error")
        return _admin_redirect()
    try:
        phone = _phone(form.phone_number.data)
    except InvalidNumber:
        flash(t("电话号码不对。", "That phone number is not valid."), "error")
        return _admin_redirect()
    db.session.add(
        Operator(
            username=form.username.data.strip(),
            display_name=(form.display_name.data or form.username.data).strip(),
            role=Role(form.role.data),
            phone_number=phone,
            console_language=form.console_language.data,
            password_hash=hash_password(form.password.data),
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash(t("这个用户名已经有人用了。", "That username is taken."), "error")
        return _admin_redirect()
    flash(t("账号已创建。", "Account created."), "success")
    return _admin_redirect()


@bp.post("/admin/operators/<int:operator_id>")
@role_required(Role.ADMIN)
def update_operator(operator_id: int):
    """Change name, role, phone, or whether the account may sign in."""
    operator = db.session.get(Operator, operator_id)
    form = OperatorUpdateForm()
    if operator is None or not form.validate_on_submit():
        flash(t("没有保存:请检查表格。", "Not saved: please check the form."), "error")
        return _admin_redirect()
    role = Role(form.role.data)
    if operator.id == current_user.id and (role != Role.ADMIN or not form.is_active.data):
        flash(
            t("不能取消自己的管理员权限或停用自己。", "You cannot demote or disable yourself."),
            "error",
        )
        return _admin_redirect()
    try:
        operator.phone_number = _phone(form.phone_number.data)
    except InvalidNumber:
        flash(t("电话号码不对。", "That phone number is not valid."), "error")
        return _admin_redirect()
    operator.display_name = (form.display_name.data or operator.username).strip()
    operator.role = role
    operator.is_active = bool(form.is_active.data)
    if not operator.is_active:
        presence.mark(operator, Presence.OFFLINE)
        end_sessions(operator)
    db.session.commit()
    flash(t("已保存。", "Saved."), "success")
    return _admin_redirect()


@bp.post("/admin/operators/<int:operator_id>/password")
@role_required(Role.ADMIN)
def reset_password(operator_id: int):
    """Set a new password for an account."""
    operator = db.session.get(Operator, operator_id)
    form = PasswordResetForm()
    if operator is None or not form.validate_on_submit():
        flash(t("没有保存:请检查表格。", "Not saved: please check the form."), "error")
        return _admin_redirect()
    problem = password_problem(form.password.data)
    if problem:
        flash(problem, "error")
        return _admin_redirect()
    operator.password_hash = hash_password(form.password.data)
    end_sessions(operator)
    db.session.commit()
    flash(t("密码已重置。", "Password reset."), "success")
    return _admin_redirect()
