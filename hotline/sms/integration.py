"""Adapters: what the SMS feature asks of the cases, callbacks and callers features.

Every call into a feature built alongside this one goes through a function here, named after the
interface it expects, so there is one place to adjust when an interface changes:

- cases: `open_or_continue_case(session, *, caller_id, line_id, channel, ...)`,
  `record_contact(session, case, *, kind, sms_id=..., note=...)`, `add_note(...)`, the `Referral`
  model with its hook for new referrals;
- callbacks: `request_callback(..., reason=CallbackReason.SMS)`;
- callers: `FamilyContact` (consented contacts who may receive alerts).

Until an interface exists, the fallback keeps SMS working on the skeleton models (a case is found
or opened directly, contacts are only logged) and says so in the log.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.callbacks.models import CallbackReason
from hotline.callers.models import Caller
from hotline.cases.models import Case, CaseStatus
from hotline.lines.models import Line
from hotline.phone import mask
from hotline.reports.metrics import local_day
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

CLOSED_CASE_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED)


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ModuleNotFoundError:
        return None


# --------------------------------------------------------------------------- cases


def open_case_for_sms(session: Session, *, caller: Caller, line: Line) -> Case:
    """The caller's open case on the line, or a new one (channel "sms")."""
    fn = _optional("hotline.cases.service", "open_or_continue_case")
    if fn is not None:
        return fn(session, caller_id=caller.id, line_id=line.id, channel="sms")
    case = session.scalar(
        select(Case)
        .where(
            Case.caller_id == caller.id,
            Case.line_id == line.id,
            Case.status.not_in(CLOSED_CASE_STATUSES),
        )
        .order_by(Case.created_at.desc(), Case.id.desc())
    )
    if case is not None:
        return case
    day = local_day(utcnow(), line.timezone)
    count = session.scalar(select(func.count()).select_from(Case)) or 0
    case = Case(
        number=f"{day:%Y%m%d}-{count + 1:04d}",
        line_id=line.id,
        caller_id=caller.id,
        summary="",
    )
    session.add(case)
    session.flush()
    log.info("case %s opened by SMS (fallback without the cases service)", case.number)
    return case


def record_contact(
    session: Session,
    case: Case,
    *,
    kind: str,
    sms_id: int | None = None,
    referral_id: int | None = None,
    note: str = "",
) -> None:
    """Add a contact (sms_in, sms_out, referral) to the case's history (a closed case is
    read-only: the text stays in the SMS log, linked by its case_id)."""
    if getattr(case, "is_closed", False):
        log.info("case %s is closed: %s contact (sms %s) not added", case.id, kind, sms_id)
        return
    fn = _optional("hotline.cases.service", "record_contact")
    if fn is not None:
        extra = {"referral_id": referral_id} if referral_id is not None else {}
        fn(session, case, kind=kind, sms_id=sms_id, note=note, **extra)
        return
    log.debug("case %s: %s contact (sms %s) not recorded: no cases service", case.id, kind, sms_id)


def add_case_note(session: Session, case: Case, text: str) -> None:
    """A note on the case (a volunteer's reply, for instance)."""
    fn = _optional("hotline.cases.service", "add_note")
    if fn is not None:
        fn(session, case, text=text, operator_id=None)
        return
    log.debug("case %s: note not recorded: no cases service", case.id)


# --------------------------------------------------------------------------- referrals

#: Column names a referral may keep the volunteer's number under.
_REFERRAL_PHONE_FIELDS = ("target_number", "phone_number", "volunteer_phone", "to_number")
_PENDING = ("pending", "offered", "sent", "proposed")


def referral_model() -> Any:
    return _optional("hotline.cases.models", "Referral")


def _phone_column(model: Any) -> Any:
    for name in _REFERRAL_PHONE_FIELDS:
        if hasattr(model, name):
            return getattr(model, name)
    return None


def referral_phone(referral: Any) -> str | None:
    for name in _REFERRAL_PHONE_FIELDS:
        value = getattr(referral, name, None)
        if value:
            return value
    return None


def _status_value(referral: Any) -> str:
    status = getattr(referral, "status", None)
    return str(getattr(status, "value", status) or "").lower()


def is_volunteer_number(session: Session, number: str) -> bool:
    """True when some referral was made to this number (a registered volunteer or agency)."""
    model = referral_model()
    column = _phone_column(model) if model is not None else None
    if column is None:
        return False
    return session.scalar(select(func.count()).select_from(model).where(column == number)) > 0


def pending_referral_for(session: Session, number: str) -> Any | None:
    """The newest referral to `number` still waiting for the volunteer's answer."""
    model = referral_model()
    column = _phone_column(model) if model is not None else None
    if column is None:
        return None
    order = getattr(model, "referred_at", None) or getattr(model, "created_at", None) or model.id
    for referral in session.scalars(select(model).where(column == number).order_by(order.desc())):
        if _status_value(referral) in _PENDING:
            return referral
    return None


def referral_case(session: Session, referral: Any) -> Case | None:
    case = getattr(referral, "case", None)
    if case is None and getattr(referral, "case_id", None) is not None:
        case = session.get(Case, referral.case_id)
    return case


def answer_referral(
    session: Session, referral: Any, *, accepted: bool | None, sms_id: int, text: str
) -> None:
    """The volunteer's reply lands on the case: the text as a contact of the case, and an
    accept (1) or decline (2) as the referral's answer (`record_referral_response`)."""
    case = referral_case(session, referral)
    if case is not None:
        record_contact(
            session,
            case,
            kind="sms_in",
            sms_id=sms_id,
            referral_id=getattr(referral, "id", None),
            note=text,
        )
    if accepted is None:
        return
    fn = _optional("hotline.cases.service", "record_referral_response")
    if fn is not None:
        fn(session, referral, is_accepted=accepted, response_text=text, actor="volunteer:sms")
        return
    status_enum = type(getattr(referral, "status", ""))
    wanted = "accepted" if accepted else "declined"
    try:
        referral.status = status_enum(wanted)
    except (ValueError, TypeError):
        referral.status = wanted
    if hasattr(referral, "responded_at"):
        referral.responded_at = utcnow()


def is_volunteer_referral(referral: Any) -> bool:
    """Volunteers are told by SMS; agencies are contacted by the operator."""
    kind = getattr(referral, "target_kind", None)
    return kind is None or str(getattr(kind, "value", kind)) == "volunteer"


def mark_overdue_alerted(session: Session, case_id: int | None, now: datetime) -> None:
    """Tell the cases feature that supervisors were alerted about an overdue escalation."""
    fn = _optional("hotline.cases.service", "mark_overdue_alerted")
    case = session.get(Case, case_id) if case_id is not None else None
    if fn is not None and case is not None:
        fn(session, case, now)


def register_referral_hook(app: Flask, hook: Callable[[Session, Any], None]) -> bool:
    """Ask the cases feature to call `hook(session, referral)` for each new referral."""
    for name in ("add_referral_hook",):
        register = _optional("hotline.cases.service", name)
        if register is not None:
            register(app, hook)
            return True
    return False


# --------------------------------------------------------------------------- callbacks


def request_callback_by_sms(
    session: Session, *, line: Line, caller: Caller, arrived_at: datetime, case: Case | None
) -> Any:
    """The caller texted 回电 / 1 / CALLBACK: one callback owed (merged with an active one)."""
    from hotline.callbacks.service import request_callback

    note = f"SMS; case {case.number}" if case is not None else "SMS"
    extra = {}
    if case is not None and "case_id" in inspect.signature(request_callback).parameters:
        extra["case_id"] = case.id
    callback = request_callback(
        session,
        line_id=line.id,
        phone_number=caller.phone_number,
        reason=CallbackReason.SMS,
        original_arrival_at=arrived_at,
        caller_id=caller.id,
        language=caller.language,
        note=note,
        **extra,
    )
    log.info("callback requested by SMS from %s", mask(caller.phone_number))
    return callback


# --------------------------------------------------------------------------- callers


def is_consented_family_number(session: Session, number: str) -> bool:
    """A family contact of some elder who may be told by SMS (consent recorded, not revoked)."""
    model = _optional("hotline.callers.models", "FamilyContact")
    if model is None or not hasattr(model, "phone_number"):
        return False
    for contact in session.scalars(select(model).where(model.phone_number == number)):
        may = getattr(contact, "may", None)
        try:
            if may is not None and may("may_receive_alerts"):
                return True
        except ValueError:
            return False
    return False
