"""Console account administration (blueprint `operators_admin`, admins only).

GET /console/admin/operators (`operators_admin.operators_page`): accounts, roles, phones,
languages/dialects and lines served (for routing: hotline.queue.routing), sign-in, password
resets. Each view is an entry point: it commits its one change.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline.db import db
from hotline.i18n import t
from hotline.lines.models import Line
from hotline.operators import presence
from hotline.operators.auth import end_sessions, hash_password, password_problem, role_required
from hotline.operators.forms import (
    OperatorCreateForm,
    OperatorUpdateForm,
    PasswordResetForm,
    languages_text,
    parse_languages,
)
from hotline.operators.models import Operator, Presence, Role
from hotline.operators.presence import PRESENCE_LABELS
from hotline.phone import InvalidNumber, normalise

bp = Blueprint("operators_admin", __name__, url_prefix="/console", template_folder="templates")


def _admin_redirect():
    return redirect(url_for("operators_admin.operators_page"))


@bp.get("/admin/operators")
@role_required(Role.ADMIN)
def operators_page():
    """Console accounts: roles, phones, sign-in, passwords."""
    operators = list(
        db.session.scalars(select(Operator).order_by(Operator.role, Operator.username))
    )
    return render_template(
        "operators/admin.html",
        operators=operators,
        create_form=OperatorCreateForm(),
        update_form=OperatorUpdateForm,
        reset_form=PasswordResetForm(),
        presence_label=lambda p: t(*PRESENCE_LABELS[p]),
        lines=list(db.session.scalars(select(Line).order_by(Line.name))),
        languages_text=languages_text,
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
    """Change name, role, phone, languages, lines, or whether the account may sign in."""
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
    line_ids = sorted(set(form.line_ids.data or []))
    known = (
        set(db.session.scalars(select(Line.id).where(Line.id.in_(line_ids)))) if line_ids else set()
    )
    if known != set(line_ids):
        flash(t("没有保存:请检查表格。", "Not saved: please check the form."), "error")
        return _admin_redirect()
    operator.line_ids = line_ids
    operator.languages = parse_languages(form.languages.data)
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
