"""Console sign-in: Flask-Login sessions, hashed passwords, roles, and a login rate limit."""

from __future__ import annotations

import secrets
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

#: Sign-in throttling (see `begin_attempt` for the policy). Failures within the window count.
#: One client guessing one account's password.
MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS = 5
#: One client spraying a password over many accounts.
MAX_FAILED_LOGINS_PER_ADDRESS = 20
#: Many clients guessing one account's password (a distributed attack).
MAX_FAILED_LOGINS_PER_ACCOUNT = 50
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
        self.session_version = operator.session_version

    def get_id(self) -> str:
        """The session stores "id:version"; a raised version ends every older session."""
        return f"{self.id}:{self.session_version}"

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
    """Checked on every request: the account exists, is active, and the session is current."""
    # A bare id (a session signed before session versions existed) counts as version 0: it
    # ends with the account's first logout, reset or deactivation like any other.
    operator_id, _, version = user_id.partition(":")
    try:
        operator = db.session.get(Operator, int(operator_id))
        session_version = int(version or 0)
    except ValueError:
        return None
    if operator is None or not operator.is_active or operator.session_version != session_version:
        return None
    return ConsoleUser(operator)


def end_sessions(operator: Operator) -> None:
    """Sign the account out everywhere (the caller commits): on logout, password change or
    reset, and deactivation, so a captured session cookie stops working."""
    operator.session_version = (operator.session_version or 0) + 1


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


def client_address() -> str:
    """The client's address: request.remote_addr, which is the proxy's address unless
    TRUSTED_PROXY_COUNT says how many proxies to look behind (see hotline.security)."""
    return (request.remote_addr or "-")[:64]


def begin_attempt(username: str, address: str) -> LoginAttempt | None:
    """Record a sign-in attempt before the password is checked; None when it is throttled.

    Policy: within FAILED_LOGIN_WINDOW, failed tries are counted three ways, and a try is
    refused (429) when any count is past its limit:

    - one account from one address: MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS (5), a client
      guessing a password;
    - one address over all usernames: MAX_FAILED_LOGINS_PER_ADDRESS (20), spraying one
      password over many accounts;
    - one account over all addresses: MAX_FAILED_LOGINS_PER_ACCOUNT (50), a distributed guess.

    So an attacker at one address locks only itself out: the operator, signing in from their
    own address with the right password, still gets in; only a many-address attack on one
    account pauses that account for everyone. A throttled try is refused without checking the
    password, even the right one: accepting it would let the guessing go on unthrottled.
    Throttled tries count as failures, so a lock lasts while the guessing goes on; it lifts by
    itself FAILED_LOGIN_WINDOW after the last try. Behind a reverse proxy, addresses are told
    apart only with TRUSTED_PROXY_COUNT (see hotline.security).

    Counting is atomic without locks: the attempt is committed as a failure first, then the
    failures are counted. Each attempt sees itself and every attempt committed before it, so
    of any number of parallel tries at most the limit see a count within it.
    """
    attempt = LoginAttempt(username=username[:60], address=address[:64], is_success=False)
    db.session.add(attempt)
    db.session.commit()
    since = utcnow() - FAILED_LOGIN_WINDOW
    failed = select(func.count()).select_from(LoginAttempt)
    failed = failed.where(LoginAttempt.is_success.is_(False), LoginAttempt.attempted_at >= since)
    same_account = LoginAttempt.username == username[:60]
    same_address = LoginAttempt.address == address[:64]
    by_pair = db.session.scalar(failed.where(same_account, same_address)) or 0
    by_account = db.session.scalar(failed.where(same_account)) or 0
    by_address = db.session.scalar(failed.where(same_address)) or 0
    db.session.commit()
    if (
        by_pair > MAX_FAILED_LOGINS_PER_ACCOUNT_AND_ADDRESS
        or by_address > MAX_FAILED_LOGINS_PER_ADDRESS
        or by_account > MAX_FAILED_LOGINS_PER_ACCOUNT
    ):
        return None
    return attempt


def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as known ones."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = generate_password_hash(secrets.token_hex(16))
    return _DUMMY_HASH


_DUMMY_HASH: str | None = None


def authenticate(attempt: LoginAttempt, username: str, password: str) -> Operator | None:
    """Check the credentials of an attempt from `begin_attempt` and record the outcome (commits).

    Unknown, disabled and password-less accounts spend the same hashing time as real ones.
    """
    operator = db.session.scalar(select(Operator).where(Operator.username == username))
    usable = operator is not None and operator.is_active and bool(operator.password_hash)
    stored = operator.password_hash if usable else _dummy_hash()
    ok = check_password_hash(stored, password) and usable
    if ok:
        attempt.is_success = True
        db.session.commit()
    return operator if ok else None
