"""Referral texts: a case referred to a community volunteer or agency (邻里守望) becomes one
short SMS to them; their reply (1 / 2) comes back through hotline.sms.inbound."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from hotline.callers.models import Caller
from hotline.lines.models import Line
from hotline.phone import mask
from hotline.sms import integration, texts
from hotline.sms.models import SmsMessage, SmsPurpose
from hotline.sms.outbox import queue_sms
from hotline.sms.texts import Head
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)


def referral_offer_text(
    session: Session, referral: Any, *, lang: str | None = None
) -> tuple[str, str]:
    """(body, language) of the offer for `referral`: the case number and time first, who (the
    name the line uses for the elder, never their number), the scenario and the operator's note."""
    case = integration.referral_case(session, referral)
    line = session.get(Line, case.line_id) if case is not None and case.line_id else None
    timezone = line.timezone if line is not None else "Asia/Shanghai"
    caller = session.get(Caller, case.caller_id) if case is not None and case.caller_id else None
    language = lang or texts.caller_language(
        getattr(referral, "language", None) or (line.default_language if line else None)
    )
    note = ""
    for name in ("reason", "note", "message"):
        value = getattr(referral, name, None)
        if isinstance(value, str) and value.strip():
            note = value
            break
    body = texts.referral_offer(
        language,
        Head(utcnow(), timezone, case.number if case is not None else None),
        who=(caller.display_name if caller is not None else "") or "",
        scenario=case.scenario if case is not None else None,
        note=note,
    )
    return body, language


def on_new_referral(session: Session, referral: Any) -> SmsMessage | None:
    """The cases feature's hook for a new referral: queue the offer (does not commit)."""
    number = integration.referral_phone(referral)
    if not number or not integration.is_volunteer_referral(referral):
        log.info("referral %s: not a volunteer with a number, no SMS", getattr(referral, "id", "?"))
        return None
    case = integration.referral_case(session, referral)
    body, language = referral_offer_text(session, referral)
    message = queue_sms(
        session,
        to=number,
        body=body,
        purpose=SmsPurpose.REFERRAL,
        line_id=case.line_id if case is not None else None,
        case_id=case.id if case is not None else None,
        kind="referral_offer",
        language=language,
    )
    if hasattr(referral, "sms_id"):
        referral.sms_id = message.id
    log.info("referral offer queued for %s (%s)", mask(number), message.status.value)
    return message
