"""Console sign-in: Flask-Login sessions, hashed passwords, roles, and a login rate limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from flask import abort, flash, redirect, request, url_for
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from hotline.db import db
from hotline.i18n import t
from hotline.operators.models import LoginAttempt, Operator, Role
from hotline.timeutil import utcnow

login_manager = LoginManager()
login_manager.login_view = "console.login"

#: Failed sign-ins allowed per username and address within the window, then a pause.
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


class ConsoleUser(UserMixin):
    """The Flask-Login view of an Operator (detached from the database session)."""

    def __init__(self, operator: Operator):
        self.id = operator.id
        self.username = operator.username
        self.display_name = operator.display_name or operator.username
        self.role = operator.role
        self.console_language = operator.console_language

    def get_id(self) -> str:
        return str(self.id)

    def has_role(self, *roles: Role) -> bool:
        """Admins can do everything; supervisors everything an operator can."""
        rank = {Role.OPERATOR: 0, Role.SUPERVISOR: 1, Role.ADMIN: 2}
        return any(rank[self.role] >= rank[r] for r in roles)

    @property
    def is_supervisor(self) -> bool:
        return self.has_role(Role.SUPERVISOR)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


@login_manager.user_loader
def _load_user(user_id: str) -> ConsoleUser | None:
    try:
        operator = db.session.get(Operator, int(user_id))
    except ValueError:
        return None
    if operator is None or not operator.is_active:
        return None
    return ConsoleUser(operator)


@login_manager.unauthorized_handler
def _unauthorized():
    if request.path.startswith("/console/api/"):
        return {"error": "login required"}, 401
    flash(t("请先登录。", "Please sign in first."), "info")
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def role_required(*roles: Role) -> Callable:
    """Allow the view only to signed-in users with one of `roles` (or a higher role)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def hash_password(password: str) -> str:
    """Hash with werkzeug's default (scrypt)."""
    return generate_password_hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, in the console language, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return t(
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。",
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
        )
    return None


def is_rate_limited(username: str, address: str) -> bool:
    """True when this username from this address failed too often recently."""
    since = utcnow() - FAILED_LOGIN_WINDOW
    failures = db.session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.address == address,
            LoginAttempt.is_success.is_(False),
            LoginAttempt.attempted_at >= since,
        )
    )
    return (failures or 0) >= MAX_FAILED_LOGINS


def authenticate(username: str, password: str, address: str) -> Operator | None:
    """Check the credentials and record the attempt (flushes; the sign-in view commits)."""
    operator = db.session.scalar(select(Operator).where(Operator.username == username))
    ok = (
        operator is not None
        and operator.is_active
        and bool(operator.password_hash)
        and check_password_hash(operator.password_hash, password)
    )
    db.session.add(LoginAttempt(username=username[:60], address=address[:64], is_success=ok))
    db.session.flush()
    return operator if ok else None
