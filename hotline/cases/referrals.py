"""Referrals: a case referred to a volunteer or an agency, and the answer.

Flushes, never commits. A new referral is announced with `CaseReferred` (hotline.cases.events);
the SMS feature texts the volunteer from its subscriber.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit, events
from hotline.cases.events import CaseReferred
from hotline.cases.lifecycle import MAX_TEXT, default_region, record_contact, refuse_if_closed
from hotline.cases.models import (
    Case,
    ContactKind,
    Referral,
    ReferralStatus,
    ReferralTarget,
)
from hotline.directory.models import Agency, Volunteer
from hotline.errors import ActionRefused, InvalidInput
from hotline.phone import mask, try_normalise
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- referrals


def refer_case(
    session: Session,
    case: Case,
    *,
    target_kind: ReferralTarget | str,
    target_name: str,
    reason: str,
    operator_id: int | None,
    target_number: str | None = None,
    volunteer_id: int | None = None,
    agency_id: int | None = None,
) -> Referral:
    """Refer the case to an agency or a community volunteer: who, why and when. Flushes.

    `volunteer_id` (a volunteer of the roster, hotline.directory) or `agency_id` (an agency of
    the directory) fill in the kind, name and number; otherwise they are typed (an agency not
    yet in the directory, a helper not on the roster). A volunteer needs a phone number (they
    are told by SMS). `CaseReferred` is published (its subscribers run in the same transaction).
    """
    refuse_if_closed(case)
    if volunteer_id:
        volunteer = session.get(Volunteer, volunteer_id)
        if volunteer is None or not volunteer.is_active:
            raise InvalidInput(
                "这位志愿者不在名册上或已停用。", "That volunteer is not on the active roster."
            )
        target_kind = ReferralTarget.VOLUNTEER
        target_name, target_number = volunteer.name, volunteer.phone_number
    elif agency_id:
        agency = session.get(Agency, agency_id)
        if agency is None or not agency.is_active:
            raise InvalidInput(
                "这个机构不在名录上或已停用。", "That agency is not in the directory."
            )
        target_kind = ReferralTarget.AGENCY
        target_name, target_number = agency.name, agency.phone_number
    try:
        target_kind = ReferralTarget(target_kind)
    except ValueError as exc:
        raise InvalidInput(
            "请选择转介给机构还是志愿者。", "Choose an agency or a volunteer."
        ) from exc
    target_name = (target_name or "").strip()
    reason = (reason or "").strip()
    if not target_name:
        raise InvalidInput("请填写转介对象的名称。", "Please name who the case goes to.")
    if not reason:
        raise InvalidInput("请写明转介原因。", "Please say why the case is referred.")
    number = None
    if agency_id:
        number = target_number  # from the directory: checked there (short codes such as 120)
    elif target_number and target_number.strip():
        number = try_normalise(target_number, default_region())
        if number is None or number.startswith(("client:", "sip:")):
            raise InvalidInput("转介对象的电话号码无效。", "That phone number is not valid.")
    if target_kind == ReferralTarget.VOLUNTEER and number is None:
        raise InvalidInput(
            "转介给志愿者需要填写志愿者的手机号码。",
            "A referral to a volunteer needs the volunteer's phone number.",
        )
    referral = Referral(
        case_id=case.id,
        target_kind=target_kind,
        target_name=target_name[:120],
        target_number=number,
        reason=reason[:MAX_TEXT],
        referred_at=utcnow(),
        referred_by_id=operator_id,
        status=ReferralStatus.PENDING,
    )
    session.add(referral)
    session.flush()
    audit.record(
        session,
        entity="referral",
        entity_id=referral.id,
        action="created",
        operator_id=operator_id,
        after={
            "case_id": case.id,
            **audit.snapshot(
                referral, ("target_kind", "target_name", "target_number", "reason", "status")
            ),
        },
    )
    record_contact(
        session, case, kind=ContactKind.REFERRAL, referral_id=referral.id, operator_id=operator_id
    )
    events.publish(session, CaseReferred(referral_id=referral.id))
    log.info("case %s referred to a %s (%s)", case.number, target_kind.value, mask(number))
    return referral


def pending_referrals(session: Session) -> list[Referral]:
    """Referrals still waiting for an answer, oldest first."""
    return list(
        session.scalars(
            select(Referral)
            .where(Referral.status == ReferralStatus.PENDING)
            .order_by(Referral.referred_at, Referral.id)
        )
    )


def record_referral_response(
    session: Session,
    referral: Referral,
    *,
    is_accepted: bool,
    response_text: str = "",
    operator_id: int | None = None,
    actor: str | None = None,
) -> Referral:
    """Store the agency's or volunteer's answer (e.g. their SMS reply). Flushes.

    Answering twice the same way changes nothing; changing an answer is refused.
    """
    status = ReferralStatus.ACCEPTED if is_accepted else ReferralStatus.DECLINED
    if referral.status == status:
        return referral
    if referral.status != ReferralStatus.PENDING:
        raise ActionRefused("这个转介已经有答复了。", "This referral has already been answered.")
    before = audit.snapshot(referral, ("status", "response_text"))
    referral.status = status
    referral.response_text = (response_text or "").strip()[:MAX_TEXT]
    referral.responded_at = utcnow()
    audit.record(
        session,
        entity="referral",
        entity_id=referral.id,
        action="answered",
        operator_id=operator_id,
        actor=actor or ("operator" if operator_id else f"{referral.target_kind.value}"),
        before=before,
        after=audit.snapshot(referral, ("status", "response_text")),
    )
    case = session.get(Case, referral.case_id)
    if case is not None:
        case.last_activity_at = utcnow()
    session.flush()
    return referral
