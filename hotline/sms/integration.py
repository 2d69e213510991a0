"""What the SMS feature asks of the cases, callbacks and callers features (one place for every
cross-feature write, so an interface change is adjusted here):

- cases: `open_or_continue_case`, `record_contact`, referrals (`Referral`,
  `record_referral_response`; a new referral arrives as the `CaseReferred` event);
- callbacks: `request_callback(..., reason=CallbackReason.SMS or FAMILY)`;
- callers: `FamilyContact` (consented contacts who may receive alerts).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.callbacks.models import CallbackReason, CallbackRequest
from hotline.callbacks.service import request_callback
from hotline.callers.models import Caller, FamilyContact
from hotline.callers.service import consented_family_contacts
from hotline.cases import lifecycle, referrals
from hotline.cases.models import Case, ContactKind, Referral, ReferralStatus, ReferralTarget
from hotline.checkins.models import CheckinEnrolment, CheckinEpisode, EpisodeStatus
from hotline.directory.models import Volunteer
from hotline.lines.models import Line
from hotline.phone import mask

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- cases


def open_case_for_sms(session: Session, *, caller: Caller, line: Line) -> Case:
    """The caller's active case, or a new one opened by this text (flushes)."""
    return lifecycle.open_or_continue_case(
        session, caller_id=caller.id, line_id=line.id, channel="sms"
    )


def record_contact(
    session: Session,
    case: Case,
    *,
    kind: ContactKind,
    sms_id: int | None = None,
    referral_id: int | None = None,
    note: str = "",
) -> None:
    """Add a text to the case's history (a closed case is read-only: the text stays in the SMS
    log, linked by its case_id)."""
    if case.is_closed:
        log.info("case %s is closed: %s contact (sms %s) not added", case.id, kind.value, sms_id)
        return
    lifecycle.record_contact(
        session, case, kind=kind, sms_id=sms_id, referral_id=referral_id, note=note
    )


def mark_overdue_alerted(session: Session, case_id: int | None, now: datetime) -> None:
    """Tell the cases feature that supervisors were alerted about an overdue escalation."""
    case = session.get(Case, case_id) if case_id is not None else None
    if case is not None:
        lifecycle.mark_overdue_alerted(session, case, now)


# --------------------------------------------------------------------------- referrals


def is_volunteer_number(session: Session, number: str) -> bool:
    """True when a case was referred to this number (a volunteer or an agency), or it is the
    active volunteer of an elder enrolled in check-ins (关爱回访: the cascade texts them)."""
    if (
        session.scalar(
            select(func.count()).select_from(Referral).where(Referral.target_number == number)
        )
        > 0
    ):
        return True
    return (
        session.scalar(
            select(Volunteer.id)
            .join(CheckinEnrolment, CheckinEnrolment.volunteer_id == Volunteer.id)
            .where(Volunteer.phone_number == number, Volunteer.is_active.is_(True))
            .limit(1)
        )
        is not None
    )


def pending_referral_for(session: Session, number: str) -> Referral | None:
    """The newest referral to `number` still waiting for an answer."""
    return session.scalar(
        select(Referral)
        .where(Referral.target_number == number, Referral.status == ReferralStatus.PENDING)
        .order_by(Referral.referred_at.desc(), Referral.id.desc())
        .limit(1)
    )


def is_volunteer_referral(referral: Referral) -> bool:
    """Volunteers are told by SMS; agencies are contacted by the operator."""
    return referral.target_kind == ReferralTarget.VOLUNTEER and bool(referral.target_number)


def referral_case(session: Session, referral: Referral) -> Case | None:
    return session.get(Case, referral.case_id)


def answer_referral(
    session: Session, referral: Referral, *, accepted: bool | None, sms_id: int, text: str
) -> None:
    """The volunteer's reply lands on the case: the text as a contact of the case, and an
    accept (1) or decline (2) as the referral's answer. Flushes."""
    case = referral_case(session, referral)
    if case is not None:
        record_contact(
            session,
            case,
            kind=ContactKind.SMS_IN,
            sms_id=sms_id,
            referral_id=referral.id,
            note=text,
        )
    if accepted is not None:
        referrals.record_referral_response(
            session, referral, is_accepted=accepted, response_text=text, actor="volunteer:sms"
        )


# --------------------------------------------------------------------------- callbacks


def request_callback_by_sms(
    session: Session, *, line: Line, caller: Caller, arrived_at: datetime, case: Case | None
) -> CallbackRequest:
    """The caller texted 回电 / 1 / CALLBACK: one callback owed (merged with an active one).
    Commits (the callbacks feature's rule)."""
    callback = request_callback(
        session,
        line_id=line.id,
        phone_number=caller.phone_number,
        reason=CallbackReason.SMS,
        original_arrival_at=arrived_at,
        caller_id=caller.id,
        case_id=case.id if case is not None else None,
        language=caller.language,
        note=f"SMS; case {case.number}" if case is not None else "SMS",
    )
    log.info("callback requested by SMS from %s", mask(caller.phone_number))
    return callback


def request_callback_for_elder(
    session: Session, *, line: Line, elder: Caller, arrived_at: datetime, case: Case, who: str
) -> CallbackRequest:
    """A consented family contact texted 回电 for their elder: one callback owed to the elder
    (merged with an active one), on the elder's case. Flushes."""
    return request_callback(
        session,
        line_id=line.id,
        phone_number=elder.phone_number,
        reason=CallbackReason.FAMILY,
        original_arrival_at=arrived_at,
        caller_id=elder.id,
        case_id=case.id,
        language=elder.language,
        note=f"asked by text by {who}; case {case.number}"[:200],
    )


# --------------------------------------------------------------------------- callers


def is_consented_family_number(session: Session, number: str) -> bool:
    """A family contact of some elder who consented to alerts (consent recorded, not revoked)."""
    contacts = session.scalars(select(FamilyContact).where(FamilyContact.phone_number == number))
    return any(contact.may("may_receive_alerts") for contact in contacts)


# --------------------------------------------------------------------------- check-ins


def checkin_awaiting_reply(session: Session, number: str) -> tuple[CheckinEpisode, str] | None:
    """The open check-in cascade that `number` may answer with 1 / 2, and who they are: the
    elder's volunteer (texted by the cascade), or a family contact whose consent is in force and
    who may receive alerts (texted too). The latest cascade first."""
    volunteer_ids = select(Volunteer.id).where(Volunteer.phone_number == number)
    episode = session.scalar(
        select(CheckinEpisode)
        .where(
            CheckinEpisode.status == EpisodeStatus.CASCADE,
            CheckinEpisode.volunteer_id.in_(volunteer_ids),
            CheckinEpisode.volunteer_sms_at.is_not(None),
        )
        .order_by(CheckinEpisode.missed_at.desc())
        .limit(1)
    )
    if episode is not None:
        return episode, "volunteer"
    elders = select(FamilyContact.caller_id).where(FamilyContact.phone_number == number)
    for episode in session.scalars(
        select(CheckinEpisode)
        .where(
            CheckinEpisode.status == EpisodeStatus.CASCADE,
            CheckinEpisode.family_sms_at.is_not(None),
            CheckinEpisode.caller_id.in_(elders),
        )
        .order_by(CheckinEpisode.missed_at.desc())
    ):
        contacts = consented_family_contacts(session, episode.caller_id, "may_receive_alerts")
        if any(c.phone_number == number for c in contacts):
            return episode, "family"
    return None
