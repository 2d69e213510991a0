"""Browser pages: the identity picker, the dev phone and the developer page.

The pages are static shells; all data comes from the JSON API and is put into the page with
textContent (never innerHTML), so whatever the app or a user sent is shown escaped.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from hotline.devgateway.simulator import Simulator

bp = Blueprint(
    "devgateway_pages",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/devgateway-static",
)


def sim() -> Simulator:
    """The simulator of the running gateway app."""
    return current_app.extensions["devgateway"]


@bp.get("/")
def index() -> str:
    """Choose who is calling, or open the developer page."""
    config = sim().config
    return render_template(
        "devgateway/index.html", identities=config.identities, lines=config.lines,
        auto_answer=config.auto_answer_numbers, hotline_url=config.hotline_url,
    )  # fmt: skip


@bp.get("/phone")
def phone() -> str:
    """The dev phone for one number (?number=+8613123456701)."""
    config = sim().config
    number = request.args.get("number") or config.identities[0][1]
    label = next((label for label, n in config.identities if n == number), number)
    return render_template("devgateway/phone.html", number=number, label=label, lines=config.lines)


@bp.get("/dev")
def developer() -> str:
    """Every REST request, SMS, call and webhook exchange, newest first."""
    return render_template("devgateway/dev.html", hotline_url=sim().config.hotline_url)


@bp.get("/healthz")
def health() -> Response:
    """Liveness probe."""
    return Response("ok", mimetype="text/plain")
