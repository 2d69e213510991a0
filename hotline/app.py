"""The application factory (exposed as hotline:create_app)."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, abort, jsonify, request
from sqlalchemy import text

from hotline import config as config_module
from hotline import events, security
from hotline.alerts import views as alerts_views
from hotline.alerts.callbacks import on_callback_gave_up
from hotline.alerts.commands import on_supervisor_texted
from hotline.callbacks import service as callbacks_service
from hotline.callbacks import views as callbacks_views
from hotline.callbacks.events import CallbackAttemptEnded, CallbackGaveUp
from hotline.callers import views as callers_views
from hotline.calls import views as calls_views
from hotline.calls.events import CallEnded
from hotline.cases import subscribers as cases_subscribers
from hotline.cases import views as cases_views
from hotline.cases.events import CaseReferred
from hotline.checkins import cascade as checkins_cascade
from hotline.checkins import views as checkins_views
from hotline.db import db
from hotline.directory import views as directory_views
from hotline.floor import views as floor_views
from hotline.ivr.check import check_directory
from hotline.lines import views as lines_views
from hotline.operators import admin as operators_admin
from hotline.operators import views as operators_views
from hotline.queue import console as queue_console
from hotline.queue import service as queue_service
from hotline.queue.events import CallbackOwed
from hotline.sms import views as sms_views
from hotline.sms.events import CheckinReplied, SupervisorTexted
from hotline.sms.referrals import on_case_referred
from hotline.telephony import gateway
from hotline.telephony.signature import is_valid_twilio_request
from hotline.transfers import views as transfers_views
from hotline.voice import callback_views, queue_views, transfer_views
from hotline.voice import flow as voice_flow
from hotline.voice import views as voice_views

log = logging.getLogger("hotline")

#: Every blueprint, in registration order: (module, blueprint). A feature with pages adds a line.
BLUEPRINTS = (
    (voice_views, voice_views.bp),
    (calls_views, calls_views.bp),
    (sms_views, sms_views.bp),
    (operators_views, operators_views.bp),
    (operators_admin, operators_admin.bp),
    (queue_views, queue_views.bp),
    (queue_console, queue_console.bp),
    (callers_views, callers_views.bp),
    (cases_views, cases_views.bp),
    (callbacks_views, callbacks_views.bp),
    (callback_views, callback_views.bp),
    (alerts_views, alerts_views.bp),
    (directory_views, directory_views.bp),
    (lines_views, lines_views.bp),
    (checkins_views, checkins_views.bp),
    (floor_views, floor_views.bp),
    (transfers_views, transfers_views.bp),
    (transfer_views, transfer_views.bp),
)


#: Who reacts to what (hotline.events): (event type, subscriber), run in this order, inside the
#: publisher's transaction. Order matters for CallEnded: the queue settles the call's outcome
#: (abandoned or not) before cases read it.
SUBSCRIPTIONS = [
    (CallEnded, queue_service.on_call_ended),
    (CallEnded, cases_subscribers.on_call_ended),
    (CallEnded, callbacks_service.caller_reached_a_person),
    (CallbackOwed, voice_flow.owe_queue_callback),
    (CallbackAttemptEnded, cases_subscribers.on_callback_attempt_ended),
    (CallbackAttemptEnded, checkins_cascade.on_callback_attempt_ended),
    (CallbackGaveUp, on_callback_gave_up),
    (CaseReferred, on_case_referred),
    (SupervisorTexted, on_supervisor_texted),
    (CheckinReplied, checkins_cascade.on_checkin_replied),
]


def build_app(test_config: dict | None = None) -> Flask:
    """Create and configure the hotline Flask app."""
    app = Flask("hotline", instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config_module.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
    security.check_credentials(app.config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app)
    security.configure(app)
    if not app.config.get("TESTING") and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    quiet_library_loggers()

    db.init_app(app)
    gateway.init_app(app)
    _load_scripts(app)
    security.init_app(app)  # before the signature guard: an oversized body is never read
    _register_twilio_guard(app)
    events.init_app(app, SUBSCRIPTIONS)
    for module, blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
        if hasattr(module, "init_app"):
            module.init_app(app)

    _init_console(app)
    app.jinja_env.globals["console_nav"] = console_nav

    @app.get("/healthz")
    def healthz():
        """Liveness for load balancers: database reachable and IVR scripts valid (503 if not).

        `readiness` lists, in plain words, what stops a line from working as set up (see
        hotline.lines.readiness); it informs the administrator and does not fail the check.
        """
        problems = list(app.extensions["hotline.ivr_errors"])
        readiness: list[str] = []
        try:
            db.session.execute(text("SELECT 1"))
            readiness = [problem.en for problem in lines_views.current_readiness()]
        except Exception as exc:  # noqa: BLE001
            problems.append(f"database: {exc.__class__.__name__}")
        return (
            jsonify(ok=not problems, problems=problems, readiness=readiness),
            (503 if problems else 200),
        )

    return app


#: Console navigation: (endpoint, 中文, English, minimum role). Features add their pages here;
#: entries whose endpoint is not registered, or that the user's role may not see, are hidden.
CONSOLE_NAV = [
    ("queue_console.queue_page", "排队", "Queue", "operator"),
    ("callbacks.list_page", "回电", "Callbacks", "operator"),
    ("cases.list_page", "工单", "Cases", "operator"),
    ("checkins.today_page", "关爱回访", "Check-ins", "operator"),
    ("cases.escalations_page", "困难上报", "Escalations", "supervisor"),
    ("cases.review_page", "个案排查", "Scenario review", "supervisor"),
    ("reports.supervisor_page", "值班概况", "Today", "supervisor"),
    ("floor.board_page", "坐席现场", "Floor", "supervisor"),
    ("floor.day_page", "坐席日报", "Operator day", "operator"),
    ("directory.agencies_page", "机构名录", "Agencies", "operator"),
    ("directory.volunteers_page", "志愿者", "Volunteers", "operator"),
    ("lines_admin.lines_page", "线路", "Lines", "supervisor"),
    ("operators_admin.operators_page", "坐席管理", "Operators", "admin"),
    ("devtools.index", "开发工具", "Dev tools", "admin"),
]


def console_nav() -> list[tuple[str, str, str, str]]:
    """The navigation entries the signed-in user can open."""
    from flask import current_app
    from flask_login import current_user

    from hotline.operators.models import Role

    return [
        entry
        for entry in CONSOLE_NAV
        if entry[0] in current_app.view_functions
        and getattr(current_user, "is_authenticated", False)
        and current_user.has_role(Role(entry[3]))
    ]


def _init_console(app: Flask) -> None:
    """Sign-in sessions, CSRF on every form, and the bilingual template helpers.

    Twilio cannot send a CSRF token: every URL under /twilio/ is exempt from CSRF and protected
    by the signature check instead.
    """
    from flask_wtf.csrf import CSRFProtect

    from hotline import i18n
    from hotline.operators.auth import login_manager

    login_manager.init_app(app)
    csrf = CSRFProtect(app)
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/twilio/") or rule.rule == "/twilio":
            csrf.exempt(app.view_functions[rule.endpoint])
    i18n.init_app(app)


#: Libraries whose INFO lines say nothing an administrator acts on (a line per scheduler run,
#: per migration plugin): only their warnings are shown.
QUIET_LOGGERS = ("apscheduler", "alembic")


def quiet_library_loggers() -> None:
    """Keep INFO for what an administrator needs (calls, texts, jobs that did work)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _instance_secret(app: Flask) -> str:
    """A per-installation secret kept in the instance folder when SECRET_KEY is not set."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
        if not app.config["LOCAL_TELEPHONY"]:
            log.warning(
                "SECRET_KEY is not set; generated one in %s. Set SECRET_KEY in production.", path
            )
    return path.read_text().strip()


def _load_scripts(app: Flask) -> None:
    """Check the IVR scripts at start-up; serve the valid ones and log every error loudly.

    A broken script does not take the whole line down (callers of that line get the fallback
    voicemail); deployments are stopped earlier by the Procfile's release step, which runs
    `flask ivr check`, and /healthz reports the errors.
    """
    scripts, errors = check_directory(app.config["IVR_SCRIPTS_DIR"])
    for error in errors:
        log.error("IVR script error: %s", error)
    app.extensions["hotline.ivr_scripts"] = scripts
    app.extensions["hotline.ivr_errors"] = errors


def _register_twilio_guard(app: Flask) -> None:
    """Every URL under /twilio/ answers 403 to a missing or wrong signature, before anything else."""

    @app.before_request
    def _check_twilio_signature():
        is_twilio_url = request.path == "/twilio" or request.path.startswith("/twilio/")
        if is_twilio_url and not is_valid_twilio_request(request):
            log.warning("rejected unsigned or forged request to %s", request.path)
            abort(403)
