"""External transfers: bring an agency, an emergency service or a typed number into the caller's
conversation from the call panel.

The caller and the operator already share a conference (hotline.queue.connect). The outside
party is added to it with Twilio's Conference Participants API:

- warm: the caller goes on hold (participant update hold=True with our hold prompt), the outside
  party is rung in, and the operator talks to them first. Then the operator either hands over
  (the caller is taken off hold, the outside party gets endConferenceOnExit, the operator's own
  flag is cleared and their leg removed: caller and agency stay together), or brings the caller
  back as a three-way call, or cancels (the outside leg is hung up, the caller taken off hold).
- cold: the outside party is rung in with endConferenceOnExit and the operator leaves at once.
  If that leg then fails (busy, no answer), the caller, alone in the conference, goes back to
  the queue in their old place (`participant_status` says so; the view redirects the call).

Emergency short codes (120/110/119/122) are allowed here and nowhere else
(NumberPolicy.transfer_refusal). Every transfer is an ExternalTransfer row, written and made
durable before the REST request so its status callbacks always find it; the participant's call
status callbacks give its answer and its end (Twilio's CallDuration).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from twilio.base.exceptions import TwilioException

from hotline import audit
from hotline.callers.models import Caller
from hotline.calls.models import Call
from hotline.directory.models import Agency, AgencyKind
from hotline.errors import ActionRefused
from hotline.lines.models import Line
from hotline.numberpolicy import EMERGENCY_SHORT_CODES, NumberPolicy
from hotline.operators import presence
from hotline.operators.models import Presence
from hotline.phone import InvalidNumber, mask, normalise
from hotline.queue import connect, service
from hotline.queue.models import QueueEntry, QueueStatus, TalkEnd
from hotline.telephony.gateway import get_gateway, public_base_url
from hotline.telephony.twiml import with_query
from hotline.timeutil import utcnow
from hotline.transfers.models import (
    IN_CONVERSATION,
    ExternalTransfer,
    TransferMode,
    TransferStatus,
)

log = logging.getLogger(__name__)

#: How long the outside party's phone rings (an ambulance dispatcher answers quickly; an office
#: that does not answer in 30 s will not).
TRANSFER_RING_SECONDS = 30
#: The participant's call progress events we act on: answered (the transfer started talking)
#: and completed (its end, with CallDuration; Twilio reports busy/no-answer/failed as completed).
TRANSFER_CALL_EVENTS = ("answered", "completed")
#: Twilio's final call statuses of a leg that never talked.
FAILED_LEG_STATUSES = frozenset({"busy", "no-answer", "failed", "canceled"})

#: The emergency services, one click away on the call panel whatever the directory holds.
EMERGENCY_SERVICES = (
    ("120", "120 急救", "120 ambulance"),
    ("110", "110 报警", "110 police"),
    ("119", "119 火警", "119 fire"),
)


class TransferError(ActionRefused):
    """A transfer action that cannot be done, with the reason in both console languages."""

    MESSAGES = {
        "not_yours": ("这不是您的通话。", "This is not your call."),
        "not_connected": ("通话还没有接通。", "The call is not connected yet."),
        "busy": ("已经在转接中。", "A transfer is already in progress."),
        "none": ("没有进行中的转接。", "There is no transfer in progress."),
        "not_answered": ("对方还没有接听。", "The other side has not answered yet."),
        "no_target": ("请选择机构或输入电话号码。", "Choose an agency or type a number."),
        "bad_number": ("这不是有效的电话号码。", "This is not a valid phone number."),
        "number_refused": (
            "这个号码不允许转接(境外、收费或不允许的短号)。",
            "That number may not be called (foreign, premium-rate or a short code that is "
            "not an emergency service).",
        ),
        "not_reached": (
            "对方没有接通,您仍在和来电者通话。",
            "The other side was not reached; you are still with the caller.",
        ),
        "telephony": (
            "电话系统暂时出错,请再试一次。",
            "The phone system failed. Please try again.",
        ),
    }

    def __init__(self, code: str):
        zh, en = self.MESSAGES[code]
        super().__init__(zh, en)
        self.code = code


# --------------------------------------------------------------------------- URLs


def participant_status_url(transfer_id: int) -> str:
    return with_query("/twilio/transfers/participant-status", transfer=transfer_id)


# --------------------------------------------------------------------------- destinations


@dataclass(frozen=True)
class Destination:
    """Someone the call panel offers to transfer to."""

    key: str  # "emergency:120", "agency:7"
    name: str
    number: str
    kind: str


def destinations(session: Session, *, console_language: str = "zh") -> list[Destination]:
    """The emergency services first, then the directory's active agencies (by kind, name)."""
    found = [
        Destination(f"emergency:{code}", en if console_language == "en" else zh, code, "emergency")
        for code, zh, en in EMERGENCY_SERVICES
    ]
    one_click = {code for code, _, _ in EMERGENCY_SERVICES}
    agencies = session.scalars(
        select(Agency).where(Agency.is_active).order_by(Agency.kind, Agency.name)
    ).all()
    for agency in agencies:
        if agency.kind == AgencyKind.EMERGENCY and agency.phone_number in one_click:
            continue  # already one click away above
        found.append(
            Destination(f"agency:{agency.id}", agency.name, agency.phone_number, agency.kind.value)
        )
    return found


@dataclass(frozen=True)
class Target:
    name: str
    number: str
    kind: str
    agency_id: int | None = None


def resolve_target(session: Session, choice: str | None, typed_number: str | None) -> Target:
    """The chosen destination ("emergency:120", "agency:7") or the typed number, checked
    against the number policy (emergency short codes allowed). Raises TransferError."""
    choice = (choice or "").strip()
    typed = (typed_number or "").strip()
    target: Target
    if choice.startswith("emergency:"):
        code = choice.split(":", 1)[1]
        names = {c: zh for c, zh, _ in EMERGENCY_SERVICES}
        if code not in EMERGENCY_SHORT_CODES:
            raise TransferError("number_refused")
        target = Target(names.get(code, code), code, "emergency")
    elif choice.startswith("agency:"):
        try:
            agency = session.get(Agency, int(choice.split(":", 1)[1]))
        except ValueError:
            agency = None
        if agency is None or not agency.is_active:
            raise TransferError("no_target")
        target = Target(agency.name, agency.phone_number, agency.kind.value, agency.id)
    elif typed:
        if typed in EMERGENCY_SHORT_CODES:
            number = typed
        else:
            try:
                number = normalise(typed)
            except InvalidNumber:
                raise TransferError("bad_number") from None
        target = Target(mask(number) if number.startswith("+") else number, number, "number")
    else:
        raise TransferError("no_target")
    refusal = NumberPolicy.from_config(current_app.config).transfer_refusal(target.number)
    if refusal is not None:
        log.warning("transfer to %s refused by the number policy: %s", mask(target.number), refusal)
        raise TransferError("number_refused")
    return target


# --------------------------------------------------------------------------- reads


def live_transfer(session: Session, entry_id: int) -> ExternalTransfer | None:
    """The entry's transfer in progress (ringing, consulting, three-way), if any."""
    return session.scalar(
        select(ExternalTransfer)
        .where(
            ExternalTransfer.queue_entry_id == entry_id,
            ExternalTransfer.status.in_(IN_CONVERSATION),
        )
        .order_by(ExternalTransfer.id.desc())
        .limit(1)
    )


def latest_transfer(session: Session, entry_id: int) -> ExternalTransfer | None:
    """The entry's newest transfer (the panel shows how the last one ended)."""
    return session.scalar(
        select(ExternalTransfer)
        .where(ExternalTransfer.queue_entry_id == entry_id)
        .order_by(ExternalTransfer.id.desc())
        .limit(1)
    )


def caller_facts(session: Session, entry: QueueEntry) -> dict[str, str]:
    """What the operator reads out to an emergency service: name, number, district."""
    caller = session.get(Caller, entry.caller_id) if entry.caller_id else None
    call = session.get(Call, entry.call_id)
    return {
        "name": (caller.display_name or caller.name) if caller is not None else "",
        "number": call.from_number if call is not None else "",
        "district": caller.district if caller is not None else "",
    }


# --------------------------------------------------------------------------- actions


def _own_connected(session: Session, entry_id: int, operator_id: int) -> QueueEntry:
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.operator_id != operator_id:
        raise TransferError("not_yours")
    if entry.status != QueueStatus.CONNECTED:
        raise TransferError("not_connected")
    return entry


def _conference_sid(entry: QueueEntry) -> str:
    try:
        return connect.conference_sid_of(entry)
    except connect.QueueActionError:
        raise TransferError("not_connected") from None


def _caller_call_sid(session: Session, entry: QueueEntry) -> str:
    call = session.get(Call, entry.call_id)
    assert call is not None
    return call.call_sid


def _audit(session: Session, transfer: ExternalTransfer, action: str, operator_id: int | None):
    audit.record(
        session,
        entity="call",
        entity_id=transfer.call_id,
        action=action,
        operator_id=operator_id,
        after={
            "transfer_id": transfer.id,
            "kind": transfer.kind,
            "mode": transfer.mode.value,
            "status": transfer.status.value,
            "target_number": transfer.target_number,
        },
    )


def start(
    session: Session,
    entry_id: int,
    operator_id: int,
    *,
    choice: str | None = None,
    typed_number: str | None = None,
    mode: TransferMode = TransferMode.WARM,
) -> ExternalTransfer:
    """Add the outside party to the caller's conversation (warm: the caller on hold first;
    cold: the operator leaves at once). Commits, as the durable-before-a-REST-call exception:
    the transfer row must exist before its participant's status callbacks can arrive."""
    entry = _own_connected(session, entry_id, operator_id)
    if entry.transfer_operator_id is not None or live_transfer(session, entry.id) is not None:
        raise TransferError("busy")
    target = resolve_target(session, choice, typed_number)
    line = session.get(Line, entry.line_id)
    assert line is not None
    conference_sid = _conference_sid(entry)
    transfer = ExternalTransfer(
        call_id=entry.call_id,
        queue_entry_id=entry.id,
        operator_id=operator_id,
        agency_id=target.agency_id,
        kind=target.kind,
        target_name=target.name,
        target_number=target.number,
        mode=mode,
        status=TransferStatus.RINGING,
        started_at=utcnow(),
    )
    session.add(transfer)
    session.flush()
    _audit(session, transfer, "transfer_started", operator_id)
    # Durable before the REST requests (see the docstring).
    session.commit()
    gateway = get_gateway()
    base = public_base_url()
    caller_sid = _caller_call_sid(session, entry)
    try:
        if mode == TransferMode.WARM:
            gateway.hold_participant(
                conference_sid,
                caller_sid,
                hold=True,
                hold_url=base + connect.hold_url(entry.language),
            )
            entry.is_on_hold = True
        transfer.participant_call_sid = gateway.add_conference_participant(
            conference_sid,
            from_=line.phone_number,
            to=target.number,
            status_callback=base + participant_status_url(transfer.id),
            status_events=TRANSFER_CALL_EVENTS,
            label=f"transfer-{transfer.id}",
            timeout_seconds=TRANSFER_RING_SECONDS,
            # Cold: nobody from the hotline stays, so the outside party's hanging up must end
            # the conference (the caller hears the goodbye instead of silence).
            end_conference_on_exit=mode == TransferMode.COLD,
            is_transfer_destination=True,
        )
    except TwilioException:
        log.exception("transfer %s could not be placed", transfer.id)
        transfer.status = TransferStatus.FAILED
        transfer.end_status = "failed"
        transfer.ended_at = utcnow()
        if entry.is_on_hold:
            # Logged inside; if it fails too, the panel still offers Resume.
            with contextlib.suppress(TransferError):
                _take_off_hold(session, entry, conference_sid)
        _audit(session, transfer, "transfer_failed", operator_id)
        session.commit()
        raise TransferError("telephony") from None
    if mode == TransferMode.COLD:
        _operator_leaves(session, entry, transfer, conference_sid)
    session.flush()
    return transfer


def _take_off_hold(session: Session, entry: QueueEntry, conference_sid: str) -> None:
    try:
        get_gateway().hold_participant(conference_sid, _caller_call_sid(session, entry), hold=False)
    except TwilioException:
        log.exception("could not take the caller of entry %s off hold", entry.id)
        raise TransferError("telephony") from None
    entry.is_on_hold = False


def _operator_leaves(
    session: Session, entry: QueueEntry, transfer: ExternalTransfer, conference_sid: str
) -> None:
    """The operator's leg leaves the conference without ending it; their part of the
    conversation is over (wrap-up), the caller stays with the outside party.

    The hand-over is claimed first (a conditional UPDATE: the outside leg may have failed
    meanwhile, and then the operator stays) and made durable with the conversation's end before
    the operator's leg is removed (REST): a failure callback racing in then finds the caller
    alone and sends them back to the queue (`participant_status`). Commits.
    """
    now = utcnow()
    session.flush()  # the participant's CallSid, before the claim reloads the row
    claimed = session.execute(
        update(ExternalTransfer)
        .where(ExternalTransfer.id == transfer.id, ExternalTransfer.status.in_(IN_CONVERSATION))
        .values(status=TransferStatus.HANDED_OVER, handed_over_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(transfer)
    if claimed.rowcount != 1:
        raise TransferError("not_reached")
    service.conversation_over(
        session,
        entry,
        TalkEnd.COLD_TRANSFER if transfer.mode == TransferMode.COLD else TalkEnd.TRANSFERRED,
    )
    _audit(session, transfer, "transfer_handed_over", transfer.operator_id)
    session.commit()
    gateway = get_gateway()
    operator_leg = entry.operator_call_sid
    try:
        if operator_leg:
            gateway.set_end_conference_on_exit(conference_sid, operator_leg, False)
            gateway.remove_participant(conference_sid, operator_leg)
    except TwilioException:
        log.exception("the operator could not leave entry %s", entry.id)
        # Still in the room: the conversation is theirs again.
        service.transition(
            session, entry, (QueueStatus.COMPLETED,), QueueStatus.CONNECTED, ended_at=None
        )
        presence.mark_by_id(session, entry.operator_id, Presence.BUSY)
        service.talk_resumed(session, entry.id, entry.operator_id)
        if transfer.status == TransferStatus.HANDED_OVER:
            transfer.status = (
                TransferStatus.CONSULTING if transfer.answered_at else (TransferStatus.RINGING)
            )
            transfer.handed_over_at = None
        session.commit()
        raise TransferError("telephony") from None


def hand_over(session: Session, entry_id: int, operator_id: int) -> ExternalTransfer:
    """Warm transfer, the outside party has answered: the caller comes off hold, the outside
    party keeps the conference going and the operator leaves. Flushes; the view commits."""
    entry = _own_connected(session, entry_id, operator_id)
    transfer = live_transfer(session, entry.id)
    if transfer is None:
        raise TransferError("none")
    if transfer.answered_at is None or not transfer.participant_call_sid:
        raise TransferError("not_answered")
    conference_sid = _conference_sid(entry)
    if entry.is_on_hold:
        _take_off_hold(session, entry, conference_sid)
    try:
        get_gateway().set_end_conference_on_exit(
            conference_sid, transfer.participant_call_sid, True
        )
    except TwilioException:
        log.exception("hand-over of transfer %s failed", transfer.id)
        raise TransferError("telephony") from None
    _operator_leaves(session, entry, transfer, conference_sid)
    session.flush()
    return transfer


def three_way(session: Session, entry_id: int, operator_id: int) -> ExternalTransfer:
    """Warm transfer, answered: the caller comes off hold and all three talk. Flushes."""
    entry = _own_connected(session, entry_id, operator_id)
    transfer = live_transfer(session, entry.id)
    if transfer is None:
        raise TransferError("none")
    if transfer.answered_at is None:
        raise TransferError("not_answered")
    if entry.is_on_hold:
        _take_off_hold(session, entry, _conference_sid(entry))
    transfer.status = TransferStatus.THREE_WAY
    _audit(session, transfer, "transfer_three_way", operator_id)
    session.flush()
    return transfer


def cancel(session: Session, entry_id: int, operator_id: int) -> ExternalTransfer:
    """Drop the outside party (ringing or talking) and take the caller off hold. Commits
    before hanging up their leg (a REST call), so its status callback finds it cancelled."""
    entry = _own_connected(session, entry_id, operator_id)
    transfer = live_transfer(session, entry.id)
    if transfer is None:
        raise TransferError("none")
    transfer.status = TransferStatus.CANCELLED
    transfer.ended_at = utcnow()
    _audit(session, transfer, "transfer_cancelled", operator_id)
    session.commit()
    gateway = get_gateway()
    if transfer.participant_call_sid:
        try:
            gateway.hang_up(transfer.participant_call_sid)
        except TwilioException:
            log.warning("could not hang up transfer leg %s", transfer.participant_call_sid)
    if entry.is_on_hold:
        _take_off_hold(session, entry, _conference_sid(entry))
    session.flush()
    return transfer


# --------------------------------------------------------------------------- Twilio's side


#: What the participant-status view does after its response (REST calls): nothing, send the
#: caller back to the queue, take them off hold, or tell the outside party that the line
#: records the conversation.
AFTER_NOTHING, AFTER_REQUEUE, AFTER_RESUME, AFTER_ANNOUNCE = "", "requeue", "resume", "announce"


def participant_status(
    session: Session,
    *,
    transfer_id: int,
    call_sid: str,
    call_status: str,
    duration_seconds: int | None,
) -> str:
    """A call status callback of the outside party's leg: its answer, or its end (with how
    long it lasted). Returns what must follow after the response: AFTER_REQUEUE when a cold
    transfer nobody answered left the caller alone (back to the queue), AFTER_RESUME when the
    outside party of a warm transfer is gone while the caller waits on hold (the operator is
    still there: the caller comes back to them). Flushes; the webhook guard commits."""
    transfer = session.get(ExternalTransfer, transfer_id)
    if transfer is None:
        return AFTER_NOTHING
    if transfer.participant_call_sid and transfer.participant_call_sid != call_sid:
        return AFTER_NOTHING  # not this transfer's leg (a forged or misrouted URL)
    if transfer.participant_call_sid is None:
        # The callback beat the REST answer's commit: the leg is this transfer's.
        transfer.participant_call_sid = call_sid
    now = utcnow()
    if call_status == "in-progress":
        first_answer = transfer.answered_at is None
        if first_answer:
            transfer.answered_at = now
        if transfer.status == TransferStatus.RINGING:
            transfer.status = TransferStatus.CONSULTING
        session.flush()
        return AFTER_ANNOUNCE if first_answer and _is_recorded(session, transfer) else ""
    if call_status != "completed" and call_status not in FAILED_LEG_STATUSES:
        return AFTER_NOTHING
    if transfer.ended_at is None or transfer.end_status is None:
        transfer.ended_at = transfer.ended_at or now
        transfer.end_status = call_status
        transfer.duration_seconds = duration_seconds
    never_talked = transfer.answered_at is None
    after = AFTER_NOTHING
    if transfer.status.is_live:
        was_handed_over = transfer.status == TransferStatus.HANDED_OVER
        transfer.status = TransferStatus.FAILED if never_talked else TransferStatus.ENDED
        if never_talked and was_handed_over and transfer.mode == TransferMode.COLD:
            after = AFTER_REQUEUE if _back_to_queue(session, transfer) else AFTER_NOTHING
        elif not was_handed_over:
            after = _caller_back_from_hold(session, transfer)
        _audit(session, transfer, f"transfer_{transfer.status.value}", None)
    session.flush()
    return after


def _is_recorded(session: Session, transfer: ExternalTransfer) -> bool:
    """The caller's line records conversations (the outside party joins a recorded one)."""
    entry = session.get(QueueEntry, transfer.queue_entry_id)
    line = session.get(Line, entry.line_id) if entry is not None else None
    return line is not None and line.is_recording_enabled


def recording_notice_url(entry_id: int) -> str:
    return with_query("/twilio/transfers/recording-notice", entry=entry_id)


def announce_recording(session: Session, transfer_id: int, *, base_url: str) -> None:
    """REST, after the participant-status response: the outside party hears the line's
    recording notice (the caller heard it in the greeting)."""
    transfer = session.get(ExternalTransfer, transfer_id)
    entry = session.get(QueueEntry, transfer.queue_entry_id) if transfer is not None else None
    if entry is None or transfer is None or not transfer.participant_call_sid:
        return
    if not entry.conference_sid or not transfer.status.is_live:
        return
    get_gateway().announce_to_participant(
        entry.conference_sid,
        transfer.participant_call_sid,
        url=base_url + recording_notice_url(entry.id),
    )


def _caller_back_from_hold(session: Session, transfer: ExternalTransfer) -> str:
    """The outside party left a conversation the operator is still in: a caller on hold
    comes back to the operator (marked here; the view's REST request makes it so)."""
    entry = session.get(QueueEntry, transfer.queue_entry_id)
    if entry is None or entry.status != QueueStatus.CONNECTED or not entry.is_on_hold:
        return AFTER_NOTHING
    entry.is_on_hold = False
    return AFTER_RESUME


def resume_caller(session: Session, entry_id: int) -> None:
    """REST, after the participant-status response: take the caller off hold."""
    entry = session.get(QueueEntry, entry_id)
    if entry is None or entry.status != QueueStatus.CONNECTED or not entry.conference_sid:
        return
    get_gateway().hold_participant(
        entry.conference_sid, _caller_call_sid(session, entry), hold=False
    )


def _back_to_queue(session: Session, transfer: ExternalTransfer) -> bool:
    """A cold transfer nobody answered: the caller's entry waits again, in its old place."""
    entry = session.get(QueueEntry, transfer.queue_entry_id)
    if entry is None:
        return False
    requeued = connect.back_to_waiting(
        session, entry, (QueueStatus.COMPLETED,), ended_at=None, is_on_hold=False
    )
    if requeued:
        log.warning("cold transfer %s failed; entry %s back in the queue", transfer.id, entry.id)
    return requeued
