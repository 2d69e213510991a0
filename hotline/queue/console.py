"""The operators' live queue console (blueprint `queue_console`).

- `queue_console.queue_page` (GET /console/queue): the live queue; its script polls
  GET /console/api/queue every second and posts the operator's actions to /console/api/...
  (JSON; the CSRF token travels in the X-CSRFToken header). The account administration page
  lives in hotline.operators.admin.

Everything callers said or typed and every name is sent as JSON data and written into the page
with textContent, never as HTML.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select

from hotline.db import db
from hotline.i18n import t
from hotline.lines.models import Line
from hotline.operators import presence
from hotline.operators.auth import role_required
from hotline.operators.models import AwayReason, Presence, Role
from hotline.queue import board, connect
from hotline.queue.connect import QueueActionError

bp = Blueprint(
    "queue_console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/queue",
)

#: How often the console asks for the queue (the issue wants changes on screen within 3 s).
POLL_MILLISECONDS = 1000


def _case_url(call_sid: str) -> str | None:
    """The case screen for a call (opens or continues the caller's case), when cases exist."""
    if "cases.case_for_call" not in current_app.view_functions:
        return None
    return url_for("cases.case_for_call", call_sid=call_sid)


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
        away_reasons=[
            (reason.value, t(*presence.AWAY_REASON_LABELS[reason])) for reason in AwayReason
        ],
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
        "my_skills": t(
            "我的语言:{languages} · 我的线路:{lines}",
            "My languages: {languages} · my lines: {lines}",
        ),
        "next_for_me": t("下一位", "next for you"),
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
        "wrap_up_left": t("{s} 秒后自动结束整理", "Wrap-up ends by itself in {s} s"),
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
    state = board.console_state(current_user.id, case_url=_case_url)
    db.session.commit()  # the poll is the operator's presence heartbeat
    response = jsonify(state)
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
    db.session.commit()
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
    reason = None
    if wanted == Presence.AWAY:
        try:
            reason = AwayReason(request.form.get("reason") or AwayReason.OTHER.value)
        except ValueError:
            return jsonify(ok=False, error="reason must be meal, training or other"), 400
    on_call = connect.active_entry(db.session, current_user.id) is not None
    if not presence.choose(db.session, current_user.id, wanted, on_call=on_call, reason=reason):
        return jsonify(
            ok=False, error=t("通话中不能更改状态。", "You cannot change this during a call.")
        ), 409
    db.session.commit()
    return _ok()


@bp.post("/api/wrap-up/done")
@role_required(Role.OPERATOR)
def api_wrap_up_done():
    """Wrap-up finished: ready for the next caller."""
    connect.finish_wrap_up(db.session, current_user.id)
    db.session.commit()
    return _ok()


@bp.post("/api/wrap-up/extend")
@role_required(Role.OPERATOR)
def api_wrap_up_extend():
    """ "+60 s": the wrap-up ends a minute later."""
    until = presence.extend_wrap_up(db.session, current_user.id)
    if until is None:
        return jsonify(ok=False, error=t("现在不在整理中。", "You are not wrapping up now.")), 409
    db.session.commit()
    return _ok(until=until.isoformat())


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
