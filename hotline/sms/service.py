"""The SMS feature's operations, for other features and the views.

- `queue_sms(...)`: put one text in the outbox (rules applied; refused rows keep the reason).
- `queue_text(...)`: render a text kind in the recipient's language and queue it.
- `receive_sms(...)`, `apply_message_status(...)`: the two webhooks.
- `send_due(...)`: the clock's sweep; `check_clock(...)`: the clock-silent alert from outside it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hotline.sms import texts
from hotline.sms.alerts import check_clock, run_alerts, sync_alerts  # noqa: F401
from hotline.sms.inbound import IncomingSms, receive_sms  # noqa: F401
from hotline.sms.models import SmsMessage, SmsPurpose
from hotline.sms.outbox import (  # noqa: F401
    apply_message_status,
    mark_opted_out,
    mark_resumed,
    queue_sms,
    send_due,
)
from hotline.sms.referrals import on_new_referral  # noqa: F401
from hotline.sms.texts import Head


def queue_callback_failed(
    session: Session,
    *,
    to: str,
    line_id: int,
    timezone: str,
    attempts: int,
    language: str | None,
    caller_id: int | None = None,
    case_id: int | None = None,
    case_number: str | None = None,
    at: datetime | None = None,
) -> SmsMessage:
    """After the last callback attempt failed: tell the caller (the callbacks feature's text;
    does not commit)."""
    from hotline.timeutil import utcnow

    lang = texts.caller_language(language)
    body = texts.callback_failed(
        lang, Head(at or utcnow(), timezone, case_number), attempts=attempts
    )
    return queue_sms(
        session,
        to=to,
        body=body,
        purpose=SmsPurpose.CALLBACK_FAILED,
        line_id=line_id,
        caller_id=caller_id,
        case_id=case_id,
        kind="callback_failed",
        language=lang,
    )
