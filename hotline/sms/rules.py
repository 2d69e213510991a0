"""Who may get a text: the rules that keep messages where they belong and stop SMS pumping.

SMS pumping (toll fraud) makes an application send many texts to numbers the fraudster is paid
for, usually in other countries. Our defences, each refusing with a logged reason:

1. The number policy every outbound call and text passes (`hotline.numberpolicy`: allowed
   calling codes, China by default, `OUTBOUND_ALLOWED_COUNTRY_CODES`; no premium-rate, shared-
   cost, satellite or other costly ranges). One copy of the rule for calls and texts.
2. Only known people: a caller's number (a caller profile, or a callback owed to the number),
   a registered supervisor, a volunteer a case was referred to (or who looks after an elder
   enrolled in check-ins), or a family contact who consented to alerts. Staff texts (summaries, alerts) go to registered supervisors only.
3. Opt-outs: after STOP (退订) nothing but the confirmation of the opt-out itself, until the
   person sends START; after a carrier opt-out (21610) nothing at all.
4. Daily caps per destination and per line, in the line's local day. The last
   `SMS_DAILY_RESERVE_PER_LINE` texts of the line's cap are kept for staff (supervisors' texts,
   texts an operator wrote) and for callers known before today, so strangers texting the line
   cannot use up the cap and have supervisor replies and confirmations refused.
5. No links in any text (feature phones cannot open them, and links are what phishing uses).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.callbacks.models import CallbackRequest
from hotline.callers.service import find_caller
from hotline.lines.models import Line
from hotline.numberpolicy import NumberPolicy
from hotline.sms import integration
from hotline.sms.models import (
    COUNTED_STATUSES,
    OptOutSource,
    SmsDirection,
    SmsMessage,
    SmsOptOut,
    SmsPurpose,
)
from hotline.sms.recipients import supervisor_by_number
from hotline.sms.settings import sms_settings
from hotline.timeutil import local_day, local_day_bounds

log = logging.getLogger(__name__)

STAFF_PURPOSES = (SmsPurpose.SUPERVISOR_SUMMARY, SmsPurpose.SUPERVISOR_ALERT)
#: The confirmation of a keyword opt-out: the one text an opted-out number still gets.
OPT_OUT_CONFIRMATION_KIND = "opted_out"
LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:com|cn|net|org|cc|top|xyz|ly)(?:/|\b)", re.I)


def recipient_kind(session: Session, number: str) -> str | None:
    """The allowlist: how the number is known to the hotline, or None."""
    if supervisor_by_number(session, number) is not None:
        return "supervisor"
    if find_caller(session, number) is not None:
        return "caller"
    if (
        session.scalar(
            select(CallbackRequest.id).where(CallbackRequest.phone_number == number).limit(1)
        )
        is not None
    ):
        return "caller"
    if integration.is_volunteer_number(session, number):
        return "volunteer"
    if integration.is_consented_family_number(session, number):
        return "family"
    return None


def opt_out_of(session: Session, number: str) -> SmsOptOut | None:
    """The number's opt-out, when it is in force."""
    row = session.scalar(select(SmsOptOut).where(SmsOptOut.phone_number == number))
    return row if row is not None and row.is_opted_out else None


def _day_start(session: Session, line_id: int | None, now: datetime) -> datetime:
    timezone = None
    if line_id is not None:
        line = session.get(Line, line_id)
        timezone = line.timezone if line is not None else None
    timezone = timezone or current_app.config.get("HOTLINE_TIMEZONE", "Asia/Shanghai")
    return local_day_bounds(local_day(now, timezone), timezone)[0]


def _sent_today(session: Session, since: datetime, *conditions) -> int:
    return session.scalar(
        select(func.count())
        .select_from(SmsMessage)
        .where(
            SmsMessage.direction == SmsDirection.OUTBOUND,
            SmsMessage.status.in_(COUNTED_STATUSES),
            SmsMessage.created_at >= since,
            *conditions,
        )
    )


def may_use_reserve(
    session: Session,
    *,
    to: str,
    kind: str,
    purpose: SmsPurpose,
    operator_id: int | None,
    since: datetime,
) -> bool:
    """True when a text may use the line's reserve: staff texts, texts an operator wrote, and
    texts to supervisors, volunteers, family contacts or callers known before today."""
    if purpose in STAFF_PURPOSES or operator_id is not None or kind != "caller":
        return True
    caller = find_caller(session, to)
    return caller is not None and caller.created_at < since


def refusal_reason(
    session: Session,
    *,
    to: str,
    body: str,
    purpose: SmsPurpose,
    line_id: int | None,
    now: datetime,
    check_caps: bool = True,
    kind: str | None = None,
    operator_id: int | None = None,
) -> str | None:
    """Why this text must not be sent, in words for the log and the row, or None when it may.

    Checked when a text is queued (caps included) and again just before sending (without caps:
    the text already counts against them), so a STOP that arrives in between is respected.
    `kind` is the message's kind (the opt-out confirmation is the one text an opted-out number
    gets); `operator_id` names the operator who wrote it (staff texts may use the reserve).
    """
    refusal = NumberPolicy.from_config(current_app.config).refusal(to)
    if refusal is not None:
        return refusal
    if LINK.search(body):
        return "the text contains a link"
    recipient = recipient_kind(session, to)
    if recipient is None:
        return "number not linked to a caller, case, supervisor or volunteer"
    if purpose in STAFF_PURPOSES and recipient != "supervisor":
        return f"{purpose.value} goes to registered supervisors only"
    if purpose == SmsPurpose.FAMILY_ALERT and recipient not in ("family", "caller"):
        return "family alerts go to consented family contacts only"
    opt_out = opt_out_of(session, to)
    if opt_out is not None:
        if opt_out.source == OptOutSource.CARRIER:
            return "opted out at the carrier (21610): no texts until the person sends START"
        if kind != OPT_OUT_CONFIRMATION_KIND:
            return f"opted out ({opt_out.trigger or 'STOP'}): no texts until the person sends START"
    if check_caps:
        since = _day_start(session, line_id, now)
        settings = sms_settings()
        cap = (
            settings.daily_cap_per_staff_number
            if recipient == "supervisor"
            else settings.daily_cap_per_number
        )
        if _sent_today(session, since, SmsMessage.to_number == to) >= cap:
            return f"daily cap of {cap} texts to this number reached"
        if line_id is not None:
            line_cap = settings.daily_cap_per_line
            reserved = settings.daily_reserve_per_line > 0 and not may_use_reserve(
                session,
                to=to,
                kind=recipient,
                purpose=purpose,
                operator_id=operator_id,
                since=since,
            )
            if reserved:
                # The last texts of the day are kept for staff and known callers.
                line_cap = max(0, line_cap - settings.daily_reserve_per_line)
            if _sent_today(session, since, SmsMessage.line_id == line_id) >= line_cap:
                if reserved:
                    return (
                        f"daily cap of {line_cap} texts for this line reached "
                        f"(the last {settings.daily_reserve_per_line} are kept for staff "
                        "and known callers)"
                    )
                return f"daily cap of {line_cap} texts for this line reached"
    return None
