"""The dispatcher: places due callbacks exactly once, paced, inside the calling window.

One run (`Dispatcher.run_once`, every few seconds from the clock):

1. Due rows of lines outside their calling window are moved to the window's next opening, so
   a clock that was down at 19:59 does not ring anyone at 21:00 (and the console shows when the
   call will really happen).
2. Claim: due rows are taken with a lease in one short transaction. PostgreSQL:
   ``SELECT ... FOR UPDATE SKIP LOCKED`` (concurrent dispatchers take disjoint rows and never
   wait on each other or on a console edit); SQLite: a conditional ``UPDATE ... WHERE status =
   'pending'`` per row that proceeds only when exactly one row changed. Each claim starts (or,
   after a crash, takes over) attempt N, and (callback, N) is unique in the database. A
   person's callback held beside a check-in (`held_reason`, a closed line) is not claimed while
   that check-in is active, nor a check-in while a call to the same number rings.
3. For each claim: wait for this account's next call slot (shared by every dispatcher through
   the `outbound_pacing` row), renew the lease, which must still be ours (else another
   dispatcher took over and we stop), and place the call through the telephony gateway with
   status callbacks, answering-machine detection that waits for the end of a machine's
   greeting (DetectMessageEnd) and a fallback URL. Just before that, the number policy is asked
   again (it, or the configured countries, may have changed since the request: a refused number
   becomes `refused` with the reason, never dialled) and the daily call caps are counted: a
   callback over the per-number or per-line cap of the line's local day is deferred to the next
   day's calling window, not refused (it is still a promise to a person; the caps only bound
   what a fraudster can make the centre spend in a day).
4. Record the CallSid. If the dispatcher dies between placing and recording, Twilio's first
   status callback (whose URL names the attempt) records it; and a dispatcher taking over an
   attempt whose lease expired first asks Twilio whether that call exists before dialling.

A ringing cap keeps the callbacks ringing at once to the available operators plus a margin; the
count and the claim happen under the account row's lock so concurrent dispatchers cannot
overshoot it together.

Transactions: the dispatcher is a clock job (an entry point) and the documented exception to
"commit once": its claims, leases, pacing slots and recorded CallSids are each committed before
the REST call they guard (placing a call), so another dispatcher, a status callback or a
restarted clock sees them. The services it calls (`finish_attempt`, `record_call_status`) only
flush; the dispatcher commits after them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from twilio.base.exceptions import TwilioRestException

from hotline.callbacks import service
from hotline.callbacks.models import (
    AttemptOutcome,
    CallbackAttempt,
    CallbackRequest,
    CallbackStatus,
    OutboundPacing,
)
from hotline.callbacks.settings import CallbackSettings
from hotline.calls.models import CallStatus
from hotline.db import db
from hotline.lines.calendar import LineCalendar
from hotline.lines.models import Line
from hotline.numberpolicy import NumberPolicy
from hotline.operators.models import Operator, Presence
from hotline.phone import mask
from hotline.telephony.gateway import TelephonyGateway, get_gateway, public_base_url
from hotline.telephony.params import StatusParams
from hotline.timeutil import local_day, local_day_bounds, utcnow

log = logging.getLogger(__name__)

#: Twilio's clock and ours may differ a little: a takeover looks for calls created this much
#: before the attempt was first claimed.
CLOCK_SKEW = timedelta(seconds=60)
#: After Twilio answered 429 (too many requests) the callback waits this long.
THROTTLED_RETRY = timedelta(seconds=30)
#: After an error that is ours (a wrong From number, credentials) it waits this long.
CONFIGURATION_RETRY = timedelta(minutes=10)
#: Twilio errors that mean this number cannot be called at all: the callback fails at once
#: (supervisors are told) instead of retrying a number that will never ring.
NUMBER_REJECTED_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21214,  # 'To' phone number cannot be reached
        21215,  # geographic permission does not allow calling this number
        21216,  # account not allowed to call this (premium) number
        21217,  # phone number does not appear to be valid
        13224,  # not a valid phone number
        13225,  # forbidden phone number
    }
)
#: A connected call (the caller talking to an operator) is looked up at Twilio after this long
#: without a final status; elders' calls run long, so this is generous.
CONNECTED_RECONCILE_AFTER = timedelta(hours=4)


@dataclass(frozen=True)
class Claim:
    """A callback this dispatcher now owns, and the attempt it is about to place."""

    callback_id: int
    attempt_id: int
    #: The attempt was claimed before by a dispatcher that never recorded a call (it died, or
    #: Twilio did not answer): ask Twilio before dialling.
    is_takeover: bool


@dataclass
class DispatchReport:
    """What one run did (logged; returned for tests)."""

    claimed: list[Claim] = field(default_factory=list)
    placed: list[str] = field(default_factory=list)
    adopted: list[str] = field(default_factory=list)
    lost_lease: int = 0
    rejected: int = 0
    #: Refused by the number policy at dispatch (never dialled).
    refused: int = 0
    deferred: int = 0
    errors: int = 0


# --------------------------------------------------------------------------- the calling window


def lines_in_calling_window(session: Session, now: datetime) -> tuple[list[int], list[Line]]:
    """(ids of active lines inside their calling window now, the other active lines)."""
    inside: list[int] = []
    outside: list[Line] = []
    for line in session.scalars(select(Line).where(Line.is_active.is_(True))).all():
        if LineCalendar.load(session, line).in_calling_window(now):
            inside.append(line.id)
        else:
            outside.append(line)
    return inside, outside


def defer_to_window(session: Session, now: datetime, lines: list[Line]) -> int:
    """Move due pending callbacks of lines outside their window to its next opening (commits
    when it moved any)."""
    moved = 0
    for line in lines:
        opening = LineCalendar.load(session, line).next_calling_time(now)
        result = session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.line_id == line.id,
                CallbackRequest.status == CallbackStatus.PENDING,
                CallbackRequest.due_at < opening,
                CallbackRequest.reason.not_in(service.OWN_SCHEDULE_REASONS),
            )
            .values(due_at=opening, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        moved += result.rowcount or 0
    if moved:
        session.commit()  # else nothing to keep: the claim that follows commits the reads
    return moved


# --------------------------------------------------------------------------- claiming


def _claimable(now: datetime, line_ids: list[int], *, own_schedule: bool = False):
    """Due pending rows, and rows whose claimer's lease ran out before it placed the call: of
    the lines in `line_ids`, or (`own_schedule`) the check-ins of every line, whose due time
    already lies in the elder's own window (see service.OWN_SCHEDULE_REASONS)."""
    # A held person's callback waits while the check-in beside it is active, and a check-in
    # waits while a person's call to the same number rings: one call per person at a time.
    other = aliased(CallbackRequest)
    beside = select(other.id).where(
        other.line_id == CallbackRequest.line_id,
        other.phone_number == CallbackRequest.phone_number,
        other.id != CallbackRequest.id,
        other.status.in_((CallbackStatus.PENDING, CallbackStatus.DIALING)),
    )
    which = (
        and_(
            CallbackRequest.reason.in_(service.OWN_SCHEDULE_REASONS),
            ~beside.where(other.status == CallbackStatus.DIALING).exists(),
        )
        if own_schedule
        else and_(
            CallbackRequest.line_id.in_(line_ids),
            CallbackRequest.reason.not_in(service.OWN_SCHEDULE_REASONS),
            or_(CallbackRequest.held_reason.is_(None), ~beside.exists()),
        )
    )
    return and_(
        which,
        or_(
            and_(
                CallbackRequest.status == CallbackStatus.PENDING,
                CallbackRequest.due_at <= now,
            ),
            and_(
                CallbackRequest.status == CallbackStatus.DIALING,
                CallbackRequest.attempt_call_sid.is_(None),
                CallbackRequest.lease_expires_at < now,
            ),
        ),
    )


def _ensure_pacing_row(session: Session, account_sid: str) -> None:
    if session.get(OutboundPacing, account_sid) is not None:
        return
    session.add(OutboundPacing(account_sid=account_sid, next_call_at=None))
    try:
        session.commit()
    except IntegrityError:  # another dispatcher created it at the same moment
        session.rollback()


def _lock_account(session: Session, account_sid: str, now: datetime) -> OutboundPacing:
    """Take the account's row lock until this transaction ends (the SQLite write lock there).

    The UPDATE comes first on purpose: on SQLite a transaction that only read before writing
    could find its snapshot stale; one that writes first waits for the lock instead.
    """
    _ensure_pacing_row(session, account_sid)
    session.execute(
        update(OutboundPacing)
        .where(OutboundPacing.account_sid == account_sid)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    row = session.get(OutboundPacing, account_sid, populate_existing=True)
    assert row is not None
    return row


def ringing_capacity(session: Session, now: datetime, margin: int) -> int:
    """How many more callbacks may ring: available operators + margin - those ringing now.

    With no operator available nothing more rings: an elder who answers would only wait.
    """
    available = session.scalar(
        select(func.count())
        .select_from(Operator)
        .where(Operator.presence == Presence.AVAILABLE, Operator.is_active.is_(True))
    )
    if not available:
        return 0
    ringing = session.scalar(
        select(func.count())
        .select_from(CallbackRequest)
        .where(
            CallbackRequest.status == CallbackStatus.DIALING,
            # A claim whose lease ran out without a call is not ringing anything.
            or_(
                CallbackRequest.attempt_call_sid.is_not(None),
                CallbackRequest.lease_expires_at >= now,
            ),
        )
    )
    return max(0, available + margin - (ringing or 0))


def claim_due(
    session: Session,
    *,
    owner: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    line_ids: list[int],
    account_sid: str,
    ringing_margin: int | None,
) -> list[Claim]:
    """Claim up to `limit` due callbacks for `owner` with a lease, oldest promise first (commits).

    Check-ins (their own schedule, no operator needed) are claimed first and are not held back
    by the ringing cap; the other callbacks fill the rest of the batch within the cap.
    """
    if limit <= 0:
        return []
    capacity = limit
    if ringing_margin is not None:
        # The lock first (see _lock_account): the count and the claims below happen under it.
        _lock_account(session, account_sid, now)
        capacity = ringing_capacity(session, now, ringing_margin)
    rows = _claim_rows(session, _claimable(now, [], own_schedule=True), limit, owner, now, lease)
    others = min(limit - len(rows), capacity)
    if line_ids and others > 0:
        rows += _claim_rows(session, _claimable(now, line_ids), others, owner, now, lease)
    claims = [_start_attempt(session, row, owner=owner, now=now) for row in rows]
    try:
        session.commit()
    except IntegrityError:
        # Attempt (callback, N) already exists: someone else started it. Take nothing.
        session.rollback()
        log.error("claim by %s collided on an attempt number; nothing claimed", owner)
        return []
    return claims


def _claim_rows(
    session: Session, condition, limit: int, owner: str, now: datetime, lease: timedelta
) -> list[CallbackRequest]:
    """Take up to `limit` rows matching `condition` for `owner` (not committed)."""
    order = (CallbackRequest.original_arrival_at, CallbackRequest.id)
    taken = {
        "status": CallbackStatus.DIALING,
        "leased_by": owner,
        "lease_expires_at": now + lease,
        "updated_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        rows = session.scalars(
            select(CallbackRequest)
            .where(condition)
            .order_by(*order)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            for name, value in taken.items():
                setattr(row, name, value)
        session.flush()
    else:
        candidates = session.scalars(
            select(CallbackRequest.id).where(condition).order_by(*order).limit(limit)
        ).all()
        claimed_ids = []
        for callback_id in candidates:
            result = session.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == callback_id, condition)
                .values(**taken)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed_ids.append(callback_id)
        rows = session.scalars(
            select(CallbackRequest)
            .where(CallbackRequest.id.in_(claimed_ids))
            .order_by(*order)
            .execution_options(populate_existing=True)
        ).all()
    return list(rows)


def _start_attempt(session: Session, row: CallbackRequest, *, owner: str, now: datetime) -> Claim:
    """Attempt N of a freshly claimed row: a new one, or the unfinished one a claimer left."""
    unfinished = None
    if row.attempts > 0:
        unfinished = session.scalars(
            select(CallbackAttempt).where(
                CallbackAttempt.callback_id == row.id,
                CallbackAttempt.number == row.attempts,
                CallbackAttempt.ended_at.is_(None),
                CallbackAttempt.call_sid.is_(None),
            )
        ).first()
    if unfinished is not None:
        unfinished.claims += 1
        unfinished.claimed_by = owner
        session.flush()
        log.warning(
            "callback %s attempt %s taken over by %s (claimed %s times)",
            row.id,
            unfinished.number,
            owner,
            unfinished.claims,
        )
        return Claim(row.id, unfinished.id, is_takeover=True)
    row.attempts += 1
    attempt = CallbackAttempt(
        callback_id=row.id, number=row.attempts, claimed_by=owner, claimed_at=now, claims=1
    )
    session.add(attempt)
    session.flush()
    return Claim(row.id, attempt.id, is_takeover=False)


# --------------------------------------------------------------------------- pacing


def reserve_call_slot(session: Session, account_sid: str, gap: timedelta) -> datetime:
    """The moment this dispatcher may place its next call; books the one after (commits)."""
    now = utcnow()
    row = _lock_account(session, account_sid, now)
    slot = max(row.next_call_at or now, now)
    row.next_call_at = slot + gap
    session.commit()
    return slot


# --------------------------------------------------------------------------- Twilio


def answer_url(attempt_id: int) -> str:
    """Where Twilio asks what to do once the callback is picked up (AnsweredBy included)."""
    return f"{public_base_url()}/twilio/callbacks/answer?{urlencode({'attempt': attempt_id})}"


def status_url(attempt_id: int) -> str:
    """Where Twilio reports the callback call's progress."""
    return f"{public_base_url()}/twilio/callbacks/status?{urlencode({'attempt': attempt_id})}"


def fallback_url() -> str:
    """Twilio's fallback for a callback call's TwiML: the database-free apology and message."""
    return f"{public_base_url()}/twilio/voice/fallback"


def calls_placed_today(session: Session, line: Line, now: datetime, *, number: str | None) -> int:
    """Callback calls placed since the start of the line's local day: to `number`, or (None)
    from the whole line. Counted from the attempts that reached Twilio."""
    since = local_day_bounds(local_day(now, line.timezone), line.timezone)[0]
    query = (
        select(func.count())
        .select_from(CallbackAttempt)
        .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.callback_id)
        .where(
            CallbackAttempt.call_sid.is_not(None),
            CallbackAttempt.placed_at >= since,
            CallbackRequest.line_id == line.id,
        )
    )
    if number is not None:
        query = query.where(CallbackRequest.phone_number == number)
    return session.scalar(query) or 0


def daily_cap_reached(
    session: Session, line: Line, number: str, now: datetime, settings: CallbackSettings
) -> str | None:
    """Which daily call cap placing one more call to `number` would exceed, or None."""
    per_number = settings.call_daily_cap_per_number
    if calls_placed_today(session, line, now, number=number) >= per_number:
        return f"daily cap of {per_number} calls to this number reached"
    per_line = settings.call_daily_cap_per_line
    if calls_placed_today(session, line, now, number=None) >= per_line:
        return f"daily cap of {per_line} calls for this line reached"
    return None


def find_placed_call(
    gateway: TelephonyGateway,
    session: Session,
    attempt: CallbackAttempt,
    *,
    to: str,
    from_: str,
) -> str | None:
    """The CallSid of a call to `to` created since the attempt was first claimed, if any.

    Asked before dialling an attempt that an earlier claimer may have placed just before it
    died. Raises when Twilio cannot be asked: then the attempt waits rather than risk a double.
    """
    since = attempt.claimed_at - CLOCK_SKEW
    known = set(
        session.scalars(
            select(CallbackAttempt.call_sid)
            .where(CallbackAttempt.call_sid.is_not(None))
            .where(CallbackAttempt.callback_id == attempt.callback_id)
        ).all()
    )
    for call in gateway.client.calls.list(to=to, from_=from_, limit=20):
        if call.to != to or (call._from and call._from != from_):
            continue
        created = call.date_created
        if created is not None and created >= since and call.sid not in known:
            return call.sid
    return None


# --------------------------------------------------------------------------- the dispatcher


class Dispatcher:
    """Claims and places due callbacks; one per clock process (several run safely at once)."""

    def __init__(
        self,
        app: Flask,
        *,
        owner: str | None = None,
        settings: CallbackSettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from hotline.schedule import clock_id

        self.app = app
        self.owner = (owner or clock_id())[:80]
        self.settings = settings or CallbackSettings.from_config(app.config)
        self.sleep = sleep
        self._calendars: dict[int, LineCalendar] = {}

    def run_once(
        self, *, after_claim: Callable[[list[Claim]], None] | None = None
    ) -> DispatchReport:
        """Claim what is due and place each call; returns what happened."""
        report = DispatchReport()
        self._calendars = {}
        with self.app.app_context():
            session = db.session_factory()
            try:
                self._run(session, report, after_claim)
            finally:
                session.close()
        if report.claimed or report.deferred:
            log.info(
                "dispatcher %s: claimed %s, placed %s, adopted %s, lost %s, rejected %s, "
                "deferred %s, errors %s",
                self.owner,
                len(report.claimed),
                len(report.placed),
                len(report.adopted),
                report.lost_lease,
                report.rejected,
                report.deferred,
                report.errors,
            )
        return report

    def _run(
        self,
        session: Session,
        report: DispatchReport,
        after_claim: Callable[[list[Claim]], None] | None,
    ) -> None:
        settings = self.settings
        now = utcnow()
        inside, outside = lines_in_calling_window(session, now)
        report.deferred = defer_to_window(session, now, outside)
        account_sid = self.app.config["TWILIO_ACCOUNT_SID"]
        report.claimed = claim_due(
            session,
            owner=self.owner,
            now=now,
            limit=settings.batch_size,
            lease=timedelta(seconds=settings.lease_seconds),
            line_ids=inside,
            account_sid=account_sid,
            ringing_margin=settings.ringing_margin,
        )
        if after_claim is not None:
            after_claim(report.claimed)
        for claim in report.claimed:
            try:
                self._place(session, claim, report, account_sid)
            except Exception:  # noqa: BLE001 - one bad row must not stop the others
                # This also takes back the previous call's record if it was not committed yet
                # (see _record_placed): that call is then adopted, not placed again.
                session.rollback()
                report.errors += 1
                log.exception(
                    "placing callback %s failed; its lease will expire", claim.callback_id
                )
        # The last placed call's record (the others rode on the next lease's commit).
        session.commit()

    def _place(
        self, session: Session, claim: Claim, report: DispatchReport, account_sid: str
    ) -> None:
        settings = self.settings
        if settings.calls_per_second > 0:
            gap = timedelta(seconds=1 / settings.calls_per_second)
            slot = reserve_call_slot(session, account_sid, gap)
            wait = (slot - utcnow()).total_seconds()
            if wait > 0:
                self.sleep(wait)
        attempt = session.get(CallbackAttempt, claim.attempt_id)
        assert attempt is not None
        now = utcnow()
        renewed = session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == claim.callback_id,
                CallbackRequest.status == CallbackStatus.DIALING,
                CallbackRequest.leased_by == self.owner,
                CallbackRequest.attempts == attempt.number,
                CallbackRequest.attempt_call_sid.is_(None),
            )
            .values(lease_expires_at=now + timedelta(seconds=settings.lease_seconds))
            .execution_options(synchronize_session=False)
        )
        if renewed.rowcount != 1:
            # Nothing of this claim to take back (the renewal changed no row); the commit
            # keeps the previous call's record (see _record_placed).
            session.commit()
            report.lost_lease += 1
            log.warning("dispatcher %s lost callback %s to another", self.owner, claim.callback_id)
            return
        session.commit()
        callback = session.get(CallbackRequest, claim.callback_id)
        assert callback is not None
        line = session.get(Line, callback.line_id)
        assert line is not None
        own_schedule = callback.reason in service.OWN_SCHEDULE_REASONS
        if not own_schedule and not self._calendar(session, line).in_calling_window(now):
            # Pacing made us wait past the end of the window: not now, first thing next time.
            self._release(session, callback, self._calendar(session, line).next_calling_time(now))
            report.deferred += 1
            return
        refusal = NumberPolicy.from_config(self.app.config).refusal(callback.phone_number)
        if refusal is not None:
            service.refuse_at_dispatch(session, callback, attempt, refusal)
            session.commit()  # the dispatcher is a clock job: it commits its own work
            report.refused += 1
            return
        capped = daily_cap_reached(session, line, callback.phone_number, now, settings)
        if capped is not None:
            # Not refused: the promise stands, it waits for tomorrow's calling window.
            tomorrow = local_day_bounds(local_day(now, line.timezone), line.timezone)[1]
            callback.last_outcome = "deferred: " + capped
            self._release(
                session, callback, self._calendar(session, line).next_calling_time(tomorrow)
            )
            report.deferred += 1
            log.warning("callback %s deferred to tomorrow: %s", callback.id, capped)
            return
        gateway = get_gateway()
        if claim.is_takeover:
            existing = find_placed_call(
                gateway, session, attempt, to=callback.phone_number, from_=line.phone_number
            )
            if existing is not None:
                self._record_placed(session, attempt, callback, line, existing)
                report.adopted.append(existing)
                log.warning(
                    "callback %s: adopted call %s placed by a dead claimer", callback.id, existing
                )
                return
        try:
            call_sid = gateway.create_call(
                to=callback.phone_number,
                from_=line.phone_number,
                url=answer_url(attempt.id),
                status_callback=status_url(attempt.id),
                timeout_seconds=settings.ring_timeout_seconds,
                machine_detection=True,
                fallback_url=fallback_url(),
            )
        except TwilioRestException as exc:
            self._refused(session, attempt, callback, exc, report)
            return
        self._record_placed(session, attempt, callback, line, call_sid)
        report.placed.append(call_sid)
        log.info(
            "callback %s attempt %s placed to %s: %s",
            callback.id,
            attempt.number,
            mask(callback.phone_number),
            call_sid,
        )

    def _calendar(self, session: Session, line: Line) -> LineCalendar:
        """The line's calendar, read once per run."""
        if line.id not in self._calendars:
            self._calendars[line.id] = LineCalendar.load(session, line)
        return self._calendars[line.id]

    def _release(self, session: Session, callback: CallbackRequest, due_at: datetime) -> None:
        """Give a claimed, unplaced callback back as pending (its attempt is reused later)."""
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback.id,
                CallbackRequest.leased_by == self.owner,
                CallbackRequest.status == CallbackStatus.DIALING,
                CallbackRequest.attempt_call_sid.is_(None),
            )
            .values(
                status=CallbackStatus.PENDING, due_at=due_at, lease_expires_at=None, leased_by=None
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()

    def _record_placed(
        self,
        session: Session,
        attempt: CallbackAttempt,
        callback: CallbackRequest,
        line: Line,
        call_sid: str,
    ) -> None:
        """Write down the call just placed (or adopted). Conditional, because Twilio's first
        status callback may have done it already (see `service.adopt_call_sid`)."""
        now = utcnow()
        session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.id == attempt.id, CallbackAttempt.call_sid.is_(None))
            .values(call_sid=call_sid, placed_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(CallbackRequest)
            .where(
                CallbackRequest.id == callback.id,
                CallbackRequest.status == CallbackStatus.DIALING,
                CallbackRequest.attempts == attempt.number,
                CallbackRequest.attempt_call_sid.is_(None),
            )
            .values(attempt_call_sid=call_sid, lease_expires_at=None, last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        service.insert_call_if_missing(session, callback, line, call_sid)
        # Not committed here: the record rides on the next commit of this sweep, the next
        # claim's lease renewal (durable before that claim's REST call) or the end of `_run`,
        # so a sweep commits once per call, not twice. Exactly-once does not rest on this
        # commit: until it lands, the attempt is leased to us and has no call_sid, the state a
        # crash right after the REST call always left, which Twilio's first status callback
        # (`service.adopt_call_sid`) or the takeover after the lease (`find_placed_call`)
        # resolves by adopting the call, never by placing another.

    def _refused(
        self,
        session: Session,
        attempt: CallbackAttempt,
        callback: CallbackRequest,
        exc: TwilioRestException,
        report: DispatchReport,
    ) -> None:
        """Twilio answered with an error, so no call exists (except, maybe, on a 5xx)."""
        if exc.status >= 500:
            # Twilio's own failure: the call may or may not exist. Keep the lease; whoever
            # takes the attempt over after it expires asks Twilio first.
            report.errors += 1
            log.error(
                "Twilio error %s placing callback %s; left for a takeover", exc.status, callback.id
            )
            return
        if exc.code in NUMBER_REJECTED_CODES:
            report.rejected += 1
            log.error(
                "Twilio refused to call %s for callback %s: %s %s",
                mask(callback.phone_number),
                callback.id,
                exc.code,
                exc.msg,
            )
            service.finish_attempt(session, attempt, AttemptOutcome.REJECTED, error_code=exc.code)
            session.commit()  # the dispatcher is a clock job: it commits its own work
            return
        # Throttled (429) or our own configuration (From number, credentials): nothing was
        # placed and it is not the caller's fault, so the same attempt is tried again later
        # without counting as a miss.
        delay = THROTTLED_RETRY if exc.status == 429 else CONFIGURATION_RETRY
        callback.last_outcome = f"twilio_error:{exc.code or exc.status}"
        self._release(session, callback, utcnow() + delay)
        report.errors += 1
        log.error(
            "Twilio error %s/%s placing callback %s: %s; trying again in %s",
            exc.status,
            exc.code,
            callback.id,
            exc.msg,
            delay,
        )


# --------------------------------------------------------------------------- reconciling


def reconcile_stale_attempts(app: Flask, *, settings: CallbackSettings | None = None) -> int:
    """Ask Twilio about placed calls whose final status never reached us; apply what it says.

    Status callbacks can be lost (our outage beyond Twilio's retries). Without this, such a
    callback would stay "dialing" for ever: neither retried nor failed. Returns how many
    attempts were brought up to date.
    """
    settings = settings or CallbackSettings.from_config(app.config)
    now = utcnow()
    dialing_before = now - timedelta(minutes=settings.reconcile_after_minutes)
    connected_before = now - CONNECTED_RECONCILE_AFTER
    session = db.session_factory()
    updated = 0
    try:
        rows = session.execute(
            select(CallbackAttempt.id, CallbackAttempt.call_sid)
            .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.callback_id)
            .where(
                CallbackAttempt.ended_at.is_(None),
                CallbackAttempt.call_sid.is_not(None),
                or_(
                    and_(
                        CallbackRequest.status == CallbackStatus.DIALING,
                        CallbackAttempt.placed_at < dialing_before,
                    ),
                    and_(
                        CallbackRequest.status == CallbackStatus.CONNECTED,
                        CallbackAttempt.placed_at < connected_before,
                    ),
                ),
            )
            .limit(50)
        ).all()
        gateway = get_gateway()
        for attempt_id, call_sid in rows:
            try:
                call = gateway.client.calls(call_sid).fetch()
                status = CallStatus(call.status)
            except (TwilioRestException, ValueError):
                log.exception("could not look up callback call %s", call_sid)
                continue
            if not status.is_terminal:
                continue
            params = StatusParams(
                call_sid=call_sid,
                call_status=status.value,
                sequence_number=None,
                duration_seconds=int(call.duration) if call.duration else None,
            )
            service.record_call_status(
                session, attempt_id, params, answered_by=getattr(call, "answered_by", None)
            )
            session.commit()  # a clock job's entry point: one commit per reconciled attempt
            updated += 1
    finally:
        session.close()
    if updated:
        log.warning("reconciled %s callback attempts whose status callbacks were lost", updated)
    return updated
