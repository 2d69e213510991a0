"""`flask --app hotline volunteers import FILE.csv [--confirm]` and `volunteers export [FILE]`.

The import checks every row with the same check as the console form
(`hotline.directory.service.check_volunteer`). With a bad row it lists each bad row's problems
and exits 1 without storing anything, unless `--confirm` says to import the valid rows anyway.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from hotline.db import db
from hotline.directory import service

volunteers_cli = AppGroup("volunteers", help="The community volunteers' roster (邻里守望).")


@volunteers_cli.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--confirm", is_flag=True, help="Import the valid rows even when some rows are bad.")
def import_command(csv_file, confirm: bool) -> None:
    """Add the volunteers of CSV_FILE (columns as `volunteers export` writes them)."""
    checked = service.check_volunteers_csv(db.session, csv_file.read())
    if checked.file_problem is not None:
        click.echo(f"error: {checked.file_problem[1]}", err=True)
        sys.exit(1)
    for row, problems in checked.bad:
        click.echo(f"row {row}: {service.describe(problems)}", err=True)
    if checked.bad and not confirm:
        click.echo(
            f"{len(checked.bad)} bad row(s): nothing imported. Fix them, or run again with "
            f"--confirm to import the {len(checked.valid)} valid row(s).",
            err=True,
        )
        sys.exit(1)
    added = service.import_checked(db.session, checked, operator_id=None)
    db.session.commit()
    click.echo(f"imported {len(added)} volunteer(s)")
    if checked.bad:
        sys.exit(1)  # scripts still learn that some rows were left out


@volunteers_cli.command("export")
@click.argument("csv_file", type=click.File("w", encoding="utf-8"), default="-")
def export_command(csv_file) -> None:
    """Write the roster as CSV to CSV_FILE (default: standard output)."""
    csv_file.write(service.export_volunteers_csv(db.session))
