"""The check-in report as CSV, with the cases export's role rule: everyone gets the figures,
supervisors also the personal columns (who was missed, the volunteer's number). Audited."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.cases.export import csv_safe
from hotline.checkins.queries import CheckinReport, ReportRow
from hotline.directory.models import Volunteer

#: Columns everyone may export: figures only.
REPORT_COLUMNS = (
    "group",
    "enrolled",
    "checkins_placed",
    "answered_ok",
    "needed_help",
    "missed",
    "reached",
    "average_minutes_to_reach",
)
#: Columns only supervisors export.
PERSONAL_REPORT_COLUMNS = ("volunteer_phone", "missed_elders")


def report_columns(*, is_personal: bool) -> tuple[str, ...]:
    return REPORT_COLUMNS + (PERSONAL_REPORT_COLUMNS if is_personal else ())


def minutes(seconds: float | None) -> str:
    """Minutes with one decimal ("" when nobody was reached)."""
    return "" if seconds is None else f"{seconds / 60:.1f}"


def most_missed(row: ReportRow) -> list[tuple[int, int]]:
    """(caller id, times missed), most missed first."""
    return sorted(row.missed_elders.items(), key=lambda kv: (-kv[1], kv[0]))


def missed_elders_text(report: CheckinReport, row: ReportRow) -> str:
    """The missed elders as "王阿姨 +861055550001 ×2; ..." (most missed first)."""
    parts = []
    for caller_id, count in most_missed(row):
        elder = report.elders.get(caller_id)
        name = (elder.label if elder else "") or f"#{caller_id}"
        number = elder.phone_number if elder else ""
        parts.append(f"{name} {number} ×{count}".replace("  ", " "))
    return "; ".join(parts)


def export_report_csv(
    session: Session, report: CheckinReport, *, is_personal: bool, operator_id: int | None
) -> str:
    """The report as CSV (UTF-8 with BOM), with a total row; flushes the audit entry."""
    columns = report_columns(is_personal=is_personal)
    phones = {}
    if is_personal and report.grouping == "volunteer":
        ids = [int(r.key) for r in report.rows if r.key]
        phones = dict(
            session.execute(
                select(Volunteer.id, Volunteer.phone_number).where(Volunteer.id.in_(ids or [-1]))
            ).all()
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in [*report.rows, report.total]:
        values = {
            "group": row.label if row is not report.total else "total",
            "enrolled": row.enrolled,
            "checkins_placed": row.placed,
            "answered_ok": row.ok,
            "needed_help": row.help,
            "missed": row.missed,
            "reached": row.reached,
            "average_minutes_to_reach": minutes(row.average_reach_seconds),
        }
        if is_personal:
            values["volunteer_phone"] = phones.get(int(row.key), "") if row.key.isdigit() else ""
            values["missed_elders"] = missed_elders_text(report, row)
        writer.writerow([csv_safe(values[c]) for c in columns])
    audit.record(
        session,
        entity="export",
        entity_id=None,
        action="csv_export",
        operator_id=operator_id,
        after={
            "report": "checkins",
            "grouping": report.grouping,
            "from": report.day_from.isoformat(),
            "to": report.day_to.isoformat(),
            "rows": len(report.rows),
            "is_personal": is_personal,
            "columns": list(columns),
        },
    )
    return "\ufeff" + buffer.getvalue()
