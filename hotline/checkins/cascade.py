"""The day's check-in: its episode, its calls, the elder's answer, and the cascade when nobody
answers. Flushes, never commits (the clock jobs, the webhook guard and the CLI commit).

    (due window opens) --clock--> calling --elder presses 1 / says 好--> ok
                                     |     --0, words, silence twice--> help (a person, queued)
                                     +--no answer, busy, machine, hung up--> missed
    missed --retry time (enrolment's policy)--> calling ...
    missed, no retry left --> cascade: volunteer SMS, family SMS, 失联 case, each recorded
    cascade --volunteer/family reply 1, or the elder calls in--> reached (case resolved)
    cascade --reply 2--> unreachable (the case is escalated as urgent at once)
    cascade --no reply within CHECKIN_VOLUNTEER_REPLY_MINUTES--> the case is escalated as
        urgent: the supervisors are alerted by the alerts feature (urgent case, then overdue)

Exactly once, with any number of clocks: the day's episode is unique per (enrolment, date) and
inserted in a savepoint (the loser of a race skips it); each later step is claimed by a
conditional UPDATE of `next_step_at` (only the clock whose UPDATE changed the row goes on), and
the calls themselves go through the callback dispatcher (leases, attempts unique per number).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.events import CallbackAttemptEnded
from hotline.callbacks.models import (
    AttemptOutcome,
    CallbackAttempt,
    CallbackReason,
    CallbackRequest,
    CallbackStatus,
)
from hotline.callbacks.service import request_callback
from hotline.callers.models import Caller
from hotline.callers.service import consented_family_contacts
from hotline.cases import lifecycle
from hotline.cases.models import Case, CaseOutcome, CaseStatus
from hotline.checkins import schedule
from hotline.checkins.models import (
    OPEN_EPISODE_STATUSES,
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
    EpisodeOutcome,
    EpisodeStatus,
)
from hotline.checkins.service import resume
from hotline.directory.models import Volunteer
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.phone import mask
from hotline.sms import texts
from hotline.sms.events import CheckinReplied
from hotline.sms.models import SmsPurpose, SmsStatus
from hotline.sms.outbox import queue_sms
from hotline.sms.texts import Head
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: Minutes the volunteer has to reply before the supervisors are alerted (configurable): the
#: 失联 case's deadline.
DEFAULT_VOLUNTEER_REPLY_MINUTES = 60
#: The 失联 case: filed as an emergency with this sub-topic; escalated as urgent when nobody
#: replied by its deadline (then the cases feature's urgent escalation deadline runs).
LOST_CONTACT_SUB_TOPIC = "失联"
#: A check-in call not over this long after it was asked for counts as missed.
CALL_WATCHDOG = timedelta(hours=2)


def volunteer_reply_minutes() -> int:
    return int(
        current_app.config.get("CHECKIN_VOLUNTEER_REPLY_MINUTES") or DEFAULT_VOLUNTEER_REPLY_MINUTES
    )


# --------------------------------------------------------------------------- the day's episode


def open_due_episodes(session: Session, now: datetime | None = None) -> list[CheckinEpisode]:
    """Create today's episode (and its first call) for every enrolment whose window is open now;
    resume enrolments whose pause has ended. Flushes; the clock job commits."""
    now = now or utcnow()
    created: list[CheckinEpisode] = []
    calendars: dict[int, LineCalendar] = {}
    enrolments = session.scalars(
        select(CheckinEnrolment)
        .where(CheckinEnrolment.status.in_((EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)))
        .order_by(CheckinEnrolment.id)
    ).all()
    # Today's episodes already made, in one query (a local date is at most a day from UTC's).
    utc_today = now.date()
    made = {
        (enrolment_id, due_date)
        for enrolment_id, due_date in session.execute(
            select(CheckinEpisode.enrolment_id, CheckinEpisode.due_date).where(
                CheckinEpisode.due_date >= utc_today - timedelta(days=1),
                CheckinEpisode.due_date <= utc_today + timedelta(days=1),
            )
        )
    }
    for enrolment in enrolments:
        calendar = calendars.get(enrolment.line_id)
        if calendar is None:
            line = session.get(Line, enrolment.line_id)
            assert line is not None
            calendar = calendars[enrolment.line_id] = LineCalendar.load(session, line)
        today = calendar.local(now).date()
        if (
            enrolment.status == EnrolmentStatus.PAUSED
            and enrolment.paused_until is not None
            and enrolment.paused_until < today
        ):
            resume(session, enrolment, operator_id=None)
        window = schedule.due_now(enrolment, calendar, now)
        if window is None:
            continue
        if (enrolment.id, window.due_date) in made:
            continue
        episode = _new_episode(enrolment, window)
        try:
            # Another clock may create the same episode at the same moment: the unique
            # (enrolment, date) decides, and the savepoint takes back only this insert.
            with session.begin_nested():
                session.add(episode)
                session.flush()
                place_call(session, episode, now)
        except IntegrityError:
            log.info("check-in %s/%s created by another clock", enrolment.id, window.due_date)
            continue
        created.append(episode)
    return created


def _new_episode(enrolment: CheckinEnrolment, window: schedule.DueWindow) -> CheckinEpisode:
    return CheckinEpisode(
        enrolment_id=enrolment.id,
        caller_id=enrolment.caller_id,
        line_id=enrolment.line_id,
        volunteer_id=enrolment.volunteer_id,
        due_date=window.due_date,
        window_start_at=window.start_at,
        window_end_at=window.end_at,
        status=EpisodeStatus.DUE,
    )


def place_call(session: Session, episode: CheckinEpisode, now: datetime) -> None:
    """Ask the callback dispatcher for the next check-in call of `episode` (flushes)."""
    caller = session.get(Caller, episode.caller_id)
    assert caller is not None
    callback = request_callback(
        session,
        line_id=episode.line_id,
        phone_number=caller.phone_number,
        reason=CallbackReason.CHECK_IN,
        original_arrival_at=now,
        due_at=now,
        caller_id=caller.id,
        note=f"check-in {episode.due_date.isoformat()} #{episode.attempts + 1}",
    )
    episode.callback_id = callback.id
    episode.attempts += 1
    episode.last_attempt_at = now
    # A watchdog: a call not over by then counts as missed (it merged into another callback
    # that waits for the line's calling window, or its end never reached us).
    episode.next_step_at = now + CALL_WATCHDOG
    episode.status = EpisodeStatus.CALLING
    session.flush()
    if callback.status not in (CallbackStatus.PENDING, CallbackStatus.DIALING):
        # The number policy refused the elder's number: this call never happens.
        record_miss(session, episode, callback.last_outcome or "refused", now)
    log.info(
        "check-in %s: call %s requested (callback %s)", episode.id, episode.attempts, callback.id
    )


def episode_for_callback(session: Session, callback_id: int) -> CheckinEpisode | None:
    """The open episode whose current call is callback `callback_id`."""
    return session.scalar(
        select(CheckinEpisode).where(
            CheckinEpisode.callback_id == callback_id,
            CheckinEpisode.status.in_(OPEN_EPISODE_STATUSES),
        )
    )


# --------------------------------------------------------------------------- the elder's answer


def confirm(
    session: Session,
    episode: CheckinEpisode,
    *,
    via: str,
    now: datetime | None = None,
    called_in: bool = False,
) -> None:
    """The elder said all is well (key 1 / 好 on the check-in call, or `called_in`). Flushes.

    After the cascade started, the elder's own word closes it too (and its 失联 case)."""
    now = now or utcnow()
    if episode.status in (EpisodeStatus.OK, EpisodeStatus.REACHED, EpisodeStatus.HELP):
        return
    in_cascade = episode.status == EpisodeStatus.CASCADE
    episode.answered_at = now
    episode.answered_via = via[:16]
    if in_cascade:
        _close(session, episode, EpisodeStatus.REACHED, EpisodeOutcome.CALLED_IN, "elder", now)
        return
    outcome = EpisodeOutcome.CALLED_IN if called_in else EpisodeOutcome.OK
    _close(session, episode, EpisodeStatus.OK, outcome, "elder", now)


def asked_for_help(session: Session, episode: CheckinEpisode, *, via: str, now=None) -> None:
    """The elder asked for a person (0, words, silence twice): the queue takes over. Flushes."""
    now = now or utcnow()
    episode.answered_at = now
    episode.answered_via = via[:16]
    status = (
        EpisodeStatus.REACHED if episode.status == EpisodeStatus.CASCADE else EpisodeStatus.HELP
    )
    _close(session, episode, status, EpisodeOutcome.HELP, "elder", now)


def today_episode(
    session: Session, caller_id: int, line_id: int, now: datetime | None = None
) -> CheckinEpisode | None:
    """The elder's open episode on the line (today's, or an older one still in its cascade)."""
    return session.scalar(
        select(CheckinEpisode)
        .where(
            CheckinEpisode.caller_id == caller_id,
            CheckinEpisode.line_id == line_id,
            CheckinEpisode.status.in_(OPEN_EPISODE_STATUSES),
        )
        .order_by(CheckinEpisode.due_date.desc())
        .limit(1)
    )


def _active_enrolment(session: Session, caller_id: int, line_id: int) -> CheckinEnrolment | None:
    """The elder's active enrolment on the line (one query by the caller's index)."""
    return session.scalar(
        select(CheckinEnrolment)
        .where(
            CheckinEnrolment.caller_id == caller_id,
            CheckinEnrolment.line_id == line_id,
            CheckinEnrolment.status == EnrolmentStatus.ACTIVE,
        )
        .limit(1)
    )


def _window_today(
    session: Session, enrolment: CheckinEnrolment, now: datetime
) -> schedule.DueWindow | None:
    """Today's window (line time zone) when the enrolment is due today, else None."""
    line = session.get(Line, enrolment.line_id)
    assert line is not None
    calendar = LineCalendar.load(session, line)
    day = calendar.local(now).date()
    if not schedule.is_due_on(enrolment, calendar, day):
        return None
    return schedule.window_on(enrolment, calendar, day)


def elder_called_in(
    session: Session, caller_id: int, line_id: int, *, via: str, now: datetime | None = None
) -> CheckinEpisode | None:
    """An enrolled elder called the line ("check in now", or recognised in their window):
    today's episode is confirmed, created first when the clock has not made it yet. A call not
    yet dialled is canceled; one already ringing ends without changing anything. Flushes."""
    now = now or utcnow()
    episode = today_episode(session, caller_id, line_id, now)
    if episode is None:
        enrolment = _active_enrolment(session, caller_id, line_id)
        window = _window_today(session, enrolment, now) if enrolment is not None else None
        if enrolment is None or window is None or now >= window.end_at:
            return None  # today's check-in is over (answered or missed): nothing to confirm
        episode = _new_episode(enrolment, window)
        try:
            with session.begin_nested():
                session.add(episode)
                session.flush()
        except IntegrityError:
            return None  # the clock created (and is calling) it meanwhile
    if episode.is_open:
        confirm(session, episode, via=via, now=now, called_in=True)
        _cancel_pending_call(session, episode, now)
    return episode


def inbound_call(
    session: Session, caller_id: int, line_id: int, now: datetime | None = None
) -> str | None:
    """An inbound call from `caller_id` on the line: is it a check-in?

    One cheap query for a caller who is not enrolled (the incoming-call hot path). For an
    enrolled elder: during today's window, or while a missed check-in's retries or cascade run,
    the call itself confirms it ("confirmed"); before today's window, the menu offers the
    check-in key ("offer"); otherwise None. Flushes."""
    now = now or utcnow()
    enrolment = _active_enrolment(session, caller_id, line_id)
    if enrolment is None:
        return None
    episode = today_episode(session, caller_id, line_id, now)
    if episode is not None and episode.status in (EpisodeStatus.MISSED, EpisodeStatus.CASCADE):
        elder_called_in(session, caller_id, line_id, via="recognised", now=now)
        return "confirmed"
    window = _window_today(session, enrolment, now)
    if window is None:
        return None
    if window.start_at <= now < window.end_at:
        if episode is None or episode.is_open:
            elder_called_in(session, caller_id, line_id, via="recognised", now=now)
            return "confirmed"
        return None
    if now < window.start_at and (episode is None or episode.is_open):
        return "offer"
    return None


def _cancel_pending_call(session: Session, episode: CheckinEpisode, now: datetime) -> None:
    """A check-in call not yet dialled is not needed any more. A callback to a person that the
    check-in merged into (or that took it over) stays: the elder is still owed that call."""
    if episode.callback_id is None:
        return
    session.execute(
        update(CallbackRequest)
        .where(
            CallbackRequest.id == episode.callback_id,
            CallbackRequest.status == CallbackStatus.PENDING,
            CallbackRequest.reason == CallbackReason.CHECK_IN,
        )
        .values(
            status=CallbackStatus.DONE,
            last_outcome="caller_called_in",
            completed_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- a call ended


def on_callback_attempt_ended(session: Session, event: CallbackAttemptEnded) -> None:
    """CallbackAttemptEnded subscriber: a check-in call ended without the elder's answer
    (no answer, busy, a machine, hung up before answering) is a missed attempt. Never commits."""
    episode = episode_for_callback(session, event.callback_id)
    if episode is None or episode.status != EpisodeStatus.CALLING:
        return
    attempt = session.get(CallbackAttempt, event.attempt_id)
    outcome = attempt.outcome.value if attempt is not None and attempt.outcome else "ended"
    if outcome == AttemptOutcome.PERSON.value:
        callback = session.get(CallbackRequest, event.callback_id)
        if callback is not None and callback.reason != CallbackReason.CHECK_IN:
            # The check-in merged into another callback to the elder (one call per person):
            # they talked to an operator, which is as good as an answer.
            confirm(session, episode, via="operator")
            return
        outcome = "hung_up"  # answered, but the elder never answered the question
    record_miss(session, episode, outcome, utcnow())


def record_miss(session: Session, episode: CheckinEpisode, outcome: str, now: datetime) -> None:
    """One call missed: another try per the enrolment's retry policy, or the cascade."""
    enrolment = session.get(CheckinEnrolment, episode.enrolment_id)
    assert enrolment is not None
    episode.last_attempt_outcome = outcome[:32]
    delays = enrolment.retry_delays
    if episode.attempts <= len(delays):
        episode.status = EpisodeStatus.MISSED
        episode.next_step_at = now + timedelta(minutes=delays[episode.attempts - 1])
    else:
        episode.status = EpisodeStatus.CASCADE
        episode.missed_at = now
        episode.next_step_at = now  # the clock runs the cascade's first steps at once
    session.flush()
    log.info(
        "check-in %s: attempt %s missed (%s) -> %s",
        episode.id,
        episode.attempts,
        outcome,
        episode.status.value,
    )


# --------------------------------------------------------------------------- the cascade


#: Statuses whose `next_step_at` the clock acts on (a call's watchdog, a retry, the cascade).
STEP_STATUSES = (EpisodeStatus.CALLING, EpisodeStatus.MISSED, EpisodeStatus.CASCADE)


def _claim_step(session: Session, episode_id: int, expected: datetime) -> bool:
    """Take the episode's due step (exactly one clock wins it)."""
    result = session.execute(
        update(CheckinEpisode)
        .where(
            CheckinEpisode.id == episode_id,
            CheckinEpisode.next_step_at == expected,
            CheckinEpisode.status.in_(STEP_STATUSES),
        )
        .values(next_step_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def run_due_steps(session: Session, now: datetime | None = None) -> int:
    """Every episode whose next step is due: a retry call, the cascade, or the supervisors'
    alert. Returns how many steps were taken. Flushes; the clock job commits."""
    now = now or utcnow()
    due = session.execute(
        select(CheckinEpisode.id, CheckinEpisode.next_step_at)
        .where(
            CheckinEpisode.status.in_(STEP_STATUSES),
            CheckinEpisode.next_step_at <= now,
        )
        .order_by(CheckinEpisode.next_step_at)
        .limit(100)
    ).all()
    taken = 0
    for episode_id, expected in due:
        if not _claim_step(session, episode_id, expected):
            continue
        episode = session.get(CheckinEpisode, episode_id, populate_existing=True)
        assert episode is not None
        if episode.status == EpisodeStatus.CALLING:
            record_miss(session, episode, "not_placed", now)
        elif episode.status == EpisodeStatus.MISSED:
            place_call(session, episode, now)
        elif episode.volunteer_sms_at is None and episode.case_opened_at is None:
            start_cascade(session, episode, now)
        else:
            escalate_lost_contact(session, episode, now, reason=NO_REPLY_REASON)
        taken += 1
    return taken


def _names(session: Session, episode: CheckinEpisode) -> tuple[Caller, Line, str]:
    caller = session.get(Caller, episode.caller_id)
    line = session.get(Line, episode.line_id)
    assert caller is not None and line is not None
    return caller, line, caller.display_name or caller.name or ""


def start_cascade(session: Session, episode: CheckinEpisode, now: datetime) -> None:
    """After the last missed call, in order and each recorded: the volunteer's SMS, the family's
    SMS, the 失联 case; then the supervisors' alert is due if the volunteer does not reply."""
    enrolment = session.get(CheckinEnrolment, episode.enrolment_id)
    assert enrolment is not None
    caller, line, elder = _names(session, episode)
    head = Head(now, line.timezone)
    volunteer = session.get(Volunteer, episode.volunteer_id) if episode.volunteer_id else None
    if volunteer is not None and volunteer.is_active:
        lang = texts.caller_language(line.default_language)
        message = queue_sms(
            session,
            to=volunteer.phone_number,
            body=texts.checkin_volunteer_visit(lang, head, elder=elder, attempts=episode.attempts),
            purpose=SmsPurpose.CHECK_IN,
            line_id=line.id,
            caller_id=caller.id,
            kind="checkin_volunteer_visit",
            language=lang,
        )
        # A text the outbox refused (the volunteer's number left the number policy since the
        # enrolment) is recorded but reaches nobody: as without a volunteer, the supervisors
        # are told at once instead of waiting for a reply that cannot come.
        if message.status != SmsStatus.REFUSED:
            episode.volunteer_sms_at = utcnow()
    if enrolment.notify_family:
        lang = texts.caller_language(caller.language or line.default_language)
        sent = 0
        # Consent in force and "may receive alerts" only; the outbox applies the number policy
        # (a number outside it is written as refused, never sent).
        for contact in consented_family_contacts(session, caller.id, "may_receive_alerts"):
            if not enrolment.tells_family_contact(contact.id):
                continue  # not among those chosen for this elder's check-ins
            message = queue_sms(
                session,
                to=contact.phone_number,
                body=texts.checkin_family(lang, head, elder=elder, attempts=episode.attempts),
                purpose=SmsPurpose.FAMILY_ALERT,
                line_id=line.id,
                caller_id=caller.id,
                kind="checkin_family",
                language=lang,
            )
            sent += message.status != "refused"
        if sent:
            episode.family_sms_at = utcnow()
        episode.family_sms_count = sent
    # The case's deadline: the volunteer's time to reply (none when there is no volunteer).
    wait = volunteer_reply_minutes() if episode.volunteer_sms_at is not None else 0
    deadline = now + timedelta(minutes=wait)
    local_deadline = deadline.astimezone(LineCalendar(line).zone)
    case = lifecycle.open_case(
        session,
        caller_id=caller.id,
        line_id=line.id,
        channel="checkin",
        scenario="emergency",
        summary=(
            f"关爱回访失联：{elder} {episode.due_date.isoformat()} {episode.attempts}次未接，"
            f"已通知志愿者和家属，{local_deadline:%H:%M}前无回复即上报。"
            f" / Check-in lost contact: {episode.attempts} calls unanswered; volunteer and "
            f"family texted; escalated at {local_deadline:%H:%M} without a reply."
        ),
    )
    case.sub_topic = LOST_CONTACT_SUB_TOPIC
    episode.case_id = case.id
    episode.case_opened_at = utcnow()
    episode.next_step_at = deadline
    session.flush()
    log.warning(
        "check-in %s: %s missed %s calls; cascade started (case %s)",
        episode.id,
        mask(caller.phone_number),
        episode.attempts,
        case.number,
    )


NO_REPLY_REASON = (
    "关爱回访失联：志愿者未按时回复 / lost contact: no reply from the volunteer in time"
)
UNREACHABLE_REASON = (
    "关爱回访失联：{by}回复无法联系老人 / lost contact: the {by} cannot reach the elder"
)


def escalate_lost_contact(
    session: Session, episode: CheckinEpisode, now: datetime, *, reason: str
) -> None:
    """Hand the 失联 case to the supervisors: escalated as urgent, so the alerts feature texts
    those who get urgent-case alerts on the line (and again when the escalation is overdue)."""
    if episode.supervisor_alerted_at is not None:
        return
    case = session.get(Case, episode.case_id) if episode.case_id else None
    if case is not None and case.is_active and case.status != CaseStatus.ESCALATED:
        lifecycle.escalate(session, case, reason=reason, operator_id=None, is_urgent=True)
    episode.supervisor_alerted_at = now
    session.flush()
    log.warning("check-in %s: lost contact escalated (case %s)", episode.id, episode.case_id)


# --------------------------------------------------------------------------- replies and closing


def on_checkin_replied(session: Session, event: CheckinReplied) -> None:
    """CheckinReplied subscriber: close the cascade with the reply and thank the sender (one
    segment, through the outbox). Never commits."""
    episode = session.get(CheckinEpisode, event.episode_id)
    if episode is None or episode.status != EpisodeStatus.CASCADE:
        return
    close_by_reply(session, episode, by=event.by, code=event.code)
    line = session.get(Line, episode.line_id)
    assert line is not None
    queue_sms(
        session,
        to=event.from_number,
        body=texts.checkin_reply_thanks(
            event.language, Head(utcnow(), line.timezone), reached=event.code == "1"
        ),
        purpose=SmsPurpose.REPLY,
        line_id=line.id,
        caller_id=episode.caller_id,
        case_id=episode.case_id,
        kind="checkin_reply_thanks",
        language=event.language,
    )


def close_by_reply(
    session: Session, episode: CheckinEpisode, *, by: str, code: str, now: datetime | None = None
) -> None:
    """A volunteer's or family member's reply: 1 = reached (episode and 失联 case closed),
    2 = cannot reach (episode closed as unreachable; the case stays escalated). Flushes."""
    now = now or utcnow()
    if episode.status != EpisodeStatus.CASCADE:
        return
    episode.reply_by = by[:16]
    episode.reply_code = code[:8]
    episode.replied_at = now
    if code == "1":
        outcome = (
            EpisodeOutcome.REACHED_BY_VOLUNTEER
            if by == "volunteer"
            else EpisodeOutcome.REACHED_BY_FAMILY
        )
        _close(session, episode, EpisodeStatus.REACHED, outcome, by, now)
    else:
        _close(session, episode, EpisodeStatus.UNREACHABLE, EpisodeOutcome.UNREACHABLE, by, now)


def close_by_operator(
    session: Session, episode: CheckinEpisode, *, operator_id: int, reached: bool, now=None
) -> None:
    """An operator closes an open episode from the console (e.g. they phoned the elder)."""
    now = now or utcnow()
    status = EpisodeStatus.REACHED if reached else EpisodeStatus.UNREACHABLE
    outcome = EpisodeOutcome.CLOSED_BY_OPERATOR if reached else EpisodeOutcome.UNREACHABLE
    episode.closed_by_operator_id = operator_id
    _close(session, episode, status, outcome, "operator", now, operator_id=operator_id)


def _close(
    session: Session,
    episode: CheckinEpisode,
    status: EpisodeStatus,
    outcome: EpisodeOutcome,
    by: str,
    now: datetime,
    *,
    operator_id: int | None = None,
) -> None:
    episode.status = status
    episode.outcome = outcome
    episode.closed_at = now
    episode.closed_by = by[:16]
    episode.next_step_at = None
    case = session.get(Case, episode.case_id) if episode.case_id else None
    if case is not None and case.is_active and status == EpisodeStatus.REACHED:
        lifecycle.resolve(
            session,
            case,
            outcome=CaseOutcome.OTHER,
            note=f"关爱回访：已联系上老人（{by}） / check-in: elder reached ({by})",
            operator_id=operator_id,
        )
    elif case is not None and case.is_active and status == EpisodeStatus.UNREACHABLE:
        escalate_lost_contact(session, episode, now, reason=UNREACHABLE_REASON.format(by=by))
    audit.record(
        session,
        entity="checkin_episode",
        entity_id=episode.id,
        action="closed",
        operator_id=operator_id,
        actor=None if operator_id is not None else by,
        after={"status": status.value, "outcome": outcome.value, "case_id": episode.case_id},
    )
    session.flush()
