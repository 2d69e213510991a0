"""The CSV export of cases (personal columns only for those allowed to see them). A read."""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callers.models import Caller
from hotline.cases.models import (
    CaseContact,
)
from hotline.cases.queries import CaseFilters, search_cases
from hotline.operators.models import Operator
from hotline.timeutil import console_timezone

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- CSV export

#: Columns everyone may export: nothing that identifies the caller.
EXPORT_COLUMNS = (
    "case_number",
    "created_at",
    "channel",
    "scenario",
    "sub_topic",
    "status",
    "waiting_on",
    "outcome",
    "is_urgent",
    "escalated_at",
    "escalation_deadline_at",
    "owner",
    "contacts",
    "last_activity_at",
    "resolved_at",
)
#: Columns only supervisors export.
PERSONAL_EXPORT_COLUMNS = (
    "caller_name",
    "caller_phone",
    "caller_district",
    "caller_age_band",
    "summary",
    "escalation_reason",
    "outcome_note",
)
MAX_EXPORT_ROWS = 20000


def export_columns(*, is_personal: bool) -> tuple[str, ...]:
    return EXPORT_COLUMNS + (PERSONAL_EXPORT_COLUMNS if is_personal else ())


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (a leading = + - @ is quoted with ')."""
    text = "" if value is None else str(value)
    if re.fullmatch(r"\+\d{6,15}", text):
        return text  # a phone number, not a formula
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def export_cases_csv(
    session: Session, filters: CaseFilters, *, is_personal: bool, operator_id: int | None
) -> tuple[str, int]:
    """The filtered cases as CSV (UTF-8 with BOM for spreadsheet programs); personal columns
    only when `is_personal` (supervisors). The export is recorded in the audit trail. Flushes.
    """
    tz = console_timezone()
    cases = session.scalars(search_cases(session, filters).limit(MAX_EXPORT_ROWS)).all()
    case_ids = [c.id for c in cases]
    counts = dict(
        session.execute(
            select(CaseContact.case_id, func.count())
            .where(CaseContact.case_id.in_(case_ids or [-1]))
            .group_by(CaseContact.case_id)
        ).all()
    )
    owners = dict(session.execute(select(Operator.id, Operator.display_name)).all())
    caller_ids = {c.caller_id for c in cases if c.caller_id}
    callers = {
        c.id: c for c in session.scalars(select(Caller).where(Caller.id.in_(caller_ids or [-1])))
    }

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    columns = export_columns(is_personal=is_personal)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for case in cases:
        row = {
            "case_number": case.number,
            "created_at": when(case.created_at),
            "channel": case.channel,
            "scenario": case.scenario,
            "sub_topic": case.sub_topic,
            "status": case.status.value,
            "waiting_on": case.waiting_on.value if case.waiting_on else "",
            "outcome": case.outcome.value if case.outcome else "",
            "is_urgent": "yes" if case.is_urgent else "no",
            "escalated_at": when(case.escalated_at),
            "escalation_deadline_at": when(case.escalation_deadline_at),
            "owner": owners.get(case.owner_id, "") if case.owner_id else "",
            "contacts": counts.get(case.id, 0),
            "last_activity_at": when(case.last_activity_at),
            "resolved_at": when(case.resolved_at),
        }
        if is_personal:
            caller = callers.get(case.caller_id)
            row.update(
                {
                    "caller_name": caller.name or caller.display_name if caller else "",
                    "caller_phone": caller.phone_number if caller else "",
                    "caller_district": caller.district if caller else "",
                    "caller_age_band": caller.age_band.value if caller and caller.age_band else "",
                    "summary": case.summary,
                    "escalation_reason": case.escalation_reason,
                    "outcome_note": case.outcome_note,
                }
            )
        writer.writerow([csv_safe(row[c]) for c in columns])
    audit.record(
        session,
        entity="export",
        entity_id=None,
        action="csv_export",
        operator_id=operator_id,
        after={
            "filters": filters.describe(),
            "rows": len(cases),
            "is_personal": is_personal,
            "columns": list(columns),
        },
    )
    return "\ufeff" + buffer.getvalue(), len(cases)
