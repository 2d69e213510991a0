"""Privacy: anonymising inactive callers after the retention period, deleting their recordings,
exporting or erasing one caller's data on request, and masking phone numbers in logs.

Anonymising keeps what the statistics need (cases with their scenario, status, dates and
outcome; the caller's age band, language and preference flags) and removes what identifies the
person: names, numbers, free text, family contacts, recordings. The audit trail never held
personal values in the first place (see `hotline.audit`).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import String, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.models import ACTIVE_STATUSES, CallbackRequest, CallbackStatus
from hotline.callers.models import Caller, FamilyContact
from hotline.callers.service import caller_group_ids
from hotline.calls.models import Call, CallDirection, WebhookEvent
from hotline.cases.models import (
    ACTIVE_CASE_STATUSES,
    Case,
    CaseContact,
    CaseNote,
    Referral,
)
from hotline.checkins.models import (
    OPEN_EPISODE_STATUSES,
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
    EpisodeOutcome,
    EpisodeStatus,
)
from hotline.directory.models import VolunteerElder
from hotline.errors import ActionRefused
from hotline.phone import mask
from hotline.sms.models import SmsMessage, SmsOptOut, SmsStatus, SupervisorAlert
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: Default retention: callers with no contact for this long are anonymised.
DEFAULT_RETENTION_DAYS = 730
ANONYMISED_TEXT = "[已匿名化 anonymised]"
RECORDING_SID_RE = re.compile(r"RE[0-9a-fA-F]{32}")
#: A menu input made of keys only (kept when the words a caller said are erased).
KEYS_ONLY = re.compile(r"^[0-9*#\s]*$")


# --------------------------------------------------------------------------- export


def _row(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        column.key: audit.plain(getattr(obj, column.key))
        for column in obj.__table__.columns
        if column.key not in exclude
    }


def export_caller_data(session: Session, caller_id: int, *, operator_id: int | None) -> dict:
    """Everything the hotline holds about one person (all their merged profiles), as a dict
    ready for JSON; the export is audited. Flushes."""
    group = caller_group_ids(session, caller_id)
    if not group:
        raise ActionRefused("找不到该来电人。", "Caller not found.")
    cases = session.scalars(select(Case).where(Case.caller_id.in_(group)).order_by(Case.id)).all()
    data = {
        "exported_at": audit.plain(utcnow()),
        "profiles": [_row(c) for c in session.scalars(select(Caller).where(Caller.id.in_(group)))],
        "family_contacts": [
            _row(f)
            for f in session.scalars(
                select(FamilyContact).where(FamilyContact.caller_id.in_(group))
            )
        ],
        "cases": [
            {
                **_row(case),
                "notes": [
                    _row(n)
                    for n in session.scalars(
                        select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id)
                    )
                ],
                "contacts": [
                    _row(x)
                    for x in session.scalars(
                        select(CaseContact)
                        .where(CaseContact.case_id == case.id)
                        .order_by(CaseContact.id)
                    )
                ],
                "referrals": [
                    _row(r)
                    for r in session.scalars(select(Referral).where(Referral.case_id == case.id))
                ],
            }
            for case in cases
        ],
        "calls": [
            _row(c, exclude=("menu_path",))
            for c in session.scalars(
                select(Call).where(Call.caller_id.in_(group)).order_by(Call.id)
            )
        ],
        "callbacks": [
            _row(c)
            for c in session.scalars(
                select(CallbackRequest).where(CallbackRequest.caller_id.in_(group))
            )
        ],
        "sms": [
            _row(m)
            for m in session.scalars(select(SmsMessage).where(SmsMessage.caller_id.in_(group)))
        ],
        "checkin_enrolments": [
            _row(e)
            for e in session.scalars(
                select(CheckinEnrolment).where(CheckinEnrolment.caller_id.in_(group))
            )
        ],
        "checkin_episodes": [
            _row(e)
            for e in session.scalars(
                select(CheckinEpisode)
                .where(CheckinEpisode.caller_id.in_(group))
                .order_by(CheckinEpisode.due_date)
            )
        ],
    }
    audit.record(
        session,
        entity="caller",
        entity_id=group[0],
        action="data_exported",
        operator_id=operator_id,
        after={"profiles": group, "cases": len(cases)},
    )
    return data


# --------------------------------------------------------------------------- anonymise


def anonymise_caller(
    session: Session,
    caller_id: int,
    *,
    operator_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> list[int]:
    """Remove everything that identifies the person (all their merged profiles). Flushes.

    Pending callbacks to them are cancelled; recordings are deleted at Twilio by the clock
    (`delete_recordings`), which finds them through the anonymised profile. Returns the
    anonymised profile ids.
    """
    now = now or utcnow()
    group = caller_group_ids(session, caller_id)
    if not group:
        raise ActionRefused("找不到该来电人。", "Caller not found.")
    callers = session.scalars(select(Caller).where(Caller.id.in_(group))).all()
    numbers = [c.phone_number for c in callers if c.anonymised_at is None and c.phone_number]
    for caller in callers:
        if caller.anonymised_at is not None:
            continue
        caller.phone_number = f"anon-{caller.id}"
        caller.name = ""
        caller.display_name = ""
        caller.notes = ""
        caller.dialect = ""
        caller.district = ""
        caller.callback_window_start = None
        caller.callback_window_end = None
        caller.restriction = None
        caller.restriction_reason = ""
        caller.restriction_until = None
        caller.anonymised_at = now
    family = session.scalars(select(FamilyContact).where(FamilyContact.caller_id.in_(group))).all()
    for contact in family:
        session.delete(contact)
    # The volunteers' roster keeps the volunteer (staff data) but not whom they looked after.
    session.execute(delete(VolunteerElder).where(VolunteerElder.caller_id.in_(group)))
    # Check-ins (关爱回访) stop; their free text goes; the dates and outcomes stay for the figures.
    session.execute(
        update(CheckinEnrolment)
        .where(CheckinEnrolment.caller_id.in_(group))
        .values(
            status=EnrolmentStatus.STOPPED,
            stopped_at=func.coalesce(CheckinEnrolment.stopped_at, now),
            stop_reason="caller data erased",
            pause_reason="",
            consent_witness="",
            notes="",
            volunteer_id=None,
        ),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(CheckinEpisode)
        .where(
            CheckinEpisode.caller_id.in_(group),
            CheckinEpisode.status.in_(OPEN_EPISODE_STATUSES),
        )
        .values(
            status=EpisodeStatus.CANCELED,
            outcome=EpisodeOutcome.CANCELED,
            closed_at=now,
            closed_by="system",
        ),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(CheckinEpisode)
        .where(CheckinEpisode.caller_id.in_(group))
        .values(volunteer_id=None, next_step_at=None),
        execution_options={"synchronize_session": "fetch"},
    )
    case_ids = select(Case.id).where(Case.caller_id.in_(group))
    session.execute(
        update(Case)
        .where(Case.caller_id.in_(group))
        .values(summary="", outcome_note="", escalation_reason=""),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(CaseNote).where(CaseNote.case_id.in_(case_ids)).values(text=ANONYMISED_TEXT),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(CaseContact).where(CaseContact.case_id.in_(case_ids)).values(note=""),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(Referral)
        .where(Referral.case_id.in_(case_ids))
        .values(reason=ANONYMISED_TEXT, response_text=""),
        execution_options={"synchronize_session": "fetch"},
    )
    _erase_calls_and_webhooks(session, group, numbers, case_ids)
    session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.caller_id.in_(group), CallbackRequest.status.in_(ACTIVE_STATUSES))
        .values(status=CallbackStatus.CANCELED, cancel_reason="caller data erased"),
        execution_options={"synchronize_session": "fetch"},
    )
    theirs = or_(CallbackRequest.caller_id.in_(group), CallbackRequest.phone_number.in_(numbers))
    session.execute(
        update(CallbackRequest).where(theirs).values(phone_number="anon", note=""),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(SmsMessage)
        .where(SmsMessage.caller_id.in_(group), SmsMessage.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.REFUSED, status_reason="caller data erased"),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(SmsMessage)
        .where(
            or_(
                SmsMessage.caller_id.in_(group),
                SmsMessage.from_number.in_(numbers),
                SmsMessage.to_number.in_(numbers),
            )
        )
        .values(body="", to_number="anon", from_number=""),
        execution_options={"synchronize_session": "fetch"},
    )
    # Texts about their cases to staff and volunteers (alerts quote the summary, offers the
    # matter): the row stays for the caps and the record, the words go.
    session.execute(
        update(SmsMessage)
        .where(SmsMessage.case_id.in_(case_ids), SmsMessage.body != "")
        .values(body=ANONYMISED_TEXT),
        execution_options={"synchronize_session": "fetch"},
    )
    # An opt-out is the number itself; with the person gone nothing is texted to it any more
    # (pending texts refused above, callbacks cancelled), and whoever uses it next is new.
    session.execute(
        delete(SmsOptOut).where(SmsOptOut.phone_number.in_(numbers)),
        execution_options={"synchronize_session": "fetch"},
    )
    _erase_alert_details(session, group)
    for caller_id_ in group:
        audit.record(
            session,
            entity="caller",
            entity_id=caller_id_,
            action="anonymised",
            operator_id=operator_id,
            actor=actor,
            after={
                "anonymised_at": now,
                "family_contacts_deleted": len(family) if caller_id_ == group[0] else 0,
            },
        )
    session.flush()
    log.info("caller %s anonymised (%s)", group[0], actor)
    return group


def _number_patterns(numbers: list[str]) -> list[str]:
    """The digits of each number as stored text may hold them (E.164 holds the national)."""
    patterns = set()
    for number in numbers:
        try:
            patterns.add(str(phonenumbers.parse(number, None).national_number))
        except phonenumbers.NumberParseException:
            patterns.add(number)
    return sorted(p for p in patterns if len(p) >= 6)


def _erase_calls_and_webhooks(session: Session, group: list[int], numbers: list[str], case_ids):
    """Their calls keep their times, outcomes and menu choices (the statistics) but lose the
    numbers and the words they said; the stored webhooks of those calls and of their texts
    (the parameters with the number and the speech, the TwiML greeting them by name) go."""
    theirs = or_(
        Call.caller_id.in_(group), Call.from_number.in_(numbers), Call.to_number.in_(numbers)
    )
    calls = session.scalars(select(Call).where(theirs)).all()
    for call in calls:
        if call.from_number in numbers or call.caller_id in group:
            call.from_number = ""
        if call.to_number in numbers or call.direction == CallDirection.OUTBOUND:
            call.to_number = ""
        call.menu_path = [_without_words(step) for step in call.menu_path or []]
    sids = {call.call_sid for call in calls}
    sids |= set(
        session.scalars(
            select(SmsMessage.message_sid).where(
                SmsMessage.message_sid.is_not(None),
                or_(
                    SmsMessage.caller_id.in_(group),
                    SmsMessage.from_number.in_(numbers),
                    SmsMessage.to_number.in_(numbers),
                    SmsMessage.case_id.in_(case_ids),
                ),
            )
        )
    )
    by_sid = WebhookEvent.sid.in_(sorted(sids)) if sids else None
    # A webhook without a row of ours (a status callback before the row, a refused request)
    # is found by the number in its parameters.
    by_number = [
        cast(WebhookEvent.params, String).like(f"%{p}%") for p in _number_patterns(numbers)
    ]
    conditions = ([by_sid] if by_sid is not None else []) + by_number
    if conditions:
        session.execute(
            delete(WebhookEvent).where(or_(*conditions)),
            execution_options={"synchronize_session": "fetch"},
        )


def _without_words(step: Any) -> Any:
    """A menu step without what the caller said (keys pressed are kept for the reports)."""
    if not isinstance(step, dict):
        return step
    heard = step.get("input")
    if isinstance(heard, str) and not KEYS_ONLY.match(heard):
        return {**step, "input": ANONYMISED_TEXT}
    return step


def _erase_alert_details(session: Session, group: list[int]) -> None:
    """Supervisor alerts about their cases quote the case summary: the quote goes."""
    numbers = set(session.scalars(select(Case.number).where(Case.caller_id.in_(group))))
    if not numbers:
        return
    for alert in session.scalars(select(SupervisorAlert)):
        details = alert.details or {}
        if details.get("case_number") in numbers and details.get("summary"):
            alert.details = {**details, "summary": ""}


def inactive_caller_ids(session: Session, now: datetime, *, retention: timedelta, limit: int = 200):
    """Callers (not merged, not anonymised) with no call, text, case activity or pending
    callback since `now - retention`."""
    cutoff = now - retention
    return list(
        session.scalars(
            select(Caller.id)
            .where(
                Caller.anonymised_at.is_(None),
                Caller.merged_into_id.is_(None),
                Caller.created_at < cutoff,
                or_(Caller.last_contact_at.is_(None), Caller.last_contact_at < cutoff),
                ~exists().where(
                    Case.caller_id == Caller.id,
                    or_(Case.status.in_(ACTIVE_CASE_STATUSES), Case.last_activity_at >= cutoff),
                ),
                ~exists().where(Call.caller_id == Caller.id, Call.created_at >= cutoff),
                ~exists().where(SmsMessage.caller_id == Caller.id, SmsMessage.created_at >= cutoff),
                ~exists().where(
                    CallbackRequest.caller_id == Caller.id,
                    or_(
                        CallbackRequest.status.in_(ACTIVE_STATUSES),
                        CallbackRequest.updated_at >= cutoff,
                    ),
                ),
            )
            .order_by(Caller.id)
            .limit(limit)
        )
    )


def anonymise_inactive_callers(session: Session, now: datetime, *, retention_days: int) -> int:
    """The retention sweep (clock job): anonymise every inactive caller. Commits per caller.

    A merged profile stays as long as the person it belongs to is active (calls from that
    number count as the person's calls).
    """
    retention = timedelta(days=retention_days)
    done = 0
    for caller_id in inactive_caller_ids(session, now, retention=retention):
        group = caller_group_ids(session, caller_id)
        recent_alias_call = session.scalar(
            select(Call.id)
            .where(Call.caller_id.in_(group), Call.created_at >= now - retention)
            .limit(1)
        )
        if recent_alias_call is not None:
            continue
        # Claim: only one clock process anonymises a caller.
        claimed = session.execute(
            update(Caller)
            .where(Caller.id == caller_id, Caller.anonymised_at.is_(None))
            .values(updated_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed != 1:
            session.rollback()
            continue
        anonymise_caller(session, caller_id, operator_id=None, actor="system:retention", now=now)
        # A claim (the exception to "the entry point commits"): each caller's erasure is made
        # durable on its own, so a second clock skips it and one failure loses no other.
        session.commit()
        done += 1
    return done


# --------------------------------------------------------------------------- recordings


def recording_sid(url: str | None) -> str | None:
    """The RecordingSid in a Twilio recording URL."""
    match = RECORDING_SID_RE.search(url or "")
    return match.group(0) if match else None


def calls_with_recordings_to_delete(
    session: Session, now: datetime, *, retention: timedelta, limit: int = 100
) -> list[Call]:
    """Calls of anonymised callers (or with no caller, older than the retention period) that
    still point at a recording."""
    anonymised = select(Caller.id).where(Caller.anonymised_at.is_not(None))
    return list(
        session.scalars(
            select(Call)
            .where(
                Call.recording_url.is_not(None),
                or_(
                    Call.caller_id.in_(anonymised),
                    and_(Call.caller_id.is_(None), Call.created_at < now - retention),
                ),
            )
            .order_by(Call.id)
            .limit(limit)
        )
    )


def delete_recordings(session: Session, now: datetime, *, retention_days: int, gateway) -> int:
    """Delete recordings at Twilio and forget their URLs (clock job). Commits per call.

    A recording Twilio no longer has (404) counts as deleted; any other failure leaves the URL
    so the next sweep tries again.
    """
    from twilio.base.exceptions import TwilioRestException

    deleted = 0
    for call in calls_with_recordings_to_delete(
        session, now, retention=timedelta(days=retention_days)
    ):
        sid = recording_sid(call.recording_url)
        if sid is not None:
            try:
                gateway.delete_recording(sid)
            except TwilioRestException as exc:
                if exc.status != 404:
                    log.warning("recording %s of call %s not deleted: %s", sid, call.id, exc.code)
                    continue
        else:
            log.warning(
                "call %s has a recording URL without a RecordingSid; forgetting it", call.id
            )
        call.recording_url = None
        audit.record(
            session,
            entity="call",
            entity_id=call.id,
            action="recording_deleted",
            operator_id=None,
            actor="system:retention",
            after={"recording_sid": sid},
        )
        # Durable right after the external DELETE at Twilio (the exception to "the entry point
        # commits"): a later failure must not make us forget which recordings are gone.
        session.commit()
        deleted += 1
    return deleted


# --------------------------------------------------------------------------- logs

#: Digits written the way phone numbers are ("+86 138 0013 8000", "010-6234-5678"), not dates.
PHONE_IN_TEXT_RE = re.compile(r"(?<![\w+])\+?\d{2,4}(?:[ \-]?\d{3,4}){1,4}(?![\w-])")
CASE_NUMBER_IN_TEXT_RE = re.compile(r"\d{8}-\d{1,6}")


def mask_numbers(text: str) -> str:
    """Mask every phone-number-like run of digits in `text` (keeps the last 4 digits)."""

    def _mask(match: re.Match) -> str:
        raw = match.group(0)
        digits = re.sub(r"\D", "", raw)
        if len(digits) < 7 or CASE_NUMBER_IN_TEXT_RE.fullmatch(raw):
            return raw
        prefix = "+" if raw.startswith("+") else ""
        return mask(prefix + digits) if prefix else "*" * (len(digits) - 4) + digits[-4:]

    return PHONE_IN_TEXT_RE.sub(_mask, text)


class PhoneNumberMaskingFilter(logging.Filter):
    """A log filter that masks phone numbers in every message passing a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_numbers(message)
        if masked != message:
            record.msg = masked
            record.args = ()
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Add the masking filter to the handlers of `logger` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, PhoneNumberMaskingFilter) for f in handler.filters):
            handler.addFilter(PhoneNumberMaskingFilter())
