"""The case screen, case search and CSV export, escalations (困难上报), the scenario review
(个案排查), and a caller's data export and erasure (blueprint `cases`, under /console; the
caller profile itself is hotline.callers.views).

Each handler loads, checks access, calls one domain function and commits once: the domain
functions only flush, because other features call them inside their own transactions.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import and_, func, or_, select

from hotline.callbacks.models import CallbackReason, CallbackRequest, CallbackStatus
from hotline.callers import forms as callers_forms
from hotline.callers import service as callers_service
from hotline.callers import views as callers_views
from hotline.callers.models import Caller, FamilyContact
from hotline.calls.models import Call
from hotline.cases import export, followups, forms, lifecycle, privacy, queries, referrals
from hotline.cases.models import (
    AuditEntry,
    Case,
    CaseCallback,
    CaseContact,
    CaseStatus,
    Referral,
)
from hotline.db import db
from hotline.directory import service as directory_service
from hotline.errors import ActionRefused
from hotline.i18n import t
from hotline.operators.auth import role_required
from hotline.operators.models import Operator, Role
from hotline.timeutil import console_timezone, utcnow

log = logging.getLogger(__name__)

bp = Blueprint(
    "cases",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/cases-static",
)

PAGE_SIZE = 50


def init_app(app) -> None:
    """Defaults of this feature's settings (hotline/config.py reads the environment) and
    phone masking in the logs."""
    if app.config.get("CALLER_RETENTION_DAYS") is None:
        app.config["CALLER_RETENTION_DAYS"] = privacy.DEFAULT_RETENTION_DAYS
    if app.config.get("CASE_AUTO_CLOSE_DAYS") is None:
        app.config["CASE_AUTO_CLOSE_DAYS"] = 30
    if not app.config.get("TESTING"):
        privacy.install_log_masking()
    # Every inbound call that carried a request ends up on a case, even if nobody opened one:
    # subscribed to CallEnded in hotline.app.SUBSCRIPTIONS.


bp.context_processor(callers_views.template_helpers)


_me = callers_views.current_operator_id
_operators = callers_views.operators_by_id


def _load_case(number: str, *, for_update: bool = False) -> Case:
    case = lifecycle.get_case(db.session, number, for_update=for_update)
    if case is None:
        abort(404)
    return case


def _back(number: str, anchor: str = ""):
    return redirect(url_for("cases.case_page", number=number) + anchor, code=303)


def _may_change_escalated(case: Case) -> bool:
    """An escalated case is the supervisors' (and its assignee's) until they hand it back."""
    return (
        case.status != CaseStatus.ESCALATED
        or current_user.has_role(Role.SUPERVISOR)
        or case.escalation_assignee_id == _me()
    )


def _refuse_unless_may_change(case: Case) -> None:
    if not _may_change_escalated(case):
        raise ActionRefused(
            "这个工单已上报,由值班负责人处理;你可以继续添加备注。",
            "This case is escalated and with a supervisor; you can still add notes.",
        )


# --------------------------------------------------------------------------- case screen


def _case_forms(case: Case) -> dict:
    forms_ = {
        "scenario_form": forms.ScenarioForm(
            formdata=None, scenario=case.scenario, sub_topic=case.sub_topic
        ),
        "summary_form": forms.SummaryForm(formdata=None, summary=case.summary),
        "note_form": forms.NoteForm(formdata=None),
        "status_form": forms.StatusForm(formdata=None),
        "callback_form": forms.CallbackForm(formdata=None),
        "follow_up_form": forms.FollowUpForm(formdata=None, follow_up_at=case.follow_up_at),
        "referral_form": forms.ReferralForm(formdata=None),
        "escalate_form": forms.EscalateForm(formdata=None, is_urgent=case.is_urgent),
        "resolve_form": forms.ResolveForm(formdata=None),
        "reopen_form": forms.ReopenForm(formdata=None),
        "response_form": forms.ReferralResponseForm(formdata=None),
        "empty_form": forms.EmptyForm(formdata=None),
        "language_form": forms.CallerLanguageForm(formdata=None),
    }
    return forms_


def _render_case(case: Case, *, status: int = 200, **override_forms):
    session = db.session
    now = utcnow()
    caller = session.get(Caller, case.caller_id) if case.caller_id else None
    earlier = queries.earlier_cases(session, case)
    family = (
        session.scalars(
            select(FamilyContact)
            .where(FamilyContact.caller_id == caller.id)
            .order_by(FamilyContact.id)
        ).all()
        if caller
        else []
    )
    links = session.execute(
        select(CaseCallback, CallbackRequest)
        .join(CallbackRequest, CallbackRequest.id == CaseCallback.callback_id)
        .where(CaseCallback.case_id == case.id)
        .order_by(CaseCallback.id.desc())
    ).all()
    referrals = session.scalars(
        select(Referral).where(Referral.case_id == case.id).order_by(Referral.id.desc())
    ).all()
    # The case's own entries, and every playback of its calls' recordings and voicemails
    # (who listened, when: hotline.transfers.recordings.record_playback).
    case_calls = select(CaseContact.call_id).where(
        CaseContact.case_id == case.id, CaseContact.call_id.is_not(None)
    )
    trail = session.scalars(
        select(AuditEntry)
        .where(
            or_(
                and_(AuditEntry.entity == "case", AuditEntry.entity_id == case.id),
                and_(
                    AuditEntry.entity == "call",
                    AuditEntry.entity_id.in_(case_calls),
                    AuditEntry.action == "recording_played",
                ),
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(100)
    ).all()
    page_forms = _case_forms(case)
    page_forms.update(override_forms)
    return (
        render_template(
            "cases/case.html",
            case=case,
            caller=caller,
            is_repeat=callers_service.is_repeat_caller(session, case.caller_id, now),
            recent_calls=(
                callers_service.recent_call_count(session, case.caller_id, now)
                if case.caller_id
                else 0
            ),
            restriction=caller.restriction_in_force(now) if caller else None,
            family=family,
            earlier=earlier,
            earlier_notes=queries.latest_notes(session, [c.id for c in earlier]),
            history=queries.case_history(session, case),
            callbacks=links,
            referrals=referrals,
            roster=directory_service.roster_for_caller(session, case.caller_id),
            agencies=directory_service.agencies(session, active_only=True),
            trail=trail,
            operators=_operators(),
            handled_by=sorted(queries.case_operator_ids(session, case)),
            allowed={s.value for s in lifecycle.allowed_transitions(case)},
            may_change=_may_change_escalated(case),
            panels=callers_views.page_panels("case", case),
            **page_forms,
        ),
        status,
    )


@bp.get("/cases/<number>")
@role_required(Role.OPERATOR)
def case_page(number: str):
    """The operator's case screen."""
    return _render_case(_load_case(number))


@bp.get("/cases/for-call/<call_sid>")
@role_required(Role.OPERATOR)
def case_for_call_page(call_sid: str):
    """A button that opens the case of a taken call. Opening it changes data (a case, its
    owner, the call's link), so it is a POST; this page only serves a GET that reached the
    address (an old bookmark, or the sign-in page sending the operator back)."""
    if db.session.scalar(select(Call.id).where(Call.call_sid == call_sid)) is None:
        abort(404)
    return render_template("cases/for_call.html", call_sid=call_sid)


@bp.post("/cases/for-call/<call_sid>")
@role_required(Role.OPERATOR)
def case_for_call(call_sid: str):
    """From a taken call to its case: opens or continues the caller's case, links the call,
    and shows the case screen. Taking the same call again lands on the same case."""
    call = db.session.scalar(select(Call).where(Call.call_sid == call_sid))
    if call is None:
        abort(404)
    if not forms.EmptyForm().validate_on_submit():
        abort(400)
    try:
        case = lifecycle.case_for_call(db.session, call, operator_id=_me())
        db.session.commit()
    except ActionRefused as exc:
        db.session.rollback()
        flash(exc.message(), "error")
        return redirect(url_for("cases.list_page"), code=303)
    return _back(case.number)


def _case_action(number: str, form_cls, form_name: str, action, done: tuple[str, str], anchor=""):
    """Validate `form_cls`, run `action(case, form)`, commit; or show the page with the errors.

    An action may return a (中文, English) warning: what was done is kept (committed) and the
    warning is shown instead of `done` (a callback refused by the number policy is recorded,
    but it was not scheduled).
    """
    case = _load_case(number, for_update=True)
    form = form_cls()
    if form.validate_on_submit():
        try:
            warning = action(case, form)
            db.session.commit()
            if warning:
                flash(t(*warning), "error")
            else:
                flash(t(*done), "success")
            return _back(number, anchor)
        except ActionRefused as exc:
            db.session.rollback()
            form.form_errors.append(exc.message())
            flash(exc.message(), "error")
        case = _load_case(number)
    return _render_case(case, status=400, **{form_name: form})


@bp.post("/cases/<number>/scenario")
@role_required(Role.OPERATOR)
def set_scenario(number: str):
    def action(case, form):
        _refuse_unless_may_change(case)
        lifecycle.set_scenario(
            db.session,
            case,
            scenario=form.scenario.data,
            sub_topic=form.sub_topic.data or "",
            operator_id=_me(),
        )

    return _case_action(
        number,
        forms.ScenarioForm,
        "scenario_form",
        action,
        ("场景已保存。", "Scenario saved."),
        "#scenario",
    )


@bp.post("/cases/<number>/caller-language")
@role_required(Role.OPERATOR)
def correct_caller_language(number: str):
    """The operator corrects the caller's language or dialect: routing uses it next time."""

    def action(case, form):
        if case.caller_id is None:
            raise ActionRefused("这个工单没有来电人资料。", "This case has no caller profile.")
        callers_service.correct_language(
            db.session,
            case.caller_id,
            form.language.data or "",
            operator_id=_me(),
            case_id=case.id,
        )

    return _case_action(
        number,
        forms.CallerLanguageForm,
        "language_form",
        action,
        (
            "来电人的语言已更正,下次来电按它分配坐席。",
            "Caller's language corrected: routing uses it next time.",
        ),
        "#caller",
    )


@bp.post("/cases/<number>/summary")
@role_required(Role.OPERATOR)
def save_summary(number: str):
    def action(case, form):
        lifecycle.update_summary(
            db.session, case, summary=form.summary.data or "", operator_id=_me()
        )

    return _case_action(
        number,
        forms.SummaryForm,
        "summary_form",
        action,
        ("摘要已保存。", "Summary saved."),
        "#summary",
    )


@bp.post("/cases/<number>/notes")
@role_required(Role.OPERATOR)
def add_note(number: str):
    def action(case, form):
        lifecycle.add_note(db.session, case, text=form.text.data, operator_id=_me())

    return _case_action(
        number, forms.NoteForm, "note_form", action, ("备注已添加。", "Note added."), "#notes"
    )


@bp.post("/cases/<number>/status")
@role_required(Role.OPERATOR)
def change_status(number: str):
    def action(case, form):
        _refuse_unless_may_change(case)
        lifecycle.change_status(
            db.session,
            case,
            form.status.data,
            operator_id=_me(),
            waiting_on=form.waiting_on.data or None,
        )

    return _case_action(
        number,
        forms.StatusForm,
        "status_form",
        action,
        ("状态已更新。", "Status updated."),
        "#status",
    )


@bp.post("/cases/<number>/take")
@role_required(Role.OPERATOR)
def take_case(number: str):
    def action(case, form):
        _refuse_unless_may_change(case)
        lifecycle.set_owner(db.session, case, owner_id=_me(), operator_id=_me())

    return _case_action(
        number,
        forms.EmptyForm,
        "empty_form",
        action,
        ("这个工单现在由你负责。", "You now own this case."),
    )


@bp.post("/cases/<number>/callback")
@role_required(Role.OPERATOR)
def schedule_callback(number: str):
    def action(case, form):
        callback = followups.schedule_callback(
            db.session,
            case,
            due_at=form.due_at.data,
            operator_id=_me(),
            note=form.note.data or "",
            reason=CallbackReason.OPERATOR,
        )
        if callback.status == CallbackStatus.REFUSED:
            log.info(
                "callback %s from case %s refused: %s",
                callback.id,
                case.number,
                callback.refusal_reason,
            )
            return (
                f"这个号码不能回电:{callback.refusal_reason}。已记录,值班负责人可以看到。",
                f"This number cannot be called back: {callback.refusal_reason}. Recorded for the supervisors.",
            )
        log.info("callback %s scheduled from case %s", callback.id, case.number)
        return None

    return _case_action(
        number,
        forms.CallbackForm,
        "callback_form",
        action,
        ("回电已安排。", "Callback scheduled."),
        "#callbacks",
    )


@bp.post("/cases/<number>/follow-up")
@role_required(Role.OPERATOR)
def set_follow_up(number: str):
    def action(case, form):
        followups.set_follow_up(
            db.session, case, follow_up_at=form.follow_up_at.data, operator_id=_me()
        )

    return _case_action(
        number,
        forms.FollowUpForm,
        "follow_up_form",
        action,
        ("回访日期已保存。", "Follow-up date saved."),
        "#callbacks",
    )


@bp.post("/cases/<number>/referral")
@role_required(Role.OPERATOR)
def refer(number: str):
    def action(case, form):
        referrals.refer_case(
            db.session,
            case,
            target_kind=form.target_kind.data,
            target_name=form.target_name.data,
            target_number=form.target_number.data,
            reason=form.reason.data,
            operator_id=_me(),
            volunteer_id=form.volunteer_id.data,
            agency_id=form.agency_id.data,
        )

    return _case_action(
        number,
        forms.ReferralForm,
        "referral_form",
        action,
        ("已记录转介。", "Referral recorded."),
        "#referrals",
    )


@bp.post("/cases/<number>/referrals/<int:referral_id>/response")
@role_required(Role.OPERATOR)
def referral_response(number: str, referral_id: int):
    def action(case, form):
        referral = db.session.get(Referral, referral_id)
        if referral is None or referral.case_id != case.id:
            abort(404)
        referrals.record_referral_response(
            db.session,
            referral,
            is_accepted=form.response.data == "accepted",
            response_text=form.response_text.data or "",
            operator_id=_me(),
        )

    return _case_action(
        number,
        forms.ReferralResponseForm,
        "response_form",
        action,
        ("已记录答复。", "Answer recorded."),
        "#referrals",
    )


@bp.post("/cases/<number>/escalate")
@role_required(Role.OPERATOR)
def escalate(number: str):
    def action(case, form):
        lifecycle.escalate(
            db.session,
            case,
            reason=form.reason.data,
            operator_id=_me(),
            is_urgent=bool(form.is_urgent.data),
        )

    return _case_action(
        number,
        forms.EscalateForm,
        "escalate_form",
        action,
        ("已上报值班负责人。", "Escalated to the supervisors."),
        "#status",
    )


@bp.post("/cases/<number>/resolve")
@role_required(Role.OPERATOR)
def resolve(number: str):
    def action(case, form):
        _refuse_unless_may_change(case)
        lifecycle.resolve(
            db.session,
            case,
            outcome=form.outcome.data,
            note=form.note.data or "",
            operator_id=_me(),
        )

    return _case_action(
        number,
        forms.ResolveForm,
        "resolve_form",
        action,
        ("工单已解决。", "Case resolved."),
        "#status",
    )


@bp.post("/cases/<number>/reopen")
@role_required(Role.OPERATOR)
def reopen(number: str):
    def action(case, form):
        lifecycle.reopen(db.session, case, operator_id=_me(), reason=form.reason.data or "")

    return _case_action(
        number,
        forms.ReopenForm,
        "reopen_form",
        action,
        ("工单已重新打开。", "Case reopened."),
        "#status",
    )


@bp.post("/cases/<number>/close")
@role_required(Role.SUPERVISOR)
def close(number: str):
    def action(case, form):
        lifecycle.close(db.session, case, operator_id=_me())

    return _case_action(
        number, forms.EmptyForm, "empty_form", action, ("工单已关闭。", "Case closed."), "#status"
    )


@bp.post("/callers/<int:caller_id>/cases")
@role_required(Role.OPERATOR)
def new_case(caller_id: int):
    """Open a new case for a caller from their profile (e.g. a walk-in or a family request)."""
    caller = db.session.get(Caller, caller_id)
    if caller is None or caller.anonymised_at is not None:
        abort(404)
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    case = lifecycle.open_case(
        db.session,
        caller_id=callers_service.effective_caller_id(db.session, caller_id),
        line_id=None,
        channel="operator",
        operator_id=_me(),
    )
    db.session.commit()
    flash(t(f"已新建工单 {case.number}。", f"Case {case.number} opened."), "success")
    return _back(case.number)


# --------------------------------------------------------------------------- list, search, export


def _search_form() -> forms.CaseSearchForm:
    form = forms.CaseSearchForm(formdata=request.args)
    form.operator.choices = forms.choices(
        [("", "")] + [(str(o.id), o.display_name or o.username) for o in _operators().values()]
    )
    return form


def _filters(form: forms.CaseSearchForm) -> queries.CaseFilters:
    return queries.CaseFilters(
        q=form.q.data or "",
        scenario=form.scenario.data or "",
        status=form.status.data or "",
        operator_id=int(form.operator.data) if form.operator.data else None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        is_overdue=request.args.get("overdue") == "1",
    )


@bp.get("/cases")
@role_required(Role.OPERATOR)
def list_page():
    """Search cases by number (any format), name, case number, scenario, status, operator, dates."""
    form = _search_form()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    cases, total, callers = [], 0, {}
    status = 200
    if form.validate():
        statement = queries.search_cases(db.session, _filters(form))
        total = db.session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        cases = db.session.scalars(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
        ids = {c.caller_id for c in cases if c.caller_id}
        callers = {
            c.id: c for c in db.session.scalars(select(Caller).where(Caller.id.in_(ids or [-1])))
        }
    else:
        status = 400
    now = utcnow()
    repeat = callers_service.repeat_caller_ids(db.session, callers.keys(), now)
    args = request.args.to_dict()
    args.pop("page", None)
    return (
        render_template(
            "cases/list.html",
            form=form,
            cases=cases,
            total=total,
            page=page,
            pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
            callers=callers,
            repeat=repeat,
            operators=_operators(),
            args=args,
            now=now,
        ),
        status,
    )


@bp.get("/cases/export.csv")
@role_required(Role.OPERATOR)
def export_csv():
    """The filtered cases as CSV; personal columns for supervisors only; audited."""
    form = _search_form()
    if not form.validate():
        flash(
            t("筛选条件有误,未导出。", "The filters are not valid; nothing was exported."), "error"
        )
        return redirect(url_for("cases.list_page", **request.args.to_dict()), code=303)
    is_personal = current_user.has_role(Role.SUPERVISOR)
    body, rows = export.export_cases_csv(
        db.session, _filters(form), is_personal=is_personal, operator_id=_me()
    )
    db.session.commit()
    log.info("operator %s exported %s cases (personal=%s)", _me(), rows, is_personal)
    stamp = utcnow().astimezone(console_timezone()).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="cases-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------- escalations, review


@bp.get("/cases/escalations")
@role_required(Role.SUPERVISOR)
def escalations_page():
    """困难上报: escalated cases, overdue first, to assign and give a deadline."""
    now = utcnow()
    cases = db.session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.ESCALATED)
        .order_by(Case.escalation_deadline_at.is_(None), Case.escalation_deadline_at, Case.id)
    ).all()
    recently_handled = db.session.scalars(
        select(Case)
        .where(Case.escalated_at.is_not(None), Case.status != CaseStatus.ESCALATED)
        .order_by(Case.last_activity_at.desc())
        .limit(20)
    ).all()
    operators = _operators()
    assign_forms = {}
    for case in cases:
        form = forms.AssignEscalationForm(
            formdata=None,
            assignee_id=str(case.escalation_assignee_id or ""),
            deadline_at=case.escalation_deadline_at,
            prefix=f"c{case.id}",
        )
        form.assignee_id.choices = _assignee_choices(operators)
        assign_forms[case.id] = form
    callers = {
        c.id: c
        for c in db.session.scalars(
            select(Caller).where(Caller.id.in_({c.caller_id for c in cases if c.caller_id} or {-1}))
        )
    }
    return render_template(
        "cases/escalations.html",
        cases=cases,
        recently_handled=recently_handled,
        operators=operators,
        assign_forms=assign_forms,
        callers=callers,
        now=now,
        overdue=[c for c in cases if c.is_overdue(now)],
    )


def _assignee_choices(operators: dict[int, Operator]) -> list:
    return forms.choices(
        [("", "—")]
        + [(str(o.id), o.display_name or o.username) for o in operators.values() if o.is_active]
    )


@bp.post("/cases/<number>/escalation")
@role_required(Role.SUPERVISOR)
def assign_escalation(number: str):
    """A supervisor assigns an escalation and sets its deadline."""
    case = _load_case(number, for_update=True)
    form = forms.AssignEscalationForm(prefix=f"c{case.id}")
    form.assignee_id.choices = _assignee_choices(_operators())
    if form.validate_on_submit():
        try:
            lifecycle.assign_escalation(
                db.session,
                case,
                assignee_id=int(form.assignee_id.data) if form.assignee_id.data else None,
                deadline_at=form.deadline_at.data,
                operator_id=_me(),
            )
            db.session.commit()
            flash(t(f"工单 {number} 已分派。", f"Case {number} assigned."), "success")
        except ActionRefused as exc:
            db.session.rollback()
            flash(f"{number}: {exc.message()}", "error")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(f"{number}: {error}", "error")
    target = request.form.get("next") or ""
    if target == "case":
        return _back(number, "#status")
    return redirect(url_for("cases.escalations_page"), code=303)


@bp.get("/cases/review")
@role_required(Role.SUPERVISOR)
def review_page():
    """个案排查: cases per scenario and sub-topic over a period, with the open difficulties."""
    form = forms.ReviewForm(formdata=request.args)
    today = utcnow().astimezone(console_timezone()).date()
    status = 200
    if not form.validate():
        status = 400
    day_to = form.date_to.data or today
    day_from = form.date_from.data or (day_to - timedelta(days=29))
    if day_from > day_to:
        form.date_to.errors = [
            forms.L("结束日期不能早于开始日期。", "The end date is before the start date.")
        ]
        day_from, day_to, status = day_to, day_to, 400
    reviews = queries.scenario_review(db.session, day_from, day_to)
    return (
        render_template(
            "cases/review.html",
            form=form,
            reviews=reviews,
            day_from=day_from,
            day_to=day_to,
            operators=_operators(),
            now=utcnow(),
        ),
        status,
    )


@bp.post("/callers/<int:caller_id>/export")
@role_required(Role.SUPERVISOR)
def export_caller(caller_id: int):
    """Everything held about this person, as JSON (a subject access request); audited."""
    caller = callers_views.load_caller(caller_id)
    form = forms.EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    data = privacy.export_caller_data(db.session, caller.id, operator_id=_me())
    db.session.commit()
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="caller-{caller.id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/callers/<int:caller_id>/erase")
@role_required(Role.SUPERVISOR)
def erase_caller(caller_id: int):
    """Delete this person's data on their request (anonymise now; recordings by the clock)."""

    def action(caller, form):
        if form.confirm.data.strip().upper() != "ERASE":
            raise ActionRefused("请输入 ERASE 确认。", "Type ERASE to confirm.")
        if caller.anonymised_at is not None:
            raise ActionRefused("该资料已经匿名化。", "This profile is already anonymised.")
        privacy.anonymise_caller(
            db.session, caller.id, operator_id=_me(), actor="operator:erase_request"
        )

    return callers_views.caller_action(
        caller_id,
        callers_forms.EraseForm(),
        "erase_form",
        action,
        (
            "个人数据已删除(录音将由后台删除)。",
            "Personal data erased (recordings are deleted in the background).",
        ),
        "#privacy",
    )
