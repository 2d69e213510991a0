"""Console sign-in, sign-out and language switch (blueprint `console`, under /console)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from hotline.db import db
from hotline.i18n import LANGUAGES, t
from hotline.operators import auth, presence
from hotline.operators.forms import LoginForm
from hotline.operators.models import Operator

bp = Blueprint("console", __name__, url_prefix="/console")


def init_app(app) -> None:
    """The site root opens the console."""

    @app.get("/")
    def index():
        return redirect(url_for("console.home"))


def _safe_next(target: str | None) -> str:
    """Only follow `next` to a path on this site."""
    if not target:
        return url_for("console.home")
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return url_for("console.home")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in, throttled per account and per address (policy: auth.begin_attempt)."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        username = form.username.data.strip()
        attempt = auth.begin_attempt(username, auth.client_address())
        if attempt is None:
            flash(
                t(
                    "登录失败次数太多,请 15 分钟后再试,或请管理员重置密码。",
                    "Too many failed sign-ins. Try again in 15 minutes or ask an admin to reset your password.",
                ),
                "error",
            )
            status = 429
        else:
            operator = auth.authenticate(attempt, username, form.password.data)
            if operator is not None:
                session.clear()  # a fresh session: nothing from before sign-in carries over
                login_user(auth.ConsoleUser(operator))
                return redirect(_safe_next(request.args.get("next")))
            flash(t("用户名或密码不对。", "Wrong username or password."), "error")
            status = 401
    elif request.method == "POST":
        flash(t("请填写用户名和密码。", "Please enter your username and password."), "error")
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    """Sign out everywhere (a POST with the CSRF token, so a link elsewhere cannot sign you
    out): the session version is raised, so a copy of the cookie no longer works either."""
    presence.signed_out(db.session, current_user.id)
    operator = db.session.get(Operator, current_user.id)
    if operator is not None:
        auth.end_sessions(operator)
    db.session.commit()
    logout_user()
    flash(t("已退出。", "Signed out."), "info")
    return redirect(url_for("console.login"))


@bp.post("/lang/<code>")
def set_language(code: str):
    """Switch the console between 中文 and English."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next") or request.referrer))


@bp.get("/")
@login_required
def home():
    """The console's start page: the live queue (when the queue console exists)."""
    if "queue_console.queue_page" in _endpoints():
        return redirect(url_for("queue_console.queue_page"))
    return render_template("home.html")


def _endpoints() -> set[str]:
    from flask import current_app

    return set(current_app.view_functions)
