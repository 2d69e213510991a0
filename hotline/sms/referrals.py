"""Referral texts: a case referred to a community volunteer (邻里守望) becomes one short SMS to
them; their reply (1 / 2) comes back through hotline.sms.inbound and lands on the case."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from hotline.callers.models import Caller
from hotline.cases.events import CaseReferred
from hotline.cases.models import Referral
from hotline.lines.models import Line
from hotline.phone import mask
from hotline.sms import integration, texts
from hotline.sms.models import SmsMessage, SmsPurpose
from hotline.sms.outbox import queue_sms
from hotline.sms.texts import Head
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def referral_offer_text(session: Session, referral: Referral) -> tuple[str, str]:
    """(body, language) of the offer: the case number and time first, who (the name the line
    uses for the elder, never their number), the scenario and the operator's reason. Volunteers
    get the line's default language."""
    case = integration.referral_case(session, referral)
    line = session.get(Line, case.line_id) if case is not None and case.line_id else None
    caller = session.get(Caller, case.caller_id) if case is not None and case.caller_id else None
    language = texts.caller_language(line.default_language if line else None)
    body = texts.referral_offer(
        language,
        Head(utcnow(), line.timezone if line else "Asia/Shanghai", case.number if case else None),
        who=caller.display_name if caller is not None else "",
        scenario=case.scenario if case is not None else None,
        note=referral.reason or "",
    )
    return body, language


def on_case_referred(session: Session, event: CaseReferred) -> None:
    """Subscriber of `CaseReferred` (hotline.app.SUBSCRIPTIONS): see `on_new_referral`."""
    referral = session.get(Referral, event.referral_id)
    if referral is not None:
        on_new_referral(session, referral)


def on_new_referral(session: Session, referral: Referral) -> SmsMessage | None:
    """A new referral: queue the offer to a volunteer (agencies are contacted by the
    operator). Does not commit."""
    if not integration.is_volunteer_referral(referral):
        log.info("referral %s is not to a volunteer with a number: no SMS", referral.id)
        return None
    case = integration.referral_case(session, referral)
    body, language = referral_offer_text(session, referral)
    message = queue_sms(
        session,
        to=referral.target_number,
        body=body,
        purpose=SmsPurpose.REFERRAL,
        line_id=case.line_id if case is not None else None,
        case_id=referral.case_id,
        kind="referral_offer",
        language=language,
    )
    referral.sms_id = message.id
    log.info(
        "referral offer queued for %s (%s)", mask(referral.target_number), message.status.value
    )
    return message
