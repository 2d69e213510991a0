"""Flask commands: `flask --app hotline db upgrade`, `ivr check`, `seed-demo`, `spool replay`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from hotline.checkins.cli import checkins_cli
from hotline.directory.cli import volunteers_cli
from hotline.lines.cli import calendar_cli, lines_cli
from hotline.operators.cli import operators_cli

PROJECT_ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic migrations in migrations/).")
ivr_cli = AppGroup("ivr", help="IVR scripts in ivr_scripts/.")
spool_cli = AppGroup("spool", help="Webhooks kept on disk while the database was down.")


def alembic_config():
    """Alembic configuration pointing at migrations/ and the app's DATABASE_URL."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database to REVISION (default: the current schema)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Step the schema back to REVISION."""
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration comparing the models with the database."""
    from alembic import command

    command.revision(alembic_config(), message=message, autogenerate=autogenerate)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision."""
    from alembic import command

    command.current(alembic_config())


@ivr_cli.command("check")
@click.option("--dir", "directory", default=None, help="Scripts folder (default IVR_SCRIPTS_DIR).")
def ivr_check(directory: str | None) -> None:
    """Validate every IVR script; exits 1 listing each error with its file and node."""
    from hotline.ivr.check import check_directory

    folder = directory or current_app.config["IVR_SCRIPTS_DIR"]
    scripts, errors = check_directory(folder)
    for error in errors:
        click.echo(error, err=True)
    if errors:
        click.echo(f"{len(errors)} error(s) in {folder}", err=True)
        sys.exit(1)
    click.echo(
        f"ok: {len(scripts.scripts)} script(s) and {len(scripts.checkins)} check-in script(s)"
        f" in {folder}"
    )


@ivr_cli.command("diagram")
@click.option("--dir", "directory", default=None, help="Scripts folder (default IVR_SCRIPTS_DIR).")
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder for the pictures, created if needed (default: instance/ivr_diagrams).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["svg"]),
    default="svg",
    show_default=True,
    help="SVG only: a PNG needs a native renderer (cairo or a browser). Open the SVG in any "
    "browser to view, print or save it as PNG.",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of the diagram's own labels (the script's text is shown as written).",
)
def ivr_diagram(directory: str | None, out_dir: str | None, file_format: str, lang: str) -> None:
    """Draw each IVR script as a picture: one <line>.<language>.svg per script.

    Scripts with errors are drawn too (missing nodes in red), then the checker's errors are
    listed and the command exits 1.
    """
    from hotline.ivr.diagram import drawable_scripts, write_diagrams

    folder = directory or current_app.config["IVR_SCRIPTS_DIR"]
    target = Path(out_dir) if out_dir else Path(current_app.instance_path) / "ivr_diagrams"
    scripts, errors = drawable_scripts(folder)
    for path in write_diagrams(scripts, target, lang=lang):
        click.echo(f"wrote {path}")
    for error in errors:
        click.echo(error, err=True)
    if errors:
        click.echo(f"{len(errors)} error(s) in {folder}", err=True)
        sys.exit(1)


@spool_cli.command("replay")
def spool_replay() -> None:
    """Re-deliver webhooks spooled during a database outage (voicemails, status changes)."""
    from hotline.telephony.spool import replay

    done, left = replay(current_app)
    click.echo(json.dumps({"replayed": done, "still_failing": left}))


def register(app: Flask) -> None:
    """Attach the command groups to `app.cli` (`hotline.create_app` adds `seed-demo` and
    `clock`, which live in sibling wiring modules)."""
    app.cli.add_command(db_cli)
    app.cli.add_command(ivr_cli)
    app.cli.add_command(spool_cli)
    app.cli.add_command(operators_cli)
    app.cli.add_command(volunteers_cli)
    app.cli.add_command(lines_cli)
    app.cli.add_command(calendar_cli)
    app.cli.add_command(checkins_cli)
