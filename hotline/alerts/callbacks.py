"""After the last failed attempt: tell the caller, the supervisors and a consented family contact.

`on_callback_gave_up` subscribes to `CallbackGaveUp` (hotline.app.SUBSCRIPTIONS). Everything here
only writes rows to the SMS outbox (the clock sends them); it runs inside the transaction that
marks the callback failed, so the texts exist exactly when the failure does. Never commits.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from hotline.alerts.quiet import held_until
from hotline.callbacks import texts
from hotline.callbacks.events import CallbackGaveUp
from hotline.callbacks.models import AttemptOutcome, CallbackReason, CallbackRequest
from hotline.callers.models import Caller
from hotline.callers.service import consented_family_contacts
from hotline.cases.queries import cases_of_callback
from hotline.lines.models import Line
from hotline.phone import mask
from hotline.sms.models import AlertKind, SmsPurpose
from hotline.sms.outbox import queue_sms
from hotline.sms.recipients import recipients_for
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def _case(session: Session, callback: CallbackRequest):
    """The callback's first case, if any (its number goes first in every text)."""
    cases = cases_of_callback(session, callback)
    return cases[0] if cases else None


def on_callback_gave_up(session: Session, event: CallbackGaveUp) -> None:
    """Subscriber of `CallbackGaveUp`: the final-failure texts (see `alert_final_failure`)."""
    callback = session.get(CallbackRequest, event.callback_id)
    if callback is None:
        return
    if callback.reason == CallbackReason.CHECK_IN:
        return  # a missed check-in has its own cascade (hotline.checkins.cascade)
    alert_final_failure(session, callback, AttemptOutcome(event.last_outcome))


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
    held = held_until(line, AlertKind.CALLBACKS_FAILING, utcnow())
    for supervisor in recipients_for(session, line.id, AlertKind.CALLBACKS_FAILING.value):
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
            send_after=held,
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
    return [
        contact
        for contact in consented_family_contacts(session, caller_id, "may_receive_alerts")
        if contact.phone_number
    ]
