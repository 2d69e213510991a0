"""Joining an operator and the caller they took: claim, ring, dequeue, and the call controls.

The claim is a conditional UPDATE (`status = 'waiting'` -> 'connecting') that proceeds only when
exactly one row changed, after the operator's own row went from "not busy" to busy: two operators
clicking at once cannot both get the caller, and one operator cannot take two.

Connecting: the app rings the operator (their phone, or their browser as a Twilio Client
identity where the line allows it) with a call whose TwiML puts them in a conference named for
this entry, then dequeues exactly this caller by CallSid into the same conference. Both REST
requests are made here, in the web request of the operator's click, never inside a Twilio
webhook's answer. The one exception (the operator's phone did not answer, so the caller, already
in the conference, must go back to the queue) runs after the status callback's response is sent.

Whoever leaves the conference ends it (endConferenceOnExit on both legs): the caller hanging up
frees the operator, the operator hanging up sends the caller to the goodbye. A warm transfer rings
a second operator into the same conference; handing over clears the first operator's flag before
removing them, so the conversation goes on with the second.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException, TwilioRestException

from hotline.callers.models import Caller
from hotline.calls.models import Call, CallOutcome
from hotline.lines import cache as lines_cache
from hotline.lines.models import Line
from hotline.numberpolicy import NumberPolicy
from hotline.operators import presence
from hotline.operators.models import Operator, Presence
from hotline.phone import mask
from hotline.queue import routing, service
from hotline.queue.models import QueueEntry, QueueStatus, TalkEnd
from hotline.queue.twiml import operator_text
from hotline.telephony.gateway import TERMINAL_CALL_EVENTS, get_gateway, public_base_url
from hotline.telephony.twiml import with_query
from hotline.timeutil import utcnow
from hotline.transfers.models import IN_CONVERSATION, ExternalTransfer

log = logging.getLogger(__name__)

#: How long the operator's phone rings before the caller goes back to the queue.
OPERATOR_RING_SECONDS = 20
#: A callback scheduled by an operator waits this long for them before anyone may take it.
PREFERRED_HOLD = timedelta(minutes=2)
#: Call statuses of an operator's leg that mean it never reached the conference.
FAILED_LEG_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})


class QueueActionError(Exception):
    """An operator's action that cannot be done, with the reason in both console languages."""

    MESSAGES = {
        "taken": (
            "这位来电者已经被其他坐席接走了。",
            "Another operator has already taken this caller.",
        ),
        "empty": ("现在没有人在等待。", "Nobody is waiting right now."),
        "busy": ("您正在通话中,请先结束当前通话。", "You are already on a call; finish it first."),
        "no_phone": (
            "您的账号还没有登记电话号码,请联系管理员。",
            "Your account has no phone number. Ask an admin to add one.",
        ),
        "no_browser": (
            "这条线路没有开通浏览器接听,请用电话接听。",
            "This line does not allow answering in the browser; use your phone.",
        ),
        "gone": ("来电者刚刚挂断了。", "The caller has just hung up."),
        "telephony": (
            "电话系统暂时出错,来电者仍在排队,请再试一次。",
            "The phone system failed; the caller is still waiting. Please try again.",
        ),
        "not_yours": ("这不是您的通话。", "This is not your call."),
        "not_your_line": (
            "这位来电者不在您负责的线路上。",
            "This caller is not on one of your lines.",
        ),
        "not_connected": ("通话还没有接通。", "The call is not connected yet."),
        "target_unavailable": (
            "对方现在不空闲或没有登记电话,无法转接。",
            "That operator is not available (or has no phone number).",
        ),
        "number_refused": (
            "这个电话号码不允许呼叫(境外、收费或卫星号码),请管理员检查坐席登记的号码。",
            "That phone number may not be called (foreign, premium-rate or satellite); "
            "ask an admin to check the operator's number.",
        ),
        "transfer_busy": ("已经在转接中。", "A transfer is already in progress."),
        "no_transfer": ("没有进行中的转接。", "There is no transfer in progress."),
        "transfer_not_joined": ("对方还没有接听。", "The other operator has not answered yet."),
    }

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
        self.zh, self.en = self.MESSAGES[code]


def outbound_refusal(number: str) -> str | None:
    """Why the number policy will not ring this operator leg (`client:` identities pass), or
    None: a typo in an operator's number must never dial abroad or a premium-rate line."""
    refusal = NumberPolicy.from_config(current_app.config).refusal(number)
    if refusal is not None:
        log.error("operator leg to %s refused by the number policy: %s", mask(number), refusal)
    return refusal


# --------------------------------------------------------------------------- URLs


def operator_identity(operator_id: int) -> str:
    """The Twilio Client identity of an operator's browser (Voice JS SDK)."""
    return f"operator-{operator_id}"


def operator_url(entry_id: int, operator_id: int, *, record: bool = False) -> str:
    """The operator leg's TwiML; `record` (the line records conversations) rides in the URL so
    the answer webhook need not look the line up."""
    if record:
        return with_query("/twilio/queue/operator", entry=entry_id, op=operator_id, rec=1)
    return with_query("/twilio/queue/operator", entry=entry_id, op=operator_id)


def operator_status_url(entry_id: int, operator_id: int) -> str:
    return with_query("/twilio/queue/operator-status", entry=entry_id, op=operator_id)


def operator_done_url(entry_id: int, operator_id: int) -> str:
    return with_query("/twilio/queue/operator-done", entry=entry_id, op=operator_id)


def join_url(entry_id: int, language: str, *, record: bool = False) -> str:
    """The caller's conference TwiML; `record` as for `operator_url`."""
    if record:
        return with_query("/twilio/queue/join", entry=entry_id, lang=language, rec=1)
    return with_query("/twilio/queue/join", entry=entry_id, lang=language)


def after_call_url(entry_id: int, language: str) -> str:
    return with_query("/twilio/queue/after-call", entry=entry_id, lang=language)


def requeue_url(entry_id: int, language: str) -> str:
    return with_query("/twilio/queue/requeue", entry=entry_id, lang=language)


def conference_wait_url(language: str) -> str:
    return with_query("/twilio/queue/conference-wait", lang=language)


def hold_url(language: str) -> str:
    return with_query("/twilio/queue/hold", lang=language)


def conference_status_url(entry_id: int) -> str:
    return with_query("/twilio/queue/conference-status", entry=entry_id)


# --------------------------------------------------------------------------- who is next


def is_reserved_for_someone_else(
    session: Session, entry: QueueEntry, operator_id: int, now
) -> bool:
    """A callback its scheduling operator should take, while they are on shift (for a while)."""
    preferred = entry.preferred_operator_id
    if preferred is None or preferred == operator_id:
        return False
    if now - entry.enqueued_at >= PREFERRED_HOLD:
        return False
    other = session.get(Operator, preferred)
    return other is not None and other.is_active and other.presence != Presence.OFFLINE


def skills_of(operator: Operator) -> routing.Skills:
    """The operator's languages and lines, as routing reads them."""
    return routing.Skills(
        languages=frozenset(str(code) for code in operator.languages or ()),
        line_ids=frozenset(int(line_id) for line_id in operator.line_ids or ()),
    )


def waiting_of(entry: QueueEntry, line: Line | None, now) -> routing.Waiting:
    """A waiting entry, as routing reads it (its wait counts from this time in the queue)."""
    return routing.Waiting(
        entry_id=entry.id,
        line_id=entry.line_id,
        priority=entry.priority,
        arrived_at=entry.arrived_at,
        language=entry.language,
        waited_seconds=max(0, int((now - entry.enqueued_at).total_seconds())),
        overflow_after_seconds=line.route_to_anyone_after_seconds if line is not None else None,
    )


def routed(
    session: Session, skills: routing.Skills, entries: list[QueueEntry], now
) -> list[tuple[QueueEntry, routing.Offer]]:
    """The entries (already in the queue's order) offered to an operator with `skills`, each
    with the reason (hotline.queue.routing decides)."""
    lines = {
        line_id: lines_cache.line_by_id(session, line_id)
        for line_id in {e.line_id for e in entries}
    }
    by_id = {entry.id: entry for entry in entries}
    waiting = [waiting_of(entry, lines[entry.line_id], now) for entry in entries]
    return [(by_id[offer.entry_id], offer) for offer in routing.offers(skills, waiting)]


def next_candidates(session: Session, operator_id: int, limit: int = 10) -> list[QueueEntry]:
    """The entries "take the next caller" tries, best first: the queue's order (priority, then
    original arrival), on the operator's lines, callers they can serve (their language, or
    waiting past the line's threshold: hotline.queue.routing)."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        return []
    skills = skills_of(operator)
    now = utcnow()
    result: list[QueueEntry] = []
    # The head of the queue, a page at a time (reserved callbacks and callers in other
    # languages are skipped), never the whole queue: with thousands waiting that would cost
    # every take. Routing keeps the queue's order, so page by page gives the same answer.
    page_size = limit + 10
    for page in range(100):
        entries = service.waiting_entries(
            session, limit=page_size, offset=page * page_size, line_ids=skills.line_ids
        )
        for entry, _offer in routed(session, skills, entries, now):
            if is_reserved_for_someone_else(session, entry, operator_id, now):
                continue
            result.append(entry)
            if len(result) >= limit:
                return result
        if len(entries) < page_size:
            break
    return result


def active_entry(session: Session, operator_id: int) -> QueueEntry | None:
    """The call the operator is on (or being connected to, or being transferred into)."""
    # Two indexed queries rather than one OR: an OR across two columns makes the database read
    # every queue entry ever written, and the console asks this every second.
    own = session.scalar(
        select(QueueEntry)
        .where(
            QueueEntry.operator_id == operator_id,
            QueueEntry.status.in_((QueueStatus.CONNECTING, QueueStatus.CONNECTED)),
        )
        .order_by(QueueEntry.id.desc())
        .limit(1)
    )
    joining = session.scalar(
        select(QueueEntry)
        .where(
            QueueEntry.status == QueueStatus.CONNECTED,
            QueueEntry.transfer_operator_id == operator_id,
        )
        .order_by(QueueEntry.id.desc())
        .limit(1)
    )
    found = [entry for entry in (own, joining) if entry is not None]
    return max(found, key=lambda entry: entry.id) if found else None


# --------------------------------------------------------------------------- claim


#: Who may take a caller: anyone not already on a call.
NOT_BUSY = tuple(state for state in Presence if state != Presence.BUSY)


def claim(session: Session, entry_id: int, operator_id: int) -> QueueEntry | None:
    """Atomically give the waiting caller `entry_id` to the operator; None if someone was
    quicker. Raises QueueActionError("busy") when the operator is already on a call. Commits."""
    now = utcnow()
    operator = session.get(Operator, operator_id)
    # A conditional change (hotline.operators.presence): of two tabs taking at once, one wins.
    if operator is None or not presence.change(
        session,
        operator,
        Presence.BUSY,
        now=now,
        only_from=NOT_BUSY,
        also={"last_seen_at": now},
    ):
        session.rollback()
        raise QueueActionError("busy")
    taken = session.execute(
        update(QueueEntry)
        .where(QueueEntry.id == entry_id, QueueEntry.status == QueueStatus.WAITING)
        .values(
            status=QueueStatus.CONNECTING,
            operator_id=operator_id,
            claimed_at=now,
            conference_name=f"hotline-q{entry_id}-{secrets.token_hex(4)}",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:
        session.rollback()
        return None
    # Exception to "entry points commit once": the claim must be durable before the operator's
    # phone is rung (a REST call), so a concurrent claimer sees it and a crash leaves a trace.
    session.commit()
    entry = session.get(QueueEntry, entry_id)
    assert entry is not None
    session.refresh(entry)
    return entry


def release(
    session: Session, entry: QueueEntry, operator_id: int, *, operator_presence: Presence
) -> None:
    """Undo a claim: the caller waits again (same place), the operator is no longer busy.
    Commits: the claim was committed before a REST call (see `claim`), so its undoing is too,
    before the next REST call (hanging up the operator's leg, sending the caller back)."""
    service.transition(
        session,
        entry,
        (QueueStatus.CONNECTING,),
        QueueStatus.WAITING,
        operator_id=None,
        operator_call_sid=None,
        conference_name=None,
        conference_sid=None,
        claimed_at=None,
    )
    operator = session.get(Operator, operator_id)
    if operator is not None:
        session.refresh(operator)  # the claim changed it with a plain UPDATE
        if operator.presence == Presence.BUSY:
            presence.mark(operator, operator_presence)
    session.commit()


def _endpoint(operator: Operator, line: Line | None, via: str) -> str:
    """Where to ring the operator: their phone, or their browser (client identity)."""
    if via == "browser":
        if line is not None and not line.is_browser_calling_enabled:
            raise QueueActionError("no_browser")
        if not browser_calling_configured():
            raise QueueActionError("no_browser")
        return "client:" + operator_identity(operator.id)
    if not operator.phone_number:
        raise QueueActionError("no_phone")
    return operator.phone_number


def browser_calling_configured() -> bool:
    """An API key to mint Voice access tokens is configured."""
    cfg = current_app.config
    return bool(cfg.get("TWILIO_API_KEY_SID") and cfg.get("TWILIO_API_KEY_SECRET"))


def take(
    session: Session, operator_id: int, *, entry_id: int | None = None, via: str = "phone"
) -> QueueEntry:
    """ "Take this one" (entry_id) or "take the next caller": claim, then connect. Commits.

    Raises QueueActionError with the reason when nothing could be taken; the caller then keeps
    waiting in their place.
    """
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.is_active:
        raise QueueActionError("not_yours")
    _endpoint(operator, None, via)  # no phone number: say so before claiming anyone
    entry: QueueEntry | None = None
    if entry_id is None:
        for candidate in next_candidates(session, operator_id):
            entry = claim(session, candidate.id, operator_id)
            if entry is not None:
                break
        if entry is None:
            raise QueueActionError("empty")
    else:
        # Any caller on the operator's lines may be picked by hand, whatever their language.
        chosen = session.get(QueueEntry, entry_id)
        if chosen is not None and not skills_of(operator).serves_line(chosen.line_id):
            raise QueueActionError("not_your_line")
        entry = claim(session, entry_id, operator_id)
        if entry is None:
            raise QueueActionError("taken")
    line = lines_cache.line_by_id(session, entry.line_id)
    assert line is not None
    try:
        endpoint = _endpoint(operator, line, via)
    except QueueActionError:
        release(session, entry, operator_id, operator_presence=Presence.AVAILABLE)
        raise
    _connect(session, entry, operator, line, endpoint)
    return entry


def find_queue_sid(session: Session, line: Line) -> str | None:
    """The Twilio QueueSid of the line's queue: learnt from wait requests, else looked up."""
    known = session.scalar(
        select(QueueEntry.queue_sid)
        .where(QueueEntry.line_id == line.id, QueueEntry.queue_sid.is_not(None))
        .order_by(QueueEntry.id.desc())
        .limit(1)
    )
    if known:
        return known
    for queue in get_gateway().client.queues.list(limit=1000):
        if queue.friendly_name == line.queue_name:
            return queue.sid
    return None


def _connect(
    session: Session, entry: QueueEntry, operator: Operator, line: Line, endpoint: str
) -> None:
    """Ring the operator into the entry's conference, then dequeue the caller into it."""
    gateway = get_gateway()
    base = public_base_url()
    call = session.get(Call, entry.call_id)
    assert call is not None
    if outbound_refusal(endpoint) is not None:
        release(session, entry, operator.id, operator_presence=Presence.AVAILABLE)
        raise QueueActionError("number_refused")
    try:
        queue_sid = entry.queue_sid or find_queue_sid(session, line)
        if not queue_sid:
            raise TwilioException(f"no Twilio queue named {line.queue_name}")
        operator_call_sid = gateway.create_call(
            to=endpoint,
            from_=line.phone_number,
            url=base + operator_url(entry.id, operator.id, record=line.is_recording_enabled),
            status_callback=base + operator_status_url(entry.id, operator.id),
            timeout_seconds=OPERATOR_RING_SECONDS,
            # operator_leg_status acts on the end of the leg only (answering is the Url's
            # webhook): no initiated/ringing/answered callbacks to receive and store.
            status_events=TERMINAL_CALL_EVENTS,
        )
    except TwilioException:
        log.exception("could not ring operator %s for entry %s", operator.id, entry.id)
        release(session, entry, operator.id, operator_presence=Presence.AVAILABLE)
        raise QueueActionError("telephony") from None
    entry.operator_call_sid = operator_call_sid
    entry.queue_sid = queue_sid
    # Exception to "entry points commit once": the operator's call sid must be durable before
    # the caller is dequeued (a REST call), or its status callbacks would find no owner.
    session.commit()
    try:
        gateway.dequeue(
            queue_sid,
            call.call_sid,
            url=base + join_url(entry.id, entry.language, record=line.is_recording_enabled),
        )
    except TwilioException as exc:
        gone = isinstance(exc, TwilioRestException) and exc.status == 404
        log.warning("dequeue of %s failed (%s); releasing entry %s", call.call_sid, exc, entry.id)
        _quietly(gateway.hang_up, operator_call_sid)
        release(session, entry, operator.id, operator_presence=Presence.AVAILABLE)
        raise QueueActionError("gone" if gone else "telephony") from None
    log.info(
        "operator %s is being connected to call %s (entry %s)", operator.id, call.call_sid, entry.id
    )


def _quietly(func, *args, **kwargs) -> None:
    """A clean-up REST call whose failure must not hide the real error."""
    try:
        func(*args, **kwargs)
    except TwilioException:
        log.warning("clean-up %s%s failed", getattr(func, "__name__", func), args)


# --------------------------------------------------------------------------- Twilio's side


def caller_label(session: Session, entry: QueueEntry, console_language: str) -> str:
    """How to name the caller to the operator."""
    caller = session.get(Caller, entry.caller_id) if entry.caller_id else None
    if caller is not None and (caller.display_name or caller.name):
        return caller.display_name or caller.name
    return operator_text("unknown_caller", console_language)


@dataclass
class OperatorTurn:
    """What the operator's leg does: join the conference, or hear why not and hang up."""

    kind: str  # join, gone
    console_language: str
    whisper: str = ""
    entry: QueueEntry | None = None
    #: Joining as the second operator of a warm transfer.
    is_transfer: bool = False


def operator_answered(
    session: Session, *, entry_id: int, operator_id: int, call_sid: str
) -> OperatorTurn:
    """The operator picked up: mark the caller answered and let the operator in. Flushes; the
    webhook guard commits."""
    entry = session.get(QueueEntry, entry_id)
    operator = session.get(Operator, operator_id)
    language = operator.console_language if operator is not None else "zh"
    if entry is None or operator is None:
        session.flush()
        return OperatorTurn("gone", language)
    name = caller_label(session, entry, language)
    if entry.transfer_operator_id == operator_id and entry.status == QueueStatus.CONNECTED:
        if not entry.is_transfer_joined:
            service.talk_started(session, entry, operator_id, utcnow())
        entry.is_transfer_joined = True
        entry.transfer_call_sid = entry.transfer_call_sid or call_sid
        first = session.get(Operator, entry.operator_id) if entry.operator_id else None
        by = (first.display_name or first.username) if first is not None else "-"
        session.flush()
        whisper = operator_text("whisper_transfer", language, name=name, by=by)
        return OperatorTurn("join", language, whisper, entry, is_transfer=True)
    if entry.operator_id == operator_id:
        now = utcnow()
        if entry.status == QueueStatus.CONNECTING and service.transition(
            session, entry, (QueueStatus.CONNECTING,), QueueStatus.CONNECTED, connected_at=now
        ):
            call = session.get(Call, entry.call_id)
            assert call is not None
            call.answered_at = call.answered_at or now
            call.outcome = CallOutcome.ANSWERED
            entry.operator_call_sid = entry.operator_call_sid or call_sid
            presence.mark(operator, Presence.BUSY, now=now)
            service.talk_started(session, entry, operator_id, now)
        if entry.status == QueueStatus.CONNECTED:
            session.flush()
            return OperatorTurn(
                "join", language, operator_text("whisper", language, name=name), entry
            )
    # The caller hung up while the phone rang (or the claim was undone).
    if operator.presence == Presence.BUSY and active_entry(session, operator_id) is None:
        presence.mark(operator, Presence.AVAILABLE)
    session.flush()
    return OperatorTurn("gone", language, entry=entry)


def operator_leg_status(
    session: Session, *, entry_id: int, operator_id: int, call_sid: str, call_status: str
) -> bool:
    """A status callback of an operator's leg. True when the caller, already dequeued into the
    conference, must be put back into the queue (the operator's phone did not answer).
    Flushes; the webhook guard commits (before the requeue's REST call, made after the
    response)."""
    if call_status not in FAILED_LEG_STATUSES and call_status != "completed":
        return False
    entry = session.get(QueueEntry, entry_id)
    if entry is None:
        return False
    operator = session.get(Operator, operator_id)
    if entry.transfer_operator_id == operator_id and entry.transfer_call_sid == call_sid:
        missed = call_status in FAILED_LEG_STATUSES or not entry.is_transfer_joined
        if entry.is_transfer_joined:
            service.talk_ended(session, entry.id, TalkEnd.LEFT, operator_id=operator_id)
        entry.transfer_operator_id = None
        entry.transfer_call_sid = None
        entry.is_transfer_joined = False
        if operator is not None and operator.presence == Presence.BUSY:
            presence.mark(operator, Presence.AWAY if missed else Presence.AVAILABLE)
        session.flush()
        return False
    if entry.operator_id != operator_id or entry.operator_call_sid != call_sid:
        session.flush()
        return False
    if entry.status == QueueStatus.CONNECTING:
        requeued = back_to_waiting(session, entry, (QueueStatus.CONNECTING,))
        if operator is not None and operator.presence == Presence.BUSY:
            # Not at their phone: do not offer them the next caller until they say so.
            presence.mark(operator, Presence.AWAY)
        session.flush()
        log.warning(
            "operator %s did not answer (%s); entry %s back in the queue",
            operator_id,
            call_status,
            entry_id,
        )
        return requeued
    if entry.status == QueueStatus.CONNECTED:
        # Their phone hung up: their talk ends now (the conference's end completes the entry).
        service.talk_ended(session, entry.id, TalkEnd.HUNG_UP, operator_id=operator_id)
    if (
        entry.status == QueueStatus.CONNECTED
        and operator is not None
        and operator.presence == Presence.BUSY
    ):
        presence.mark(
            operator, Presence.WRAP_UP, wrap_up_seconds=service.wrap_up_seconds(session, entry)
        )
    session.flush()
    return False


def back_to_waiting(
    session: Session, entry: QueueEntry, from_statuses: tuple[QueueStatus, ...], **values
) -> bool:
    """The caller waits again in their old place (original arrival kept), counted as put back
    in the queue; True if the entry was still in one of `from_statuses`. No commit."""
    return service.transition(
        session,
        entry,
        from_statuses,
        QueueStatus.WAITING,
        operator_id=None,
        operator_call_sid=None,
        conference_name=None,
        conference_sid=None,
        claimed_at=None,
        requeue_count=QueueEntry.requeue_count + 1,
        **values,
    )


def send_caller_back_to_queue(session: Session, entry_id: int, *, base_url: str) -> None:
    """REST: the caller (in a conference nobody joined) goes back into the Twilio queue."""
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.status != QueueStatus.WAITING:
        return
    call = session.get(Call, entry.call_id)
    assert call is not None
    get_gateway().redirect_call(call.call_sid, url=base_url + requeue_url(entry.id, entry.language))


def conference_event(
    session: Session, *, entry_id: int, conference_sid: str | None, event: str, call_sid: str | None
) -> None:
    """A conference status callback: keep the ConferenceSid (hold and transfer need it) and the
    caller's hold state. Flushes; the
    webhook guard commits."""
    entry = session.get(QueueEntry, entry_id)
    if entry is None:
        return
    if conference_sid and entry.status.is_live and entry.conference_sid != conference_sid:
        entry.conference_sid = conference_sid
    if event in ("participant-hold", "participant-unhold") and call_sid:
        call = session.get(Call, entry.call_id)
        if call is not None and call.call_sid == call_sid:
            entry.is_on_hold = event == "participant-hold"
    session.flush()


def caller_after_conference(session: Session, *, entry_id: int) -> str:
    """The caller's conference ended. "goodbye" after a conversation; "requeue" when nobody
    joined them (the caller goes back to the queue, keeping the place). Flushes; the
    webhook guard commits."""
    entry = session.get(QueueEntry, entry_id)
    if entry is None:
        return "goodbye"
    if entry.status == QueueStatus.CONNECTED:
        service.conversation_over(session, entry)
        session.flush()
        return "goodbye"
    if entry.status == QueueStatus.CONNECTING:
        operator_id = entry.operator_id
        back_to_waiting(session, entry, (QueueStatus.CONNECTING,))
        if operator_id is not None and active_entry(session, operator_id) is None:
            operator = session.get(Operator, operator_id)
            if operator is not None and operator.presence == Presence.BUSY:
                presence.mark(operator, Presence.AVAILABLE)
        session.flush()
        return "requeue"
    session.flush()
    return "requeue" if entry.status == QueueStatus.WAITING else "goodbye"


def operator_after_conference(session: Session, *, entry_id: int, operator_id: int) -> str:
    """The operator's conference ended: wrap-up time. Returns their console language.
    Flushes; the webhook guard commits."""
    operator = session.get(Operator, operator_id)
    entry = session.get(QueueEntry, entry_id)
    if operator is None:
        return "zh"
    if (
        entry is not None
        and entry.operator_id == operator_id
        and operator.presence == Presence.BUSY
        and active_entry(session, operator_id) in (None, entry)
    ):
        presence.mark(
            operator, Presence.WRAP_UP, wrap_up_seconds=service.wrap_up_seconds(session, entry)
        )
    session.flush()
    return operator.console_language


# --------------------------------------------------------------------------- console controls


def _own(session: Session, entry_id: int, operator_id: int, *statuses: QueueStatus) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.operator_id != operator_id:
        raise QueueActionError("not_yours")
    if statuses and entry.status not in statuses:
        raise QueueActionError("not_connected")
    return entry


def conference_sid_of(entry: QueueEntry) -> str:
    """The ConferenceSid, from the status callbacks, else looked up by its unique name."""
    if entry.conference_sid:
        return entry.conference_sid
    for conference in get_gateway().client.conferences.list(
        friendly_name=entry.conference_name, status="in-progress", limit=1
    ):
        entry.conference_sid = conference.sid
        return conference.sid
    raise QueueActionError("not_connected")


def set_hold(session: Session, entry_id: int, operator_id: int, *, on_hold: bool) -> QueueEntry:
    """Hold (the caller hears that their helper will be right back) or resume. Flushes; the
    console view commits."""
    entry = _own(session, entry_id, operator_id, QueueStatus.CONNECTED)
    call = session.get(Call, entry.call_id)
    assert call is not None
    try:
        get_gateway().hold_participant(
            conference_sid_of(entry),
            call.call_sid,
            hold=on_hold,
            hold_url=public_base_url() + hold_url(entry.language) if on_hold else None,
        )
    except TwilioException:
        log.exception("hold=%s failed for entry %s", on_hold, entry.id)
        raise QueueActionError("telephony") from None
    entry.is_on_hold = on_hold
    session.flush()
    return entry


def hang_up(session: Session, entry_id: int, operator_id: int) -> QueueEntry:
    """End the conversation (the caller hears the end of the call); the operator wraps up.
    While still connecting, cancel instead: the caller goes back to the queue. Commits, as
    the durable-before-a-REST-call exception (see the comments)."""
    entry = _own(session, entry_id, operator_id, QueueStatus.CONNECTING, QueueStatus.CONNECTED)
    gateway = get_gateway()
    call = session.get(Call, entry.call_id)
    assert call is not None
    if entry.status == QueueStatus.CONNECTING:
        operator_call_sid = entry.operator_call_sid
        release(session, entry, operator_id, operator_presence=Presence.AVAILABLE)
        if operator_call_sid:
            _quietly(gateway.hang_up, operator_call_sid)
        try:
            send_caller_back_to_queue(session, entry.id, base_url=public_base_url())
        except TwilioException:
            log.exception("could not send the caller of entry %s back to the queue", entry.id)
        return entry
    try:
        gateway.hang_up(call.call_sid)
    except TwilioException:
        log.exception("hang-up failed for entry %s", entry.id)
        raise QueueActionError("telephony") from None
    transfer_leg = entry.transfer_call_sid
    service.conversation_over(session, entry, TalkEnd.HUNG_UP)
    # Durable before the colleague's leg is hung up (a REST call): its status callback must
    # find the conversation over, not a connected entry.
    session.commit()
    if transfer_leg:
        _quietly(gateway.hang_up, transfer_leg)  # the colleague being rung is not needed now
    return entry


def transfer(
    session: Session, entry_id: int, operator_id: int, *, to_operator_id: int
) -> QueueEntry:
    """Warm transfer: ring another available operator into the conversation. Commits, as the
    durable-before-a-REST-call exception (see the comments)."""
    entry = _own(session, entry_id, operator_id, QueueStatus.CONNECTED)
    if entry.transfer_operator_id is not None or _external_transfer_live(session, entry.id):
        raise QueueActionError("transfer_busy")
    target = session.get(Operator, to_operator_id)
    if (
        target is None
        or target.id == operator_id
        or not target.is_active
        or not target.phone_number
        or not presence.is_reachable(target)
    ):
        raise QueueActionError("target_unavailable")
    if outbound_refusal(target.phone_number) is not None:
        raise QueueActionError("number_refused")
    if not presence.change(session, target, Presence.BUSY, only_from=(Presence.AVAILABLE,)):
        session.rollback()
        raise QueueActionError("target_unavailable")
    # The colleague's reservation is durable before their phone rings (a REST call), so no
    # one else can take them meanwhile.
    session.commit()
    line = lines_cache.line_by_id(session, entry.line_id)
    assert line is not None
    base = public_base_url()
    try:
        call_sid = get_gateway().create_call(
            to=target.phone_number,
            from_=line.phone_number,
            url=base + operator_url(entry.id, target.id, record=line.is_recording_enabled),
            status_callback=base + operator_status_url(entry.id, target.id),
            timeout_seconds=OPERATOR_RING_SECONDS,
            # operator_leg_status acts on the end of the leg only (answering is the Url's
            # webhook): no initiated/ringing/answered callbacks to receive and store.
            status_events=TERMINAL_CALL_EVENTS,
        )
    except TwilioException:
        log.exception("could not ring operator %s for a transfer", target.id)
        session.refresh(target)
        presence.mark(target, Presence.AVAILABLE)
        session.commit()  # undo the reservation: the view answers with an error
        raise QueueActionError("telephony") from None
    entry.transfer_operator_id = target.id
    entry.transfer_call_sid = call_sid
    entry.is_transfer_joined = False
    session.flush()
    return entry


def _external_transfer_live(session: Session, entry_id: int) -> bool:
    """An agency is being rung into (or is in) this conversation (hotline.transfers)."""
    return (
        session.scalar(
            select(ExternalTransfer.id)
            .where(
                ExternalTransfer.queue_entry_id == entry_id,
                ExternalTransfer.status.in_(IN_CONVERSATION),
            )
            .limit(1)
        )
        is not None
    )


def hand_over(session: Session, entry_id: int, operator_id: int) -> QueueEntry:
    """The second operator is in the conversation: the first leaves it to them. Flushes; the
    console view commits."""
    entry = _own(session, entry_id, operator_id, QueueStatus.CONNECTED)
    if entry.transfer_operator_id is None:
        raise QueueActionError("no_transfer")
    if not entry.is_transfer_joined:
        raise QueueActionError("transfer_not_joined")
    gateway = get_gateway()
    try:
        conference_sid = conference_sid_of(entry)
        if entry.transfer_call_sid:
            gateway.set_end_conference_on_exit(conference_sid, entry.transfer_call_sid, True)
        if entry.operator_call_sid:
            gateway.set_end_conference_on_exit(conference_sid, entry.operator_call_sid, False)
            gateway.remove_participant(conference_sid, entry.operator_call_sid)
    except TwilioException:
        log.exception("hand-over failed for entry %s", entry.id)
        raise QueueActionError("telephony") from None
    service.talk_ended(session, entry.id, TalkEnd.HANDED_OVER, operator_id=operator_id)
    entry.operator_id = entry.transfer_operator_id
    entry.operator_call_sid = entry.transfer_call_sid
    entry.transfer_operator_id = None
    entry.transfer_call_sid = None
    entry.is_transfer_joined = False
    presence.mark_by_id(
        session,
        operator_id,
        Presence.WRAP_UP,
        wrap_up_seconds=service.wrap_up_seconds(session, entry),
    )
    session.flush()
    return entry


def cancel_transfer(session: Session, entry_id: int, operator_id: int) -> QueueEntry:
    """Stop ringing (or drop) the second operator; the conversation goes on as before. Commits
    before hanging up their leg (a REST call), so its status callback finds no transfer."""
    entry = _own(session, entry_id, operator_id, QueueStatus.CONNECTED)
    if entry.transfer_operator_id is None:
        raise QueueActionError("no_transfer")
    target_id, call_sid = entry.transfer_operator_id, entry.transfer_call_sid
    if entry.is_transfer_joined:
        service.talk_ended(session, entry.id, TalkEnd.LEFT, operator_id=target_id)
    entry.transfer_operator_id = None
    entry.transfer_call_sid = None
    entry.is_transfer_joined = False
    target = session.get(Operator, target_id)
    if target is not None and target.presence == Presence.BUSY:
        presence.mark(target, Presence.AVAILABLE)
    session.commit()
    if call_sid:
        _quietly(get_gateway().hang_up, call_sid)
    return entry


def finish_wrap_up(session: Session, operator_id: int) -> bool:
    """The operator is ready for the next caller. Flushes; the console view commits."""
    operator = session.get(Operator, operator_id)
    if operator is None or operator.presence != Presence.WRAP_UP:
        return False
    presence.mark(operator, Presence.AVAILABLE)
    session.flush()
    return True


def voice_access_token(operator_id: int, *, ttl_seconds: int = 3600) -> str:
    """A Twilio access token letting the operator's browser receive calls (Voice JS SDK)."""
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import VoiceGrant

    cfg = current_app.config
    token = AccessToken(
        cfg["TWILIO_ACCOUNT_SID"],
        cfg["TWILIO_API_KEY_SID"],
        cfg["TWILIO_API_KEY_SECRET"],
        identity=operator_identity(operator_id),
        ttl=ttl_seconds,
    )
    token.add_grant(VoiceGrant(incoming_allow=True))
    jwt = token.to_jwt()
    return jwt.decode() if isinstance(jwt, bytes) else jwt
