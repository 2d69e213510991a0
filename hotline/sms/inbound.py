"""Texts people send to the line: callers, registered supervisors and volunteers.

Order of handling (the first that applies):
1. STOP / 退订 / TD (and the usual synonyms) opt the number out of non-essential texts;
   START / 恢复 resumes. Anyone may send these; each gets one confirmation.
2. A registered supervisor's number: announced as `SupervisorTexted`; the alerts feature answers
   状态 / STATUS with the live numbers, anything else with the list of commands. A stranger sending 状态 is just a caller: nothing privileged.
3. A volunteer's or consented family member's 1 / 2 to a missed check-in's text (关爱回访):
   announced as `CheckinReplied`; the check-ins feature closes the episode and answers.
   Otherwise, a volunteer's number with a referral waiting for an answer: 接受 / 1 / YES accepts,
   拒绝 / 2 / NO declines, anything else is noted; the reply lands on the case.
4. A family contact of an elder (家属代办) texting 回电 / 1 / CALLBACK: with the elder's consent
   recorded and "may request callbacks", a callback to the ELDER is booked on the elder's case
   and the family member is told so in one segment; otherwise a polite refusal and nothing is
   booked. Their other texts are handled as any caller's (5).
5. Everyone else is a caller: HELP / 帮助 gets a short help text; 回电 / 1 / CALLBACK books a
   callback on their case; any other text is added to their case with a short acknowledgement
   (at most one per `SMS_ACK_INTERVAL_MINUTES`, so a chatty or looping sender cannot make us
   text back without end).

Every reply goes through the outbox (sent by the clock within seconds), never as TwiML.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import events
from hotline.callers.models import Caller, FamilyContact
from hotline.callers.service import find_caller
from hotline.cases.models import ContactKind
from hotline.lines.models import Line
from hotline.lines.service import NoLineConfigured, find_line
from hotline.phone import mask, try_normalise
from hotline.sms import integration, texts
from hotline.sms.events import CheckinReplied, SupervisorTexted
from hotline.sms.models import OptOutSource, SmsDirection, SmsMessage, SmsPurpose, SmsStatus
from hotline.sms.outbox import mark_opted_out, mark_resumed, queue_sms
from hotline.sms.recipients import supervisor_by_number
from hotline.sms.settings import sms_settings
from hotline.sms.texts import Head
from hotline.telephony.webhooks import BadWebhook
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "TD", "退订", "退訂"}
START_WORDS = {"START", "UNSTOP", "恢复", "恢復"}
HELP_WORDS = {"HELP", "INFO", "帮助", "幫助", "?"}
CALLBACK_WORDS = {"1", "回电", "回電", "CALLBACK", "CALL BACK", "CALL ME"}
STATUS_WORDS = {"STATUS", "状态", "狀態"}
ACCEPT_WORDS = {"1", "YES", "Y", "接受", "同意", "好"}
DECLINE_WORDS = {"2", "NO", "N", "拒绝", "拒絕", "不行", "唔得"}
#: A volunteer's or family member's answer to a missed check-in: 1 reached, 2 cannot reach.
CHECKIN_REPLY_CODES = {"1": "1", "2": "2"}

#: Processing claim on an inbound row: a crashed attempt is retried after this.
PROCESSING_LEASE = timedelta(seconds=60)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class IncomingSms:
    """The parameters of an incoming-message webhook we use."""

    message_sid: str
    from_: str
    to: str
    body: str
    num_media: int

    @classmethod
    def parse(cls, form) -> IncomingSms:
        sid = form.get("MessageSid", "").strip() or form.get("SmsSid", "").strip()
        sender = form.get("From", "").strip()
        if not sid or len(sid) > 64 or not sender:
            raise BadWebhook("MessageSid and From are required")
        try:
            media = int(form.get("NumMedia", "0") or 0)
        except ValueError:
            media = 0
        return cls(
            message_sid=sid,
            from_=sender[:64],
            to=form.get("To", "").strip()[:64],
            body=form.get("Body", "")[:1600],
            num_media=media,
        )


def keyword(body: str) -> str:
    """The text reduced for keyword matching: full-width forms folded (１ → 1, ＳＴＯＰ → STOP),
    upper case, surrounding spaces and punctuation removed."""
    folded = unicodedata.normalize("NFKC", body).strip().upper()
    folded = re.sub(r"\s+", " ", folded)
    stripped = folded.strip(" .!。！,，~～")
    return stripped or folded


def _detect_language(body: str, line: Line) -> str:
    if _CJK.search(body):
        default = texts.caller_language(line.default_language)
        return default if default != texts.EN else texts.ZH
    if _LATIN.search(body):
        return texts.EN
    return texts.caller_language(line.default_language)


def receive_sms(session: Session, params: IncomingSms, *, region: str) -> SmsMessage | None:
    """Handle one incoming text exactly once. Returns the inbound row, or None when this
    MessageSid was already handled (or is being handled by a concurrent request).

    The text and its processing claim are committed at once, before anything is done with it:
    Twilio does not send a text again, so a worker that dies while routing it must leave a row
    that the clock's sweep (`finish_stale_inbound`) finishes, never nothing. This is the one
    documented second commit of the SMS webhook; the routing that follows only flushes and the
    webhook guard commits it once, with its WebhookEvent.
    """
    now = utcnow()
    row = _claim_inbound(session, params, region)
    if row is None:
        log.info("SMS %s already handled", params.message_sid)
        return None
    session.commit()  # durable before it is acted on (see above)
    _process(session, row, params, region, now)
    return row


def _process(session: Session, row: SmsMessage, params: IncomingSms, region: str, now) -> None:
    """Route a claimed inbound row and mark it processed (flushes)."""
    line = session.get(Line, row.line_id) if row.line_id is not None else None
    number = try_normalise(params.from_, region)
    if line is None or number is None:
        log.warning(
            "SMS %s from %s: no line or not a number; kept unanswered",
            params.message_sid,
            mask(params.from_),
        )
    else:
        _route(session, row, line, number, params)
    row.processed_at = now
    row.lease_expires_at = None
    session.flush()


def stale_inbound_ids(session: Session, *, limit: int = 50) -> list[int]:
    """Inbound texts whose processing was claimed but never finished, the claim now expired:
    a worker died between storing the text (committed on arrival) and the end of its
    webhook. Twilio does not send the text again, so the clock must finish it."""
    return list(
        session.scalars(
            select(SmsMessage.id)
            .where(
                SmsMessage.direction == SmsDirection.INBOUND,
                SmsMessage.processed_at.is_(None),
                SmsMessage.lease_expires_at < utcnow(),
            )
            .order_by(SmsMessage.id)
            .limit(limit)
        )
    )


def finish_stale_inbound(session: Session, sms_id: int, *, region: str) -> bool:
    """Claim one stale inbound text (the same conditional lease as a webhook retry, so a sweep
    and a retry, or two clocks, handle it once) and process it as its webhook would have.
    Flushes; the clock job commits. False when someone else holds or finished it."""
    now = utcnow()
    if not _claim_expired(session, SmsMessage.id == sms_id, now):
        return False
    row = session.scalar(
        select(SmsMessage).where(SmsMessage.id == sms_id).execution_options(populate_existing=True)
    )
    params = IncomingSms(
        message_sid=row.message_sid,
        from_=row.from_number,
        to=row.to_number or "",
        body=row.body or "",
        num_media=0,
    )
    log.info("SMS %s: finishing a text whose processing was interrupted", row.message_sid)
    _process(session, row, params, region, now)
    return True


def _claim_inbound(session: Session, params: IncomingSms, region: str) -> SmsMessage | None:
    now = utcnow()
    try:
        line = find_line(session, params.to, region)
    except NoLineConfigured:
        line = None
    row = SmsMessage(
        direction=SmsDirection.INBOUND,
        status=SmsStatus.RECEIVED,
        line_id=line.id if line else None,
        message_sid=params.message_sid,
        to_number=params.to,
        from_number=(try_normalise(params.from_, region) or params.from_)[:64],
        body=params.body or ("[媒体]" if params.num_media else ""),
        lease_expires_at=now + PROCESSING_LEASE,
        created_at=now,
    )
    seen = session.scalar(
        select(SmsMessage.id).where(SmsMessage.message_sid == params.message_sid).limit(1)
    )
    if seen is None:
        session.add(row)
        try:
            session.flush()
            return row
        except IntegrityError:
            # A concurrent copy of this webhook inserted it first. This insert is the webhook
            # transaction's first write (the guard only read), so the rollback discards nothing
            # else. (Not a savepoint: SQLite's driver commits a lone SAVEPOINT on RELEASE.)
            session.rollback()
    # Seen before: handle it again only if an earlier attempt crashed before finishing.
    if not _claim_expired(session, SmsMessage.message_sid == params.message_sid, now):
        return None
    return session.scalar(select(SmsMessage).where(SmsMessage.message_sid == params.message_sid))


def _claim_expired(session: Session, which, now) -> bool:
    """Take over the processing of the unfinished inbound row `which` if its lease ran out (one
    conditional UPDATE: of a webhook retry, a sweep or two clocks, exactly one wins)."""
    result = session.execute(
        update(SmsMessage)
        .where(
            which,
            SmsMessage.direction == SmsDirection.INBOUND,
            SmsMessage.processed_at.is_(None),
            SmsMessage.lease_expires_at < now,
        )
        .values(lease_expires_at=now + PROCESSING_LEASE)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _reply(
    session: Session,
    row: SmsMessage,
    line: Line,
    *,
    kind: str,
    body: str,
    lang: str,
    caller_id: int | None = None,
    case_id: int | None = None,
    operator_id: int | None = None,
) -> SmsMessage:
    return queue_sms(
        session,
        to=row.from_number,
        body=body,
        purpose=SmsPurpose.REPLY,
        line_id=line.id,
        caller_id=caller_id,
        case_id=case_id,
        operator_id=operator_id,
        kind=kind,
        language=lang,
    )


def _route(session: Session, row: SmsMessage, line: Line, number: str, params: IncomingSms) -> None:
    word = keyword(params.body)
    now = row.created_at
    caller = find_caller(session, number)
    supervisor = supervisor_by_number(session, number)
    referral = integration.pending_referral_for(session, number) if supervisor is None else None
    if caller is None and supervisor is None and referral is None:
        # Whoever texts the line is a caller (as whoever rings it is): their profile is what
        # links the number, so the reply passes the allowlist.
        caller = Caller(phone_number=number)
        session.add(caller)
        session.flush()
    if supervisor is not None:
        lang = texts.staff_language(supervisor.console_language)
        row.operator_id = supervisor.id
    elif caller is not None and caller.language:
        lang = texts.caller_language(caller.language)
    else:
        lang = _detect_language(params.body, line)
    head = Head(now, line.timezone)

    if word in STOP_WORDS:
        mark_opted_out(session, number, source=OptOutSource.KEYWORD, trigger=word)
        log.info("%s opted out by SMS (%s)", mask(number), word)
        _reply(
            session,
            row,
            line,
            kind="opted_out",
            body=texts.opted_out(lang, head),
            lang=lang,
            caller_id=caller.id if caller else None,
        )
        return
    if word in START_WORDS:
        mark_resumed(session, number, trigger=word)
        log.info("%s resumed texts by SMS (%s)", mask(number), word)
        _reply(
            session,
            row,
            line,
            kind="resumed",
            body=texts.resumed(lang, head),
            lang=lang,
            caller_id=caller.id if caller else None,
        )
        return
    if supervisor is not None:
        # The answer combines the reports' figures with texts: the alerts feature's subscriber.
        events.publish(
            session,
            SupervisorTexted(
                sms_id=row.id, line_id=line.id, operator_id=supervisor.id, word=word, language=lang
            ),
        )
        return
    if supervisor is None and word in CHECKIN_REPLY_CODES:
        checkin = integration.checkin_awaiting_reply(session, number)
        if checkin is not None:
            row.case_id = checkin[0].case_id
            events.publish(
                session,
                CheckinReplied(
                    sms_id=row.id,
                    episode_id=checkin[0].id,
                    by=checkin[1],
                    code=CHECKIN_REPLY_CODES[word],
                    from_number=number,
                    language=lang,
                ),
            )
            return
    if referral is not None:
        _referral_reply(session, row, line, referral, word, lang)
        return
    if word in CALLBACK_WORDS and _family_callback_text(session, row, line, number, caller, lang):
        return
    if word in STATUS_WORDS:
        log.warning(
            "supervisor command %r from an unregistered number %s: treated as a caller",
            word,
            mask(number),
        )
    _caller_text(session, row, line, number, caller, word, lang, params)


def _referral_reply(
    session: Session, row: SmsMessage, line: Line, referral, word: str, lang: str
) -> None:
    case = integration.referral_case(session, referral)
    head = Head(row.created_at, line.timezone, case.number if case else None)
    if word in ACCEPT_WORDS:
        accepted, kind = True, "referral_accepted"
    elif word in DECLINE_WORDS:
        accepted, kind = False, "referral_declined"
    else:
        accepted, kind = None, "referral_unclear"
    row.case_id = case.id if case else None
    integration.answer_referral(session, referral, accepted=accepted, sms_id=row.id, text=row.body)
    body = getattr(texts, kind)(lang, head)
    _reply(session, row, line, kind=kind, body=body, lang=lang, case_id=row.case_id)


#: Longest elder name put in a text (the acknowledgement stays one segment).
MAX_ELDER_NAME = 12


def _family_callback_text(
    session: Session, row: SmsMessage, line: Line, number: str, sender: Caller, lang: str
) -> bool:
    """回电 / 1 / CALLBACK from a family contact: a callback to their elder, or a refusal.

    Returns False when the number is no elder's family contact (the text is the sender's own
    request, handled as a caller's). A blocked sender is not served here either: their text
    goes to their own case without a reply, as any blocked caller's. Flushes, never commits.
    """
    contacts = session.scalars(
        select(FamilyContact)
        .where(FamilyContact.phone_number == number, FamilyContact.caller_id != sender.id)
        .order_by(FamilyContact.id)
    ).all()
    if not contacts or sender.is_blocked(row.created_at):
        return False
    row.caller_id = sender.id
    sender.last_contact_at = row.created_at
    allowed = next((c for c in contacts if c.may("may_request_callbacks")), None)
    elder = session.get(Caller, allowed.caller_id) if allowed is not None else None
    if allowed is None or elder is None:
        log.info("callback for an elder asked by text from %s without permission", mask(number))
        _reply(
            session,
            row,
            line,
            kind="family_callback_refused",
            body=texts.family_callback_refused(lang, Head(row.created_at, line.timezone)),
            lang=lang,
            caller_id=sender.id,
        )
        return True
    # On the elder's case: the request is theirs; the family member only passed it on.
    case = integration.open_case_for_sms(session, caller=elder, line=line)
    row.case_id = case.id
    who = f"{allowed.name} ({allowed.relation})" if allowed.relation else allowed.name
    integration.record_contact(
        session, case, kind=ContactKind.SMS_IN, sms_id=row.id, note=f"{who}: {row.body}"[:500]
    )
    integration.request_callback_for_elder(
        session, line=line, elder=elder, arrived_at=row.created_at, case=case, who=who
    )
    log.info("callback to an elder requested by text from %s", mask(number))
    name = (elder.label or allowed.relation or "")[:MAX_ELDER_NAME]
    _reply(
        session,
        row,
        line,
        kind="family_callback_requested",
        body=texts.family_callback_requested(
            lang, Head(row.created_at, line.timezone, case.number), elder=name
        ),
        lang=lang,
        caller_id=sender.id,
        case_id=case.id,
    )
    return True


def _caller_text(
    session: Session,
    row: SmsMessage,
    line: Line,
    number: str,
    caller: Caller,
    word: str,
    lang: str,
    params: IncomingSms,
) -> None:
    if word in HELP_WORDS:
        _reply(
            session,
            row,
            line,
            kind="help_caller",
            body=texts.help_caller(lang, Head(row.created_at, line.timezone)),
            lang=lang,
            caller_id=caller.id if caller else None,
        )
        return
    caller.last_contact_at = row.created_at
    row.caller_id = caller.id
    case = integration.open_case_for_sms(session, caller=caller, line=line)
    row.case_id = case.id
    integration.record_contact(session, case, kind=ContactKind.SMS_IN, sms_id=row.id, note=row.body)
    head = Head(row.created_at, line.timezone, case.number)
    blocked = caller.is_blocked(row.created_at)
    if word in CALLBACK_WORDS and not blocked:
        integration.request_callback_by_sms(
            session, line=line, caller=caller, arrived_at=row.created_at, case=case
        )
        _reply(
            session,
            row,
            line,
            kind="callback_requested",
            body=texts.callback_requested(lang, head),
            lang=lang,
            caller_id=caller.id,
            case_id=case.id,
        )
        return
    if blocked:
        log.info(
            "SMS from blocked caller %s added to case %s without a reply", mask(number), case.number
        )
        return
    if _recently_acknowledged(session, number, row.created_at):
        return
    _reply(
        session,
        row,
        line,
        kind="ack",
        body=texts.ack(lang, head),
        lang=lang,
        caller_id=caller.id,
        case_id=case.id,
    )


def _recently_acknowledged(session: Session, number: str, now) -> bool:
    since = now - timedelta(minutes=sms_settings().ack_interval_minutes)
    return (
        session.scalar(
            select(SmsMessage.id)
            .where(
                SmsMessage.direction == SmsDirection.OUTBOUND,
                SmsMessage.to_number == number,
                SmsMessage.kind == "ack",
                SmsMessage.created_at >= since,
            )
            .limit(1)
        )
        is not None
    )
