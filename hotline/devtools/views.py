"""Developer pages under /console/dev (admins only): each line's IVR scripts drawn as diagrams.

The page shows the scripts the app loaded at start-up, i.e. what callers hear now, and the
checker's errors from that start-up. To see a script as it is on disk while editing it, run
`flask --app hotline ivr diagram`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Response, abort, current_app, render_template, url_for
from markupsafe import Markup
from sqlalchemy import select

from hotline.db import db
from hotline.i18n import current_language
from hotline.ivr.diagram import render_svg
from hotline.ivr.schema import Script, ScriptSet
from hotline.lines.models import Line
from hotline.operators.auth import role_required
from hotline.operators.models import Role

bp = Blueprint("devtools", __name__, url_prefix="/console/dev", template_folder="templates")

#: The served SVG is a picture, never a document: no scripts, no outside resources.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


@dataclass
class ScriptGroup:
    """One script key (file stem) with the lines that use it and its scripts by language."""

    key: str
    lines: list = field(default_factory=list)
    scripts: list[Script] = field(default_factory=list)


def _anchor(line: str, language: str) -> str:
    return f"script-{line}-{language}"


def _groups(scripts: ScriptSet) -> list[ScriptGroup]:
    """Lines grouped by the scripts they use, then scripts no line uses."""
    groups: dict[str, ScriptGroup] = {}
    for line in db.session.scalars(select(Line).order_by(Line.key)):
        groups.setdefault(line.script_key, ScriptGroup(line.script_key)).lines.append(line)
    for (key, _language), script in sorted(scripts.scripts.items()):
        groups.setdefault(key, ScriptGroup(key)).scripts.append(script)
    for group in groups.values():
        # The language callers hear first comes first.
        first = [line.default_language for line in group.lines]
        group.scripts.sort(
            key=lambda s: first.index(s.language) if s.language in first else len(first)
        )
    return list(groups.values())


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    """The IVR scripts as diagrams, the checker's errors, and how to change a script."""
    scripts: ScriptSet = current_app.extensions["hotline.ivr_scripts"]
    errors: list[str] = current_app.extensions["hotline.ivr_errors"]
    lang = current_language()

    def link_for(line: str, language: str) -> str | None:
        return "#" + _anchor(line, language) if scripts.get(line, language) else None

    # Markup is safe here: render_svg escapes every piece of script text it draws.
    diagrams = {
        key: Markup(render_svg(script, lang=lang, standalone=False, link_for=link_for))
        for key, script in scripts.scripts.items()
    }
    return render_template(
        "devtools/index.html",
        groups=_groups(scripts),
        diagrams=diagrams,
        errors=errors,
        anchor=_anchor,
        scripts_dir=current_app.config["IVR_SCRIPTS_DIR"],
    )


@bp.get("/ivr/<name>.svg")
@role_required(Role.ADMIN)
def ivr_svg(name: str):
    """One script's diagram as an SVG file, e.g. /console/dev/ivr/main.zh-CN.svg."""
    scripts: ScriptSet = current_app.extensions["hotline.ivr_scripts"]
    line, _, language = name.partition(".")
    script = scripts.get(line, language)
    if script is None:
        abort(404)
    body = render_svg(
        script,
        lang=current_language(),
        link_for=lambda other, language: url_for("devtools.ivr_svg", name=f"{other}.{language}"),
    )
    return Response(body, mimetype="image/svg+xml", headers=SVG_HEADERS)
