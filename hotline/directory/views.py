"""The directory in the console (blueprint `directory`): agencies and the volunteer roster.

Operators and supervisors read (a referral needs them); admins add, change and import. Each
POST is an entry point: it validates with the service's one check and commits once; bad input
is shown next to its field and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from hotline import audit
from hotline.callers.models import Caller
from hotline.db import db
from hotline.directory import forms, service
from hotline.directory.models import Agency, Volunteer
from hotline.i18n import t
from hotline.operators.auth import role_required
from hotline.operators.models import Role

bp = Blueprint("directory", __name__, url_prefix="/console/directory", template_folder="templates")


@bp.context_processor
def _helpers() -> dict:
    return {
        "kind_label": lambda kind: t(*forms.KIND_LABELS[kind]),
        "consent_label": lambda way: t(*forms.CONSENT_LABELS[way]),
        "kind_options": forms.kind_options,
        "consent_options": forms.consent_options,
        "is_admin": current_user.is_authenticated and current_user.has_role(Role.ADMIN),
    }


# --------------------------------------------------------------------------- agencies


@bp.get("/agencies")
@role_required(Role.OPERATOR)
def agencies_page(form: forms.AgencyForm | None = None, status: int = 200):
    """The agencies directory; admins also get the form to add one."""
    return (
        render_template(
            "directory/agencies.html",
            agencies=service.agencies(db.session),
            form=form or forms.AgencyForm(formdata=None),
        ),
        status,
    )


@bp.post("/agencies")
@role_required(Role.ADMIN)
def create_agency():
    """Add an agency."""
    form = forms.AgencyForm()
    if not form.validate_on_submit():
        abort(400)
    clean, problems = service.check_agency(db.session, forms.form_values(form))
    if clean is None:
        forms.show_problems(form, problems)
        return agencies_page(form, 400)
    service.create_agency(db.session, clean, operator_id=current_user.id)
    db.session.commit()
    flash(t("机构已添加。", "Agency added."), "success")
    return redirect(url_for("directory.agencies_page"), code=303)


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agency_page(agency_id: int):
    """Change an agency."""
    agency = db.session.get(Agency, agency_id) or abort(404)
    form = forms.AgencyForm(obj=agency, kind=agency.kind.value)
    if form.is_submitted():
        if not form.validate_on_submit():
            abort(400)
        clean, problems = service.check_agency(
            db.session, forms.form_values(form), agency_id=agency.id
        )
        if clean is not None:
            service.update_agency(db.session, agency, clean, operator_id=current_user.id)
            db.session.commit()
            flash(t("已保存。", "Saved."), "success")
            return redirect(url_for("directory.agencies_page"), code=303)
        forms.show_problems(form, problems)
    status = 400 if form.is_submitted() else 200
    return render_template("directory/agency.html", agency=agency, form=form), status


# --------------------------------------------------------------------------- volunteers


@bp.get("/volunteers")
@role_required(Role.OPERATOR)
def volunteers_page(form: forms.VolunteerForm | None = None, status: int = 200):
    """The volunteer roster; admins also get the forms to add and import."""
    session = db.session
    roster = service.volunteers(session)
    return (
        render_template(
            "directory/volunteers.html",
            volunteers=roster,
            elder_counts=service.elder_counts(session),
            form=form or forms.VolunteerForm(formdata=None),
            csv_form=forms.VolunteerCsvForm(formdata=None),
            columns=service.CSV_COLUMNS,
        ),
        status,
    )


@bp.post("/volunteers")
@role_required(Role.ADMIN)
def create_volunteer():
    """Add a volunteer."""
    form = forms.VolunteerForm()
    if not form.validate_on_submit():
        abort(400)
    clean, problems = service.check_volunteer(db.session, forms.form_values(form))
    if clean is None:
        forms.show_problems(form, problems)
        return volunteers_page(form, 400)
    service.create_volunteer(db.session, clean, operator_id=current_user.id)
    db.session.commit()
    flash(t("志愿者已添加。", "Volunteer added."), "success")
    return redirect(url_for("directory.volunteers_page"), code=303)


@bp.route("/volunteers/<int:volunteer_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def volunteer_page(volunteer_id: int):
    """Change a volunteer (and the elders they look after)."""
    volunteer = db.session.get(Volunteer, volunteer_id) or abort(404)
    numbers = [
        db.session.get(Caller, caller_id).phone_number
        for caller_id in service.elder_ids(db.session, volunteer.id)
    ]
    form = forms.VolunteerForm(
        obj=volunteer,
        consented_on=volunteer.consented_on.isoformat(),
        consent_way=volunteer.consent_way.value,
        elders="; ".join(numbers),
    )
    if form.is_submitted():
        if not form.validate_on_submit():
            abort(400)
        clean, problems = service.check_volunteer(
            db.session, forms.form_values(form), volunteer_id=volunteer.id
        )
        if clean is not None:
            service.update_volunteer(db.session, volunteer, clean, operator_id=current_user.id)
            db.session.commit()
            flash(t("已保存。", "Saved."), "success")
            return redirect(url_for("directory.volunteers_page"), code=303)
        forms.show_problems(form, problems)
    status = 400 if form.is_submitted() else 200
    return render_template("directory/volunteer.html", volunteer=volunteer, form=form), status


@bp.post("/volunteers/import")
@role_required(Role.ADMIN)
def import_volunteers():
    """Step 1 (a file): check every row and show the preview; nothing is stored.
    Step 2 (`checked_csv` sent back from the preview): check again and add the valid rows."""
    form = forms.VolunteerCsvForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    confirming = not upload and bool(form.checked_csv.data)
    if upload:
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            flash(t("请用 UTF-8 编码保存 CSV。", "Please save the CSV as UTF-8."), "error")
            return redirect(url_for("directory.volunteers_page"), code=303)
    else:
        text = form.checked_csv.data or ""
    checked = service.check_volunteers_csv(db.session, text)
    if confirming and checked.file_problem is None and checked.valid:
        added = service.import_checked(db.session, checked, operator_id=current_user.id)
        db.session.commit()
        flash(t(f"已导入 {len(added)} 名志愿者。", f"{len(added)} volunteers imported."), "success")
        return redirect(url_for("directory.volunteers_page"), code=303)
    return render_template(
        "directory/import.html",
        checked=checked,
        text=text,
        csv_form=forms.VolunteerCsvForm(formdata=None),
        problem_text=lambda message: t(*message),
    ), (200 if checked.is_clean else 400)


@bp.get("/volunteers.csv")
@role_required(Role.ADMIN)
def export_volunteers():
    """The roster as CSV (audited: it holds volunteers' numbers)."""
    body = service.export_volunteers_csv(db.session)
    audit.record(
        db.session,
        entity="export",
        entity_id=None,
        action="volunteers_csv",
        operator_id=current_user.id,
        after={"rows": len(service.volunteers(db.session))},
    )
    db.session.commit()
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=volunteers.csv"},
    )
