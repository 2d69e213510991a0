"""After the last failed attempt: tell the caller, the supervisors and a consented family contact.

Everything here only writes rows to the SMS outbox (the clock sends them); it runs inside the
transaction that marks the callback failed, so the texts exist exactly when the failure does.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.callbacks import texts
from hotline.callbacks.models import AttemptOutcome, CallbackAttempt, CallbackRequest
from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.lines.models import Line
from hotline.operators.models import Operator, Role
from hotline.phone import mask
from hotline.sms.models import SmsPurpose
from hotline.sms.service import queue_sms

log = logging.getLogger(__name__)


def _case(session: Session, callback: CallbackRequest):
    """The callback's first case, if any (its number goes first in every text)."""
    cases = cases_of(session, callback)
    return cases[0] if cases else None


def alert_final_failure(
    session: Session, callback: CallbackRequest, last_outcome: AttemptOutcome
) -> None:
    """Queue the caller's SMS, the supervisors' alerts and the family message (does not commit)."""
    line = session.get(Line, callback.line_id)
    assert line is not None
    caller = session.get(Caller, callback.caller_id) if callback.caller_id else None
    case = _case(session, callback)
    case_number = case.number if case is not None else None
    case_id = case.id if case is not None else None
    called_at_local = callback.original_arrival_at.astimezone(ZoneInfo(line.timezone))
    language = callback.language or (caller.language if caller else None) or line.default_language
    caller_label = (caller.display_name or caller.name) if caller else ""

    if callback.phone_number.startswith("+"):
        queue_sms(
            session,
            to=callback.phone_number,
            body=texts.caller_failed_sms(
                language=language,
                case_number=case_number,
                called_at_local=called_at_local,
                attempts=callback.attempts,
                line_name=line.name,
                line_number=line.phone_number,
            ),
            purpose=SmsPurpose.CALLBACK_FAILED,
            line_id=line.id,
            caller_id=callback.caller_id,
            case_id=case_id,
        )
    for supervisor in supervisors_to_alert(session):
        queue_sms(
            session,
            to=supervisor.phone_number or "",
            body=texts.supervisor_alert_sms(
                console_language=supervisor.console_language,
                case_number=case_number,
                called_at_local=called_at_local,
                caller_label=caller_label,
                caller_number=callback.phone_number,
                attempts=callback.attempts,
                last_outcome=last_outcome,
            ),
            purpose=SmsPurpose.SUPERVISOR_ALERT,
            line_id=line.id,
            caller_id=callback.caller_id,
            case_id=case_id,
        )
    for contact in family_contacts_to_alert(session, callback.caller_id):
        queue_sms(
            session,
            to=contact.phone_number,
            body=texts.family_alert_sms(
                language=language,
                case_number=case_number,
                called_at_local=called_at_local,
                elder_label=caller_label,
                attempts=callback.attempts,
                line_name=line.name,
                line_number=line.phone_number,
            ),
            purpose=SmsPurpose.FAMILY_ALERT,
            line_id=line.id,
            caller_id=callback.caller_id,
            case_id=case_id,
        )
    log.warning(
        "callback %s for %s failed after %s attempts; caller, supervisors and family told",
        callback.id,
        mask(callback.phone_number),
        callback.attempts,
    )


def family_contacts_to_alert(session: Session, caller_id: int | None) -> list:
    """The elder's family contacts whose consent is in force and who agreed to be told when we
    cannot reach the elder (the caller profiles feature decides; see
    `hotline.callers.service.consented_family_contacts`)."""
    if caller_id is None:
        return []
    from hotline.callers.service import consented_family_contacts

    return [
        contact
        for contact in consented_family_contacts(session, caller_id, "may_receive_alerts")
        if contact.phone_number
    ]


# ----------------------------------------------------------------------------------------------
# INTERIM (architecture branch arch-voice): callbacks/service.py no longer knows cases or
# supervisors; it publishes CallbackAttemptEnded and CallbackGaveUp. Until the cases/alerts
# branch merges (which moves this file into alerts/ and re-creates these as subscribers there),
# the subscribers below keep the behaviour, wired in hotline.app.SUBSCRIPTIONS. Delete at merge.


def cases_of(session: Session, callback: CallbackRequest) -> list:
    """The cases a callback belongs to: its own `case_id`, and the cases that scheduled it
    (linked by the cases feature with `CaseCallback`)."""
    from hotline.cases.models import Case, CaseCallback

    case_ids = {callback.case_id} if callback.case_id else set()
    case_ids |= set(
        session.scalars(
            select(CaseCallback.case_id).where(CaseCallback.callback_id == callback.id)
        ).all()
    )
    found = [session.get(Case, case_id) for case_id in sorted(case_ids)]
    return [row for row in found if row is not None]


def record_attempt_on_case(
    session: Session, callback: CallbackRequest, attempt: CallbackAttempt
) -> None:
    """Record one ended attempt on each of the callback's cases (the case log shows them all).

    A closed case is read-only and is skipped. Must not commit (runs inside finish_attempt).
    """
    cases = cases_of(session, callback)
    if not cases:
        return
    from hotline.cases.models import ContactKind
    from hotline.cases.service import record_contact
    from hotline.errors import CaseIsClosed

    call = (
        session.scalar(select(Call).where(Call.call_sid == attempt.call_sid))
        if attempt.call_sid
        else None
    )
    outcome = attempt.outcome.value if attempt.outcome else ""
    note = f"回电第{attempt.number}次:{texts.outcome_label(outcome)} ({outcome})"
    for linked in cases:
        try:
            record_contact(
                session,
                linked,
                kind=ContactKind.CALLBACK_ATTEMPT,
                call_id=call.id if call else None,
                callback_id=callback.id,
                note=note,
            )
        except CaseIsClosed:
            log.info(
                "case %s is closed; callback attempt %s not recorded on it", linked.id, attempt.id
            )


def supervisors_to_alert(session: Session) -> list[Operator]:
    """Active supervisors with a phone number (they get SMS alerts)."""
    return list(
        session.scalars(
            select(Operator)
            .where(
                Operator.role == Role.SUPERVISOR,
                Operator.is_active.is_(True),
                Operator.phone_number.is_not(None),
                Operator.phone_number != "",
            )
            .order_by(Operator.id)
        ).all()
    )


def on_attempt_ended(session: Session, event) -> None:
    """INTERIM CallbackAttemptEnded subscriber: the ended attempt on each of its cases."""
    attempt = session.get(CallbackAttempt, event.attempt_id)
    callback = session.get(CallbackRequest, event.callback_id)
    assert attempt is not None and callback is not None
    record_attempt_on_case(session, callback, attempt)


def on_gave_up(session: Session, event) -> None:
    """INTERIM CallbackGaveUp subscriber: the texts and alerts of a final failure."""
    callback = session.get(CallbackRequest, event.callback_id)
    assert callback is not None
    alert_final_failure(session, callback, AttemptOutcome(event.last_outcome))
