"""The voice flow: recognising the caller, advancing the call, voicemail, the queue, callbacks.

The only module that combines the IVR engine, the queue and the callbacks. Its functions run
inside a webhook and never commit: the webhook guard commits the call's effects and the
WebhookEvent once. Subscribers here (`owe_queue_callback`) run in the publisher's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from hotline.callbacks import service as callbacks_service
from hotline.callbacks.models import CallbackReason
from hotline.callbacks.service import AnswerResult, request_callback
from hotline.callers.models import Caller, FamilyContact
from hotline.callers.service import ChangeSource, lookup_caller, set_preferences
from hotline.calls.models import CALL_BY_SID, Call, CallDirection, CallOutcome, CallStatus
from hotline.checkins import cascade as checkins_cascade
from hotline.ivr import checkin as checkin_engine
from hotline.ivr import engine
from hotline.ivr.check import CHECKIN_DEFAULT_LANGUAGE
from hotline.ivr.checkin import CheckinDecision
from hotline.ivr.engine import CallContext, CallState, SayAction, Step
from hotline.ivr.fallback import builtin_checkin
from hotline.ivr.schema import CheckinScript, ScriptSet
from hotline.lines import cache as lines_cache
from hotline.lines.models import Line
from hotline.lines.service import NoLineConfigured, find_line  # noqa: F401 (used by views)
from hotline.phone import mask, try_normalise
from hotline.queue import service as queue_service
from hotline.queue.events import CallbackOwed
from hotline.queue.models import QueueEntry
from hotline.telephony.params import GatherParams, RecordingParams, VoiceParams
from hotline.telephony.speech import rate_for
from hotline.telephony.webhooks import BadWebhook
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: Hard-of-hearing callers get more time to find the key (their slower speech: telephony.speech).
HARD_OF_HEARING_TIMEOUT = 12
#: Keep the stored menu path bounded (the loop cap stops calls long before this).
MAX_PATH_ENTRIES = 50


def key_timeout(caller: Caller | None) -> int | None:
    """Seconds to wait for the caller's key: their own, longer when hard of hearing, else the
    script's (None)."""
    if caller is None:
        return None
    return caller.input_timeout_seconds or (
        HARD_OF_HEARING_TIMEOUT if caller.is_hard_of_hearing else None
    )


@dataclass
class CallTurn:
    """What a view needs to answer: the step to render, on which line."""

    step: Step
    line: Line
    call: Call


#: Built once (issue 16): asked on every incoming call and menu answer.
_CONTACTS_BY_NUMBER = (
    select(FamilyContact)
    .where(FamilyContact.phone_number == bindparam("number"))
    .order_by(FamilyContact.id)
)


def family_proxy(session: Session, caller: Caller | None) -> tuple[FamilyContact, Caller] | None:
    """The consented family contact calling from this caller's number, and their elder.

    Only a contact whose consent is in force counts (see FamilyContact.is_consented); with
    several elders on one number, the oldest record wins (the operator sees which one).
    """
    if caller is None:
        return None
    contacts = session.scalars(_CONTACTS_BY_NUMBER, {"number": caller.phone_number}).all()
    for contact in contacts:
        elder = session.get(Caller, contact.caller_id)
        if contact.is_consented and elder is not None and elder.id != caller.id:
            return contact, elder
    return None


def call_context(
    session: Session,
    line: Line,
    caller: Caller | None,
    *,
    language_known: bool = False,
    checkin_offer: bool = False,
) -> CallContext:
    """Opening hours now, the caller's name and pacing preferences, a block in force, and
    (for a consented family contact) the elder they call about."""
    now = utcnow()
    is_open = lines_cache.calendar_for(session, line).is_open(now)
    if caller is None:
        return CallContext(is_open=is_open, is_recorded=line.is_recording_enabled)
    proxy = family_proxy(session, caller)
    rate = rate_for(
        speech_rate_percent=caller.speech_rate_percent,
        is_hard_of_hearing=caller.is_hard_of_hearing,
        default=None,
    )
    timeout = key_timeout(caller)
    return CallContext(
        is_open=is_open,
        caller_name=caller.display_name or None,
        rate_percent=rate,
        timeout_seconds=timeout,
        language_known=language_known,
        blocked=caller.is_blocked(now),
        proxy_for=(proxy[1].label or proxy[0].relation or "") if proxy else None,
        proxy_may_request_callbacks=bool(proxy and proxy[0].may("may_request_callbacks")),
        checkin_offer=checkin_offer,
        is_recorded=line.is_recording_enabled,
    )


def _language(scripts: ScriptSet, line: Line, caller: Caller | None) -> str:
    available = scripts.languages(line.script_key)
    if caller is not None and caller.language in available:
        return caller.language
    return line.default_language


def _inbound_call(
    session: Session,
    params: VoiceParams,
    region: str,
    *,
    status: CallStatus,
    contact_at: datetime | None = None,
) -> tuple[Line, Caller | None, Call, bool]:
    """The line dialled, the caller's profile, the Call row (created on first sight), and
    whether the profile is new (inserted with `last_contact_at=contact_at`)."""
    line = find_line(session, params.to, region)
    caller, new_caller = lookup_caller(session, params.from_, region, contact_at=contact_at)
    call = session.scalar(CALL_BY_SID, {"sid": params.call_sid})
    if call is None:
        call = Call(
            call_sid=params.call_sid,
            line_id=line.id,
            caller_id=caller.id if caller else None,
            direction=CallDirection.INBOUND,
            status=status,
            from_number=(caller.phone_number if caller else params.from_)[:64],
            to_number=params.to,
            menu_path=[],
        )
        session.add(call)
    return line, caller, call, new_caller


def start_inbound_call(
    session: Session, scripts: ScriptSet, params: VoiceParams, *, region: str
) -> CallTurn:
    """Handle the first webhook of an inbound call: recognise, greet, and walk to the menu."""
    now = utcnow()
    line, caller, call, new_caller = _inbound_call(
        session, params, region, status=CallStatus.RINGING, contact_at=now
    )
    language = _language(scripts, line, caller)
    known = caller is not None and caller.language in scripts.languages(line.script_key)
    # The new Call row waits for the commit's flush, so it is written once with its first
    # step (one INSERT, not an INSERT and an UPDATE); nothing here reads it back.
    with session.no_autoflush:
        # An enrolled elder's call confirms today's check-in in its window (关爱回访), or is
        # offered the check-in key before it; one cheap query for everyone else, none for a
        # caller whose profile this call created (no enrolment can refer to it yet).
        checkin = (
            checkins_cascade.inbound_call(session, caller.id, line.id)
            if caller is not None and caller.id is not None and not new_caller
            else None
        )
        ctx = call_context(
            session, line, caller, language_known=known, checkin_offer=checkin == "offer"
        )
    straight = bool(caller and caller.is_straight_to_person)
    step = engine.begin(scripts, line.script_key, language, ctx, straight_to_person=straight)
    if checkin is not None and step.path_entry is not None:
        step.path_entry["checkin"] = checkin
    if caller is not None and not new_caller:  # a new profile was inserted with it
        caller.last_contact_at = now
    _apply(session, call, caller, step)
    return CallTurn(step=step, line=line, call=call)


def continue_call(
    session: Session,
    scripts: ScriptSet,
    params: VoiceParams,
    gathered: GatherParams,
    *,
    node_id: str,
    language: str,
    region: str,
) -> CallTurn:
    """Apply the caller's answer at `node_id` (or their silence) and take the next step."""
    call = session.scalar(CALL_BY_SID, {"sid": params.call_sid})
    if call is None:
        # We lost the call's first webhook (e.g. it went to the fallback): carry on from here.
        turn = start_inbound_call(session, scripts, params, region=region)
        call = turn.call
    line = (
        lines_cache.line_by_id(session, call.line_id)
        if call.line_id
        else find_line(session, params.to, region)
    )
    assert line is not None
    caller = session.get(Caller, call.caller_id) if call.caller_id else None
    state = CallState(
        language=language if language in scripts.languages(line.script_key) else call.language,
        node=call.current_node,
        failures=call.node_failures,
        steps=call.step_count,
    )
    first = (call.menu_path or [{}])[0]
    ctx = call_context(
        session,
        line,
        caller,
        language_known=bool(caller and caller.language == state.language),
        checkin_offer=isinstance(first, dict) and first.get("checkin") == "offer",
    )
    step = engine.handle_input(
        scripts,
        line.script_key,
        state,
        ctx,
        node_id=node_id,
        digits=gathered.digits,
        speech=gathered.speech,
        confidence=gathered.confidence,
    )
    _apply(session, call, caller, step)
    return CallTurn(step=step, line=line, call=call)


def _apply(session: Session, call: Call, caller: Caller | None, step: Step) -> None:
    """Store the step's new state and carry out its effects on the call and caller."""
    call.language = step.state.language
    call.current_node = step.state.node
    call.node_failures = step.state.failures
    call.step_count = step.state.steps
    if step.path_entry is not None:
        path = list(call.menu_path or [])
        if len(path) < MAX_PATH_ENTRIES:
            path.append(step.path_entry)
        call.menu_path = path
    if step.scenario:
        call.scenario = step.scenario
    enqueue = step.enqueue
    if enqueue is not None and enqueue.scenario and not call.scenario:
        call.scenario = enqueue.scenario
    if caller is not None and (step.set_straight_to_person or step.language_changed):
        # The caller's own choice, through the audited preference change (never set directly).
        session.flush()
        set_preferences(
            session,
            caller.id,
            source=ChangeSource.CALLER,
            is_straight_to_person=True if step.set_straight_to_person else None,
            is_older_caller=True if step.set_straight_to_person else None,
            language=step.state.language if step.language_changed else None,
        )
    if enqueue is not None:
        urgent = queue_service.Priority.URGENT if enqueue.priority == "emergency" else None
        queue_service.enqueue(session, call, caller, reason=enqueue.reason, priority=urgent)
    if step.checked_in and caller is not None and call.line_id is not None:
        checkins_cascade.elder_called_in(session, caller.id, call.line_id, via="key")
    if step.callback_for_elder:
        _family_callback(session, call, caller)
    if step.record is not None:
        call.outcome = CallOutcome.VOICEMAIL
        if call.met_a_block:
            # Decision (issue 17): a block is for abuse, so its voicemail owes no automatic
            # callback. The message still lands on the caller's case (CallEnded links it), and
            # the callbacks page lists the call, so an operator judges whether to call back.
            log.info("voicemail from a blocked caller on call %s: no callback", call.call_sid)
        else:
            _voicemail_callback(session, call, caller, note="voicemail")


def _family_callback(session: Session, call: Call, caller: Caller | None) -> None:
    """A consented family contact asked, by key or word, for a callback to their elder."""
    proxy = family_proxy(session, caller)
    if proxy is None or not proxy[0].may("may_request_callbacks") or call.line_id is None:
        log.warning("callback for an elder asked on call %s without the permission", call.call_sid)
        return
    contact, elder = proxy
    session.flush()
    request_callback(
        session,
        line_id=call.line_id,
        phone_number=elder.phone_number,
        reason=CallbackReason.FAMILY,
        original_arrival_at=call.created_at or utcnow(),
        caller_id=elder.id,
        origin_call_id=call.id,
        language=elder.language or call.language,
        note=f"asked for by {contact.name} ({contact.relation})".strip()[:200],
    )


def _voicemail_callback(session: Session, call: Call, caller: Caller | None, *, note: str) -> None:
    number = caller.phone_number if caller else try_normalise(call.from_number)
    if number is None or call.line_id is None:
        log.warning(
            "voicemail from a withheld number on call %s: no callback possible", call.call_sid
        )
        return
    session.flush()
    request_callback(
        session,
        line_id=call.line_id,
        phone_number=number,
        reason=CallbackReason.VOICEMAIL,
        original_arrival_at=call.created_at or utcnow(),
        caller_id=caller.id if caller else None,
        origin_call_id=call.id,
        language=call.language,
        note=note,
    )


def store_recording(session: Session, call_sid: str, recording: RecordingParams) -> Call | None:
    """Attach a voicemail recording to its call."""
    call = session.scalar(CALL_BY_SID, {"sid": call_sid})
    if call is None:
        return None
    if recording.recording_url:
        call.recording_url = recording.recording_url
        call.recording_duration_seconds = recording.duration_seconds
    return call


def fallback_voicemail(
    session: Session, params: VoiceParams, recording: RecordingParams, *, region: str
) -> None:
    """A message left through the fallback path: make sure a callback is owed.

    On a call we placed (a callback: Direction outbound-api) the person is the number we
    called, `To`, and `From` is the line itself: the callback goes to the person, never to the
    line's own number.
    """
    if params.direction.startswith("outbound"):
        params = replace(params, from_=params.to, to=params.from_)
    _line, caller, call, _new = _inbound_call(
        session, params, region, status=CallStatus.IN_PROGRESS
    )
    call.outcome = CallOutcome.VOICEMAIL
    call.recording_url = recording.recording_url
    call.recording_duration_seconds = recording.duration_seconds
    session.flush()
    _voicemail_callback(session, call, caller, note="voicemail via fallback")


# --------------------------------------------------------------------------- queue and callbacks


def owe_queue_callback(session: Session, event: CallbackOwed) -> None:
    """Subscriber of the queue's CallbackOwed: record the callback, keeping the caller's
    original arrival, and remember it on the queue entry. Never commits."""
    entry = session.get(QueueEntry, event.entry_id)
    assert entry is not None
    call = session.get(Call, entry.call_id)
    assert call is not None
    caller = session.get(Caller, entry.caller_id) if entry.caller_id else None
    number = queue_service.callback_number(call, caller)
    if number is None:
        log.warning("no number to call back for call %s (%s)", call.call_sid, event.reason)
        return
    callback = request_callback(
        session,
        line_id=entry.line_id,
        phone_number=number,
        reason=CallbackReason(event.reason),
        original_arrival_at=entry.arrived_at,
        caller_id=caller.id if caller else None,
        origin_call_id=call.id,
        language=entry.language,
        note=event.note,
    )
    entry.callback_request_id = callback.id
    log.info("callback owed to %s (%s)", mask(number), event.reason)


@dataclass(frozen=True)
class CheckinCall:
    """A check-in call (关爱回访) answered by a person: the question to ask, and how."""

    episode_id: int
    line: Line
    language: str
    name: str
    rate_percent: int | None
    timeout_seconds: int | None


def _checkin_call(result: AnswerResult, episode_id: int) -> CheckinCall:
    caller = result.caller
    return CheckinCall(
        episode_id=episode_id,
        line=result.line,
        language=result.language,
        name=caller.label if caller is not None else "",
        rate_percent=result.rate_percent,
        timeout_seconds=key_timeout(caller),
    )


def answer_callback(
    session: Session, attempt_id: int, params: VoiceParams, *, answered_by: str | None
) -> AnswerResult | CheckinCall:
    """A callback call was picked up: a person joins the operator queue at callback priority
    with their original arrival time (so they keep their place), for the operator who scheduled
    it when one was named. A check-in call asks its question instead (`CheckinCall`)."""
    result = callbacks_service.answer_attempt(session, attempt_id, params, answered_by=answered_by)
    if (
        result.kind == "person"
        and result.callback is not None
        and result.callback.reason == CallbackReason.CHECK_IN
    ):
        episode = checkins_cascade.episode_for_callback(session, result.callback.id)
        if episode is not None:
            return _checkin_call(result, episode.id)
    if result.kind == "person" and result.call is not None and result.callback is not None:
        entry = queue_service.enqueue(
            session,
            result.call,
            result.caller,
            reason="callback",
            priority=queue_service.Priority.CALLBACK,
            arrived_at=result.callback.original_arrival_at,
            preferred_operator_id=result.callback.requested_by_operator_id,
        )
        entry.callback_request_id = result.callback.id
    return result


@dataclass(frozen=True)
class CheckinAnswer:
    """What the elder's answer to the check-in question means, and the call it concerns."""

    decision: CheckinDecision
    script: CheckinScript
    line: Line
    rate_percent: int | None
    #: The line is closed: the main script's voicemail (and a callback) instead of the queue.
    closed_step: Step | None = None
    #: The elder's key timeout, for the question asked again (None: the script's).
    timeout_seconds: int | None = None


def checkin_script(scripts: ScriptSet, language: str) -> CheckinScript:
    """The check-in script in `language`, else Mandarin, else any loaded language, else the
    built-in short question: an answered check-in call always asks it (`flask ivr check`
    fails a directory without checkin.zh-CN.yaml, but a broken or missing file must never
    turn into the caller hearing an error)."""
    for candidate in (language, CHECKIN_DEFAULT_LANGUAGE, *sorted(scripts.checkins)):
        script = scripts.checkins.get(candidate)
        if script is not None:
            if candidate != language:
                log.warning("no check-in script in %s; asking in %s", language, candidate)
            return script
    log.error("no check-in script loaded; asking the built-in question in %s", language)
    return builtin_checkin(language)


def _closed_line_step(
    session: Session,
    scripts: ScriptSet,
    line: Line,
    caller: Caller | None,
    decision: CheckinDecision,
    language: str,
) -> Step | None:
    """When the line is closed: the main script's way to its voicemail (with the emergency
    sentence first for an emergency); None while it is open."""
    ctx = call_context(session, line, caller)
    if ctx.is_open:
        return None
    main = scripts.get(line.script_key, language) or scripts.get(
        line.script_key, line.default_language
    )
    if main is None:
        return None
    prefix = []
    if decision.emergency is not None:
        prefix.append(
            SayAction(decision.emergency.say, main.language, main.voice, main.rate_percent)
        )
    return engine.to_person(
        main,
        ctx,
        CallState(language=main.language),
        reason=decision.reason or "checkin",
        prefix=prefix,
    )


def checkin_input(
    session: Session,
    scripts: ScriptSet,
    params: VoiceParams,
    gathered: GatherParams,
    *,
    episode_id: int,
    language: str,
    silences: int,
) -> CheckinAnswer:
    """The elder answered the check-in question (a key, words, or silence). OK confirms the
    day's check-in; a person, words or silence twice put the elder in the operator queue
    (emergency words: at emergency priority, else callback priority). Flushes."""
    from hotline.checkins.models import CheckinEpisode

    episode = session.get(CheckinEpisode, episode_id)
    if episode is None:
        raise BadWebhook(f"unknown check-in {episode_id}")
    call = session.scalar(select(Call).where(Call.call_sid == params.call_sid))
    if call is None or call.caller_id != episode.caller_id:
        raise BadWebhook("this call does not belong to the check-in")
    script = checkin_script(scripts, language)
    decision = checkin_engine.decide(
        script, digits=gathered.digits, speech=gathered.speech, silences=silences
    )
    line = lines_cache.line_by_id(session, episode.line_id)
    assert line is not None
    caller = session.get(Caller, episode.caller_id)
    entry = call.menu_path or []
    call.menu_path = [
        *entry,
        {"node": "checkin", "digits": gathered.digits, "result": decision.kind},
    ][-MAX_PATH_ENTRIES:]
    if decision.kind == "ok":
        if episode.is_open:
            checkins_cascade.confirm(session, episode, via=decision.via)
    elif decision.kind in ("person", "emergency"):
        if episode.is_open:
            checkins_cascade.asked_for_help(session, episode, via=decision.via)
        urgent = decision.kind == "emergency"
        if urgent:
            call.scenario = "emergency"
        closed = _closed_line_step(session, scripts, line, caller, decision, script.language)
        if closed is not None:
            # Nobody answers now (a check-in on a day or hour the line is closed): as in the
            # menus, the voicemail takes a message and a callback is owed.
            _apply(session, call, caller, closed)
            return CheckinAnswer(decision, script, line, None, closed_step=closed)
        queue_service.enqueue(
            session,
            call,
            caller,
            reason="checkin",
            priority=queue_service.Priority.URGENT if urgent else queue_service.Priority.CALLBACK,
        )
    rate = rate_for(
        speech_rate_percent=caller.speech_rate_percent if caller else None,
        is_hard_of_hearing=bool(caller and caller.is_hard_of_hearing),
        default=None,
    )
    return CheckinAnswer(
        decision=decision,
        script=script,
        line=line,
        rate_percent=rate,
        timeout_seconds=key_timeout(caller),
    )
