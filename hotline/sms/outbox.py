"""The outbox: every outbound text is a row; the clock claims due rows and sends them.

Exactly once under several clocks: a clock claims rows with a conditional UPDATE (status queued,
or sending with an expired lease) after selecting candidates `FOR UPDATE SKIP LOCKED` on
PostgreSQL, commits the claim, and only then calls Twilio, outside any transaction; the result is
written back to the row it owns. A clock that dies after claiming leaves a lease that expires, so
the text is still sent. (A clock that dies in the few milliseconds between Twilio accepting a text
and the commit would have it sent again after the lease: the one window no database can close,
because Twilio's Messages API has no idempotency key.)

Pacing: Twilio sends about one segment per second per long code and queues the rest; we keep
each sender within `SMS_SEGMENTS_PER_SECOND` over a short window, so a burst of summaries cannot
delay an alert for minutes inside Twilio's queue.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioRestException

from hotline.cases.models import Case, ContactKind
from hotline.lines.models import Line
from hotline.phone import mask, try_normalise
from hotline.segments import segment_count
from hotline.sms import integration
from hotline.sms.models import (
    OptOutSource,
    SmsDirection,
    SmsMessage,
    SmsOptOut,
    SmsPurpose,
    SmsStatus,
    SmsStatusEvent,
    SmsSweep,
)
from hotline.sms.rules import refusal_reason
from hotline.sms.settings import sms_settings
from hotline.telephony.gateway import get_gateway, public_base_url
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: Twilio error: the recipient has opted out (replied STOP to this sender). Final.
OPTED_OUT_ERROR = 21610
#: Errors worth another try later (rate limits, Twilio's own trouble).
TRANSIENT_ERRORS = {20429, 20500, 20503, 30001, 30002}

#: Our statuses in progress order: a status callback never moves a row backwards.
_RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.SENT: 2,
    SmsStatus.DELIVERED: 3,
    SmsStatus.UNDELIVERED: 3,
    SmsStatus.FAILED: 3,
    SmsStatus.REFUSED: 3,
}
#: Twilio's message statuses in progress order; the final ones share the top rank.
_TWILIO_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
_TWILIO_TO_OURS = {
    "accepted": SmsStatus.SENT,
    "scheduled": SmsStatus.SENT,
    "queued": SmsStatus.SENT,
    "sending": SmsStatus.SENT,
    "sent": SmsStatus.SENT,
    "delivered": SmsStatus.DELIVERED,
    "read": SmsStatus.DELIVERED,
    "undelivered": SmsStatus.UNDELIVERED,
    "failed": SmsStatus.FAILED,
    "canceled": SmsStatus.FAILED,
}


def sender_number(session: Session, line_id: int | None) -> str:
    """The number texts are sent from: SMS_FROM_NUMBER, else the line's own number."""
    configured = sms_settings().from_number
    if configured:
        return configured
    line = session.get(Line, line_id) if line_id is not None else None
    if line is None:
        line = session.scalar(select(Line).where(Line.is_active).order_by(Line.id))
    return line.phone_number if line is not None else ""


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
    operator_id: int | None = None,
    kind: str | None = None,
    language: str | None = None,
) -> SmsMessage:
    """Add one outbound text to the outbox (flushes; the caller's transaction commits).

    The rules (the number policy, allowlist, opt-out, caps and reserve, no links) are applied now: a text that may not
    go is still written, with status `refused` and the reason, and logged, so nothing is silently
    dropped. Check `message.status` when it matters.
    """
    now = utcnow()
    number = try_normalise(to, current_app.config.get("DEFAULT_REGION", "CN")) or to.strip()
    message = SmsMessage(
        direction=SmsDirection.OUTBOUND,
        status=SmsStatus.QUEUED,
        purpose=purpose,
        kind=kind,
        language=language,
        line_id=line_id,
        caller_id=caller_id,
        case_id=case_id,
        operator_id=operator_id,
        to_number=number[:64],
        from_number=sender_number(session, line_id),
        body=body,
        segments=segment_count(body),
        send_after=send_after or now,
        created_at=now,
    )
    reason = refusal_reason(
        session,
        to=message.to_number,
        body=body,
        purpose=purpose,
        line_id=line_id,
        now=now,
        kind=kind,
        operator_id=operator_id,
    )
    if reason is not None:
        message.status = SmsStatus.REFUSED
        message.status_reason = reason[:300]
        log.warning(
            "SMS to %s refused (%s, %s): %s", mask(message.to_number), purpose.value, kind, reason
        )
    session.add(message)
    session.flush()
    return message


# --------------------------------------------------------------------------- sending


@dataclass
class SweepResult:
    """What one sweep of the outbox did (ids per outcome)."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed) + len(self.refused)


def _due_condition(now: datetime):
    return and_(
        SmsMessage.direction == SmsDirection.OUTBOUND,
        or_(
            and_(SmsMessage.status == SmsStatus.QUEUED, SmsMessage.send_after <= now),
            and_(SmsMessage.status == SmsStatus.SENDING, SmsMessage.lease_expires_at < now),
        ),
    )


def _pacing_budgets(session: Session, senders: set[str], now: datetime) -> dict[str, float]:
    """Segments each sender may still send in the current pacing window."""
    window = sms_settings().pacing_window_seconds
    allowance = sms_settings().segments_per_second * window
    since = now - timedelta(seconds=window)
    used = dict(
        session.execute(
            select(SmsMessage.from_number, func.coalesce(func.sum(SmsMessage.segments), 0))
            .where(
                SmsMessage.direction == SmsDirection.OUTBOUND,
                SmsMessage.from_number.in_(senders),
                or_(
                    SmsMessage.sent_at >= since,
                    and_(
                        SmsMessage.status == SmsStatus.SENDING,
                        SmsMessage.lease_expires_at >= now,
                    ),
                ),
            )
            .group_by(SmsMessage.from_number)
        ).all()
    )
    return {sender: allowance - float(used.get(sender, 0)) for sender in senders}


@dataclass(frozen=True)
class Claim:
    """A text this clock now owns. `ask_twilio_since` is set when an earlier attempt may have
    reached Twilio without our knowing: a takeover of an expired lease (a clock died while
    sending) or a retry after a network error (the request may have arrived, the answer not).
    It is the earliest moment that attempt could have reached Twilio."""

    id: int
    ask_twilio_since: datetime | None = None


def claim_due(
    session: Session, *, clock: str, now: datetime, ids: list[int] | None = None
) -> list[Claim]:
    """Claim due texts for `clock` (committed); returns the texts this clock now owns."""
    lease = timedelta(seconds=sms_settings().lease_seconds)
    query = (
        select(
            SmsMessage.id,
            SmsMessage.from_number,
            SmsMessage.segments,
            SmsMessage.status,
            SmsMessage.lease_expires_at,
            SmsMessage.attempts,
            SmsMessage.error_code,
            SmsMessage.status_reason,
            SmsMessage.updated_at,
        )
        .where(_due_condition(now))
        .order_by(SmsMessage.send_after, SmsMessage.id)
        .limit(sms_settings().batch_size)
        .with_for_update(skip_locked=True)
    )
    if ids is not None:
        query = query.where(SmsMessage.id.in_(ids))
    candidates = session.execute(query).all()
    budgets = _pacing_budgets(session, {c.from_number for c in candidates}, now)
    lease_until = now + lease
    claimed: list[Claim] = []
    for candidate in candidates:
        if budgets[candidate.from_number] < candidate.segments and ids is None:
            continue  # this sender's share of the window is used; the next sweep sends it
        result = session.execute(
            update(SmsMessage)
            .where(SmsMessage.id == candidate.id, _due_condition(now))
            .values(
                status=SmsStatus.SENDING,
                lease_expires_at=lease_until,
                leased_by=clock,
                attempts=SmsMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(Claim(candidate.id, _unsure_since(candidate, lease)))
            budgets[candidate.from_number] -= candidate.segments
    session.commit()
    return claimed


def _unsure_since(candidate, lease: timedelta) -> datetime | None:
    """When an earlier attempt of this text may have reached Twilio unbeknown to us, or None."""
    if candidate.status == SmsStatus.SENDING and candidate.lease_expires_at is not None:
        return candidate.lease_expires_at - lease  # taken over from a clock that died
    if candidate.attempts and candidate.error_code is None and candidate.status_reason:
        return candidate.updated_at - lease  # retried after a network error
    return None


def _owned(session: Session, message_id: int, clock: str):
    """Condition: the row is still ours to finish (no other clock took the lease over)."""
    return and_(
        SmsMessage.id == message_id,
        SmsMessage.status == SmsStatus.SENDING,
        SmsMessage.leased_by == clock,
    )


def _finish(session: Session, message: SmsMessage, clock: str, **values) -> bool:
    result = session.execute(
        update(SmsMessage)
        .where(_owned(session, message.id, clock))
        .values(lease_expires_at=None, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        log.error("SMS %s was taken over by another clock while sending", message.id)
        return False
    return True


def deliver(
    session: Session,
    message: SmsMessage,
    *,
    clock: str,
    result: SweepResult,
    ask_twilio_since: datetime | None = None,
) -> None:
    """Send one claimed text through the gateway and record what happened (commits).

    When an earlier attempt may have reached Twilio (`ask_twilio_since`, see Claim), Twilio is
    asked first whether it already has this text (same sender, number and body since then):
    then it is recorded, not sent again.
    """
    now = utcnow()
    reason = refusal_reason(
        session,
        to=message.to_number,
        body=message.body,
        purpose=message.purpose or SmsPurpose.REPLY,
        line_id=message.line_id,
        now=now,
        check_caps=False,
        kind=message.kind,
        operator_id=message.operator_id,
    )
    if reason is not None:
        log.warning(
            "SMS %s to %s refused at sending: %s", message.id, mask(message.to_number), reason
        )
        if _finish(session, message, clock, status=SmsStatus.REFUSED, status_reason=reason[:300]):
            result.refused.append(message.id)
        session.commit()
        return
    session.commit()  # end the read transaction: no database work is held open during HTTP
    earlier = _sent_before(message, ask_twilio_since) if ask_twilio_since else None
    if earlier is not None:
        log.warning("SMS %s: an earlier attempt reached Twilio as %s", message.id, earlier)
        if _finish(
            session,
            message,
            clock,
            status=SmsStatus.SENT,
            message_sid=earlier,
            twilio_status="accepted",
            sent_at=utcnow(),
            status_reason=None,
        ):
            result.sent.append(message.id)
        session.commit()
        apply_pending_status_events(session, earlier)
        return
    try:
        sid = get_gateway().send_sms(
            to=message.to_number,
            from_=message.from_number,
            body=message.body,
            status_callback=public_base_url() + "/twilio/sms/status",
        )
    except TwilioRestException as exc:
        _record_error(session, message, clock, exc, result)
        return
    except Exception as exc:  # noqa: BLE001 - network trouble: try again later
        _retry_or_fail(session, message, clock, None, f"{exc.__class__.__name__}: {exc}", result)
        return
    if _finish(
        session,
        message,
        clock,
        status=SmsStatus.SENT,
        message_sid=sid,
        twilio_status="accepted",
        sent_at=utcnow(),
        status_reason=None,
    ):
        result.sent.append(message.id)
    # Commit the send on its own first: nothing after Twilio accepted the text may undo the
    # record of it (or the lease would expire and the text go out twice).
    session.commit()
    log.info("SMS %s sent to %s (%s)", message.id, mask(message.to_number), sid)
    _record_on_case(session, message)
    apply_pending_status_events(session, sid)


def _sent_before(message: SmsMessage, since: datetime) -> str | None:
    """The MessageSid of this very text if Twilio already accepted it since `since` (the
    earlier attempt), else None. When Twilio cannot be asked, None: sending again is better
    than never sending."""
    try:
        recent = get_gateway().client.messages.list(
            to=message.to_number, from_=message.from_number, limit=20
        )
    except Exception:  # noqa: BLE001 - fall back to sending
        log.warning("SMS %s: could not ask Twilio about an earlier send", message.id, exc_info=True)
        return None
    for earlier in recent:
        created = earlier.date_created
        if (
            earlier.body == message.body
            and created is not None
            and created >= since - timedelta(seconds=5)
        ):
            return earlier.sid
    return None


def _record_on_case(session: Session, message: SmsMessage) -> None:
    """Add the sent text to its case's history (best effort: a closed case refuses it)."""
    if message.case_id is None:
        return
    case = session.get(Case, message.case_id)
    if case is None:
        return
    try:
        integration.record_contact(session, case, kind=ContactKind.SMS_OUT, sms_id=message.id)
        session.commit()
    except Exception:  # noqa: BLE001 - the text is sent; its history entry is secondary
        session.rollback()
        log.warning("SMS %s: could not add it to case %s", message.id, case.id, exc_info=True)


def _record_error(
    session: Session,
    message: SmsMessage,
    clock: str,
    exc: TwilioRestException,
    result: SweepResult,
) -> None:
    code = exc.code
    text = f"Twilio {exc.status} error {code}: {exc.msg}"[:300]
    if code == OPTED_OUT_ERROR:
        mark_opted_out(session, message.to_number, source=OptOutSource.CARRIER, trigger="21610")
        if _finish(
            session, message, clock, status=SmsStatus.FAILED, error_code=code, status_reason=text
        ):
            result.failed.append(message.id)
        session.commit()
        log.warning(
            "SMS %s: %s has opted out at the carrier (21610)", message.id, mask(message.to_number)
        )
        return
    if exc.status == 429 or (exc.status or 0) >= 500 or code in TRANSIENT_ERRORS:
        _retry_or_fail(session, message, clock, code, text, result)
        return
    if _finish(
        session, message, clock, status=SmsStatus.FAILED, error_code=code, status_reason=text
    ):
        result.failed.append(message.id)
    session.commit()
    log.warning("SMS %s to %s failed for good: %s", message.id, mask(message.to_number), text)


def _retry_or_fail(
    session: Session,
    message: SmsMessage,
    clock: str,
    code: int | None,
    text: str,
    result: SweepResult,
) -> None:
    attempts = message.attempts
    if attempts >= sms_settings().max_attempts:
        if _finish(
            session,
            message,
            clock,
            status=SmsStatus.FAILED,
            error_code=code,
            status_reason=f"gave up after {attempts} attempts: {text}"[:300],
        ):
            result.failed.append(message.id)
        session.commit()
        log.warning("SMS %s gave up after %s attempts: %s", message.id, attempts, text)
        return
    pause = min(sms_settings().retry_base_seconds * 2 ** (attempts - 1), 1800)
    if _finish(
        session,
        message,
        clock,
        status=SmsStatus.QUEUED,
        leased_by=None,
        error_code=code,
        status_reason=text[:300],
        send_after=utcnow() + timedelta(seconds=pause),
    ):
        result.retrying.append(message.id)
    session.commit()
    log.info("SMS %s will be retried in %s s: %s", message.id, pause, text)


def send_due(
    session: Session, *, clock: str, ids: list[int] | None = None, now: datetime | None = None
) -> SweepResult:
    """Claim and send the due texts (or only `ids`, e.g. an alert raised by a web request)."""
    result = SweepResult()
    for claim in claim_due(session, clock=clock, now=now or utcnow(), ids=ids):
        message = session.get(SmsMessage, claim.id, populate_existing=True)
        if message is not None:
            deliver(
                session,
                message,
                clock=clock,
                result=result,
                ask_twilio_since=claim.ask_twilio_since,
            )
    return result


def record_sweep(session: Session, clock: str) -> None:
    """Note that this clock swept the outbox (a heartbeat; commits)."""
    now = utcnow()
    row = session.scalar(select(SmsSweep).where(SmsSweep.clock_id == clock))
    if row is None:
        session.add(SmsSweep(clock_id=clock[:80], swept_at=now))
    else:
        row.swept_at = now
    try:
        session.commit()
    except IntegrityError:
        session.rollback()


# --------------------------------------------------------------------------- status and opt-out


def mark_opted_out(session: Session, number: str, *, source: OptOutSource, trigger: str) -> None:
    """Record that `number` wants no more texts (does not commit)."""
    row = session.scalar(select(SmsOptOut).where(SmsOptOut.phone_number == number))
    if row is None:
        session.add(SmsOptOut(phone_number=number, source=source, trigger=trigger[:40]))
        session.flush()
        return
    if row.is_opted_out and row.source == OptOutSource.CARRIER and source == OptOutSource.KEYWORD:
        return  # the stronger opt-out stands
    row.is_opted_out = True
    row.source = source
    row.trigger = trigger[:40]
    row.changed_at = utcnow()


def mark_resumed(session: Session, number: str, *, trigger: str) -> bool:
    """START: texts may go to `number` again (does not commit). False when it was not opted out."""
    row = session.scalar(select(SmsOptOut).where(SmsOptOut.phone_number == number))
    if row is None or not row.is_opted_out:
        return False
    row.is_opted_out = False
    row.trigger = trigger[:40]
    row.changed_at = utcnow()
    return True


def apply_message_status(
    session: Session, *, message_sid: str, status: str, error_code: int | None
) -> SmsMessage | None:
    """Record a status callback (commits). Never moves a text backwards; 21610 is final and
    opts the number out. A callback for a sid not yet recorded is kept and applied as soon as
    the send is (see SmsStatusEvent)."""
    message = _message_by_sid(session, message_sid)
    if message is None:
        session.add(
            SmsStatusEvent(
                message_sid=message_sid,
                status=status.strip().lower()[:20],
                error_code=error_code,
                received_at=utcnow(),
            )
        )
        session.commit()
        message = _message_by_sid(session, message_sid)
        if message is not None:
            apply_pending_status_events(session, message_sid)
        return message
    if message.direction == SmsDirection.OUTBOUND:
        _apply_status(session, message, status, error_code)
    session.commit()
    return message


def _message_by_sid(session: Session, message_sid: str) -> SmsMessage | None:
    return session.scalar(
        select(SmsMessage)
        .where(SmsMessage.message_sid == message_sid)
        .execution_options(populate_existing=True)
    )


def _apply_status(
    session: Session, message: SmsMessage, status: str, error_code: int | None
) -> None:
    status = status.strip().lower()
    if error_code == OPTED_OUT_ERROR:
        mark_opted_out(session, message.to_number, source=OptOutSource.CARRIER, trigger="21610")
        status = "failed"
    ours = _TWILIO_TO_OURS.get(status)
    if ours is None:
        log.info("SMS %s: unknown status %r ignored", message.id, status)
        return
    if _TWILIO_RANK.get(status, 0) > _TWILIO_RANK.get(message.twilio_status or "", -1):
        message.twilio_status = status
    if _RANK[ours] > _RANK[message.status]:
        message.status = ours
        if error_code is not None:
            message.error_code = error_code
            message.status_reason = f"Twilio error {error_code}"


def apply_pending_status_events(session: Session, message_sid: str) -> None:
    """Apply (and forget) status callbacks that arrived before the send was recorded.
    Applying one twice changes nothing, so the view and the clock may both do it. Commits."""
    message = _message_by_sid(session, message_sid)
    events = session.scalars(
        select(SmsStatusEvent)
        .where(SmsStatusEvent.message_sid == message_sid)
        .order_by(SmsStatusEvent.id)
    ).all()
    if message is None or not events:
        return
    for event in events:
        if message.direction == SmsDirection.OUTBOUND:
            _apply_status(session, message, event.status, event.error_code)
    session.execute(delete(SmsStatusEvent).where(SmsStatusEvent.id.in_([e.id for e in events])))
    session.commit()
