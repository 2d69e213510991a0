"""Caller profiles in the console (blueprint `callers`, under /console): find a caller, the
profile, family contacts and their consent, restrictions and merging.

Each handler loads, checks access, calls one domain function (hotline.callers.service) and
commits once. Exporting and erasing a caller's data stay with the cases feature
(hotline.cases.privacy, routes in hotline.cases.views), which reuses `render_caller`.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from hotline.callers import forms
from hotline.callers import service as callers_service
from hotline.callers.models import Caller, FamilyContact
from hotline.cases.models import (
    OUTCOMES,
    SCENARIOS,
    STATUS_LABELS,
    SUB_TOPICS,
    AuditEntry,
    Case,
)
from hotline.db import db
from hotline.errors import ActionRefused
from hotline.i18n import t
from hotline.operators.auth import role_required
from hotline.operators.models import Operator, Role
from hotline.phone import mask, try_normalise
from hotline.timeutil import console_timezone, utcnow

bp = Blueprint("callers", __name__, url_prefix="/console", template_folder="templates")


def template_helpers() -> dict:
    """What the console's case and caller templates use (registered on both blueprints)."""
    tz = console_timezone()

    def local(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(pattern) if value else ""

    return {
        "local": local,
        "SCENARIOS": SCENARIOS,
        "SUB_TOPICS": SUB_TOPICS,
        "OUTCOMES": {str(k): v for k, v in OUTCOMES.items()},
        "STATUS_LABELS": {s.value: v for s, v in STATUS_LABELS.items()},
        "now": utcnow(),
        "mask": mask,
    }


bp.context_processor(template_helpers)

#: app.extensions key of the panels other features add to a console page ("caller": the caller
#: page, "case": the case screen): callables taking the page's Caller or Case and returning HTML
#: (a Markup string, "" for nothing). Features above this one register theirs in their
#: `init_app` (e.g. hotline.checkins.views: the check-in history strip), so the pages show them
#: without this records-layer package, or the cases feature, importing those features.
PANELS = "hotline.page_panels"


def register_panel(app, page: str, panel) -> None:
    """Show `panel(obj)` on every `page` ("caller" or "case"), in registration order."""
    app.extensions.setdefault(PANELS, {}).setdefault(page, []).append(panel)


def page_panels(page: str, obj) -> list:
    """The HTML of the panels registered for `page`, about `obj` (empty ones left out)."""
    html = [panel(obj) for panel in current_app.extensions.get(PANELS, {}).get(page, ())]
    return [part for part in html if part]


def current_operator_id() -> int:
    """The signed-in operator's id."""
    return int(current_user.id)


def operators_by_id() -> dict[int, Operator]:
    """Every operator by id (the templates show names)."""
    return {o.id: o for o in db.session.scalars(select(Operator).order_by(Operator.id))}


def load_caller(caller_id: int) -> Caller:
    caller = db.session.get(Caller, caller_id)
    if caller is None:
        abort(404)
    return caller


@bp.get("/callers")
@role_required(Role.OPERATOR)
def callers_page():
    """Find a caller by number (any format) or name."""
    form = forms.CallerSearchForm(formdata=request.args)
    found = []
    if form.validate() and form.q.data:
        found = callers_service.find_callers(
            db.session, form.q.data, region=current_app.config.get("DEFAULT_REGION", "CN")
        )
    now = utcnow()
    return render_template(
        "callers/callers.html",
        form=form,
        found=found,
        repeat=callers_service.repeat_caller_ids(db.session, [c.id for c in found], now),
    )


def _profile_form(caller: Caller, family: list[FamilyContact], formdata=None) -> forms.ProfileForm:
    data = {name: getattr(caller, name) for name in callers_service.PROFILE_FIELDS}
    data["age_band"] = caller.age_band.value if caller.age_band else ""
    data["language"] = caller.language or ""
    form = forms.ProfileForm(formdata=formdata, data=data)
    form.requested_by.choices = forms.choices([("", "")] + [(str(f.id), f.name) for f in family])
    return form


def render_caller(caller: Caller, *, status: int = 200, **override_forms):
    session = db.session
    now = utcnow()
    if caller.merged_into_id is not None:
        survivor = session.get(Caller, callers_service.effective_caller_id(session, caller.id))
    else:
        survivor = None
    family = session.scalars(
        select(FamilyContact).where(FamilyContact.caller_id == caller.id).order_by(FamilyContact.id)
    ).all()
    group = callers_service.caller_group_ids(session, caller.id)
    cases = session.scalars(
        select(Case).where(Case.caller_id.in_(group)).order_by(Case.created_at.desc()).limit(50)
    ).all()
    aliases = session.scalars(select(Caller).where(Caller.merged_into_id == caller.id)).all()
    trail = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity == "caller", AuditEntry.entity_id == caller.id)
        .order_by(AuditEntry.id.desc())
        .limit(50)
    ).all()
    page_forms = {
        "profile_form": _profile_form(caller, family),
        "family_form": forms.FamilyContactForm(formdata=None),
        "consent_form": forms.ConsentForm(formdata=None),
        "restriction_form": forms.RestrictionForm(formdata=None),
        "merge_form": forms.MergeForm(formdata=None),
        "erase_form": forms.EraseForm(formdata=None),
        "empty_form": forms.EmptyForm(formdata=None),
        "consent_for": None,
    }
    page_forms.update(override_forms)
    return (
        render_template(
            "callers/caller.html",
            caller=caller,
            panels=page_panels("caller", caller),
            survivor=survivor,
            aliases=aliases,
            family=family,
            cases=cases,
            trail=trail,
            operators=operators_by_id(),
            is_repeat=callers_service.is_repeat_caller(session, caller.id, now),
            recent_calls=callers_service.recent_call_count(session, caller.id, now),
            restriction=caller.restriction_in_force(now),
            permissions=[
                ("may_receive_alerts", "可接收提醒短信", "May receive alerts"),
                ("may_request_callbacks", "可代为申请回电", "May request callbacks"),
                ("may_change_profile", "可代为修改偏好", "May change preferences"),
            ],
            consent_methods=[
                ("elder_on_call", "老人在通话中同意", "The elder said so on a call"),
                ("elder_in_person", "老人当面同意", "The elder in person"),
                ("elder_in_writing", "老人书面同意", "The elder in writing"),
            ],
            **page_forms,
        ),
        status,
    )


@bp.get("/callers/<int:caller_id>")
@role_required(Role.OPERATOR)
def caller_page(caller_id: int):
    """A caller's profile, family contacts, cases and history."""
    return render_caller(load_caller(caller_id))


def caller_action(caller_id, form, form_name, action, done, anchor="", extra=None):
    caller = load_caller(caller_id)
    if form.validate_on_submit():
        try:
            result = action(caller, form)
            db.session.commit()
            flash(t(*done), "success")
            return result or redirect(
                url_for("callers.caller_page", caller_id=caller_id) + anchor, code=303
            )
        except ActionRefused as exc:
            db.session.rollback()
            form.form_errors.append(exc.message())
            flash(exc.message(), "error")
        caller = load_caller(caller_id)
    return render_caller(caller, status=400, **{form_name: form, **(extra or {})})


@bp.post("/callers/<int:caller_id>/profile")
@role_required(Role.OPERATOR)
def save_profile(caller_id: int):
    caller = load_caller(caller_id)
    family = db.session.scalars(
        select(FamilyContact).where(FamilyContact.caller_id == caller.id)
    ).all()
    form = _profile_form(caller, family, formdata=request.form)

    def action(caller, form):
        values = {name: getattr(form, name).data for name in callers_service.PROFILE_FIELDS}
        for name in ("name", "display_name", "dialect", "district", "notes"):
            values[name] = (values[name] or "").strip()
        values["language"] = values["language"] or None
        values["age_band"] = values["age_band"] or None
        callers_service.update_profile(
            db.session,
            caller,
            operator_id=current_operator_id(),
            requested_by_family_id=int(form.requested_by.data) if form.requested_by.data else None,
            **values,
        )

    return caller_action(
        caller_id, form, "profile_form", action, ("资料已保存。", "Profile saved."), "#profile"
    )


@bp.post("/callers/<int:caller_id>/family")
@role_required(Role.OPERATOR)
def add_family(caller_id: int):
    def action(caller, form):
        callers_service.add_family_contact(
            db.session,
            caller.id,
            name=form.name.data,
            relation=form.relation.data or "",
            phone_number=form.phone_number.data,
            operator_id=current_operator_id(),
            may_receive_alerts=form.may_receive_alerts.data,
            may_request_callbacks=form.may_request_callbacks.data,
            may_change_profile=form.may_change_profile.data,
            region=current_app.config.get("DEFAULT_REGION", "CN"),
        )

    return caller_action(
        caller_id,
        forms.FamilyContactForm(),
        "family_form",
        action,
        (
            "已添加家人联系人(需老人同意后生效)。",
            "Family contact added (in force once the elder consents).",
        ),
        "#family",
    )


def _family_contact(caller: Caller, contact_id: int) -> FamilyContact:
    contact = db.session.get(FamilyContact, contact_id)
    if contact is None or contact.caller_id != caller.id:
        abort(404)
    return contact


@bp.post("/callers/<int:caller_id>/family/<int:contact_id>/consent")
@role_required(Role.OPERATOR)
def record_consent(caller_id: int, contact_id: int):
    def action(caller, form):
        callers_service.record_consent(
            db.session,
            _family_contact(caller, contact_id),
            method=form.method.data,
            recorded_by=current_operator_id(),
            consented_at=form.consented_at.data,
        )

    return caller_action(
        caller_id,
        forms.ConsentForm(),
        "consent_form",
        action,
        ("已记录老人的同意。", "The elder's consent is recorded."),
        "#family",
        extra={"consent_for": contact_id},
    )


@bp.post("/callers/<int:caller_id>/family/<int:contact_id>/revoke")
@role_required(Role.OPERATOR)
def revoke_consent(caller_id: int, contact_id: int):
    def action(caller, form):
        callers_service.revoke_consent(
            db.session, _family_contact(caller, contact_id), operator_id=current_operator_id()
        )

    return caller_action(
        caller_id,
        forms.EmptyForm(),
        "empty_form",
        action,
        ("已撤销同意。", "Consent withdrawn."),
        "#family",
    )


@bp.post("/callers/<int:caller_id>/family/<int:contact_id>/permissions")
@role_required(Role.OPERATOR)
def family_permissions(caller_id: int, contact_id: int):
    def action(caller, form):
        callers_service.set_family_permissions(
            db.session,
            _family_contact(caller, contact_id),
            operator_id=current_operator_id(),
            may_receive_alerts=form.may_receive_alerts.data,
            may_request_callbacks=form.may_request_callbacks.data,
            may_change_profile=form.may_change_profile.data,
        )

    return caller_action(
        caller_id,
        forms.PermissionsForm(),
        "empty_form",
        action,
        ("权限已保存。", "Permissions saved."),
        "#family",
    )


@bp.post("/callers/<int:caller_id>/restriction")
@role_required(Role.SUPERVISOR)
def set_restriction(caller_id: int):
    def action(caller, form):
        callers_service.set_restriction(
            db.session,
            caller,
            kind=form.kind.data,
            reason=form.reason.data,
            until=form.until.data,
            operator_id=current_operator_id(),
        )

    return caller_action(
        caller_id,
        forms.RestrictionForm(),
        "restriction_form",
        action,
        ("标记已保存。", "Flag saved."),
        "#restriction",
    )


@bp.post("/callers/<int:caller_id>/restriction/clear")
@role_required(Role.SUPERVISOR)
def clear_restriction(caller_id: int):
    def action(caller, form):
        callers_service.clear_restriction(db.session, caller, operator_id=current_operator_id())

    return caller_action(
        caller_id,
        forms.EmptyForm(),
        "empty_form",
        action,
        ("标记已解除。", "Flag lifted."),
        "#restriction",
    )


@bp.post("/callers/<int:caller_id>/merge")
@role_required(Role.SUPERVISOR)
def merge(caller_id: int):
    """Merge another profile of the same person (named by its number) into this one."""

    def action(caller, form):
        other_text = form.other.data.strip()
        other = None
        number = try_normalise(other_text, current_app.config.get("DEFAULT_REGION", "CN"))
        if number:
            other = callers_service.find_caller(db.session, number)
        if other is None:
            raise ActionRefused(
                "找不到这个号码的来电人资料。", "No caller profile has that number."
            )
        callers_service.merge_callers(
            db.session, keep_id=caller.id, merge_id=other.id, operator_id=current_operator_id()
        )

    return caller_action(
        caller_id,
        forms.MergeForm(),
        "merge_form",
        action,
        ("资料已合并。", "Profiles merged."),
        "#merge",
    )
