"""Putting texts in the outbox (the clock sends them; see the SMS feature)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from hotline.sms.models import SmsDirection, SmsMessage, SmsPurpose, SmsStatus
from hotline.timeutil import utcnow


def queue_sms(
    session: Session,
    *,
    to: str,
    body: str,
    purpose: SmsPurpose,
    line_id: int | None,
    caller_id: int | None = None,
    case_id: int | None = None,
    send_after: datetime | None = None,
) -> SmsMessage:
    """Add one outbound text to the outbox (flushes; the caller's transaction commits)."""
    message = SmsMessage(
        direction=SmsDirection.OUTBOUND,
        status=SmsStatus.QUEUED,
        purpose=purpose,
        line_id=line_id,
        caller_id=caller_id,
        case_id=case_id,
        to_number=to,
        body=body,
        send_after=send_after or utcnow(),
    )
    session.add(message)
    session.flush()
    return message
