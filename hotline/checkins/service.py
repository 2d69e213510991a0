"""Enrolment in check-ins: enrol (with the elder's recorded consent), pause with an end date,
resume, stop. Flushes, never commits; every change is in the audit trail (entity
"checkin_enrolment").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time
from types import EllipsisType

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callers.models import Caller, ConsentMethod, FamilyContact
from hotline.callers.service import caller_group_ids, consented_family_contacts
from hotline.checkins.models import (
    OPEN_EPISODE_STATUSES,
    CalendarRule,
    CheckinEnrolment,
    CheckinEpisode,
    EnrolmentStatus,
    EpisodeOutcome,
    EpisodeStatus,
)
from hotline.directory.models import Volunteer
from hotline.errors import ActionRefused, InvalidInput
from hotline.lines.models import Line
from hotline.numberpolicy import NumberPolicy
from hotline.phone import mask, try_normalise
from hotline.timeutil import local_day, utcnow

log = logging.getLogger(__name__)

#: The fields the audit trail records for an enrolment.
ENROLMENT_FIELDS = (
    "status",
    "calendar_rule",
    "days_of_week",
    "skip_public_holidays",
    "window_start",
    "window_end",
    "retry_minutes",
    "volunteer_id",
    "notify_family",
    "family_contact_ids",
    "consented_at",
    "consent_method",
    "consent_witness",
    "consent_recorded_by",
    "paused_until",
    "pause_reason",
    "stopped_at",
    "stop_reason",
)

#: Longest retry policy accepted: each retry is minutes after the previous miss.
MAX_RETRIES = 5
MAX_RETRY_MINUTES = 24 * 60


def parse_retry_minutes(raw: str) -> str:
    """The retry policy in its stored form ("20,60"), or InvalidInput."""
    parts = [p.strip() for p in (raw or "").replace("，", ",").split(",") if p.strip()]
    if len(parts) > MAX_RETRIES or not all(p.isdigit() for p in parts):
        raise InvalidInput(
            f"重试间隔应为以逗号分隔的分钟数（最多{MAX_RETRIES}次），如 20,60。",
            f"Retries are minutes separated by commas (at most {MAX_RETRIES}), e.g. 20,60.",
        )
    minutes = [int(p) for p in parts]
    if any(m < 1 or m > MAX_RETRY_MINUTES for m in minutes):
        raise InvalidInput(
            "每次重试间隔应在 1 到 1440 分钟之间。",
            "Each retry must be between 1 and 1440 minutes after the previous call.",
        )
    return ",".join(str(m) for m in minutes)


def _check_schedule(
    rule: CalendarRule, days_of_week: Iterable[int], window_start: time, window_end: time
) -> list[int]:
    days = sorted({int(d) for d in days_of_week})
    if any(d < 0 or d > 6 for d in days):
        raise InvalidInput("星期应为 0（周一）到 6（周日）。", "Days are 0 (Monday) to 6 (Sunday).")
    if rule == CalendarRule.CHOSEN_DAYS and not days:
        raise InvalidInput("请至少选择一天。", "Choose at least one day of the week.")
    if window_start >= window_end:
        raise InvalidInput(
            "回访时段的开始时间须早于结束时间。",
            "The check-in window must start before it ends.",
        )
    return days


def _policy_refusal(number: str) -> str | None:
    """Why the number policy would refuse to call or text `number`, or None."""
    return NumberPolicy.from_config(current_app.config).refusal(number)


def _check_volunteer(session: Session, volunteer_id: int) -> None:
    """The volunteer is on the active roster, and the cascade's text can reach them: nothing is
    ever sent to a number outside the number policy, so a volunteer there would never be told."""
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None or not volunteer.is_active:
        raise InvalidInput(
            "该志愿者不在名册上或已停用。", "That volunteer is not on the active roster."
        )
    refusal = _policy_refusal(volunteer.phone_number)
    if refusal is not None:
        raise InvalidInput(
            f"志愿者{volunteer.name}的号码不在号码政策允许的范围内（{refusal}），"
            "失联时无法给其发短信。请在志愿者名册中更正号码，或选择其他志愿者。",
            f"Volunteer {volunteer.name}'s number is outside the number policy ({refusal}), so "
            "the lost-contact text could never reach them. Correct the number on the volunteer "
            "roster, or choose another volunteer.",
        )


def _record_change(
    session: Session,
    enrolment: CheckinEnrolment,
    before: dict,
    action: str,
    operator_id: int | None,
    *,
    only_if_changed: bool = False,
    actor: str | None = None,
) -> None:
    """Flush and append the audit entry for a change of `enrolment` (redacted values)."""
    session.flush()
    old, new = audit.changes(before, audit.snapshot(enrolment, ENROLMENT_FIELDS))
    if only_if_changed and not new:
        return
    audit.record(
        session,
        entity="checkin_enrolment",
        entity_id=enrolment.id,
        action=action,
        operator_id=operator_id,
        actor=actor or (None if operator_id is not None else "system"),
        before=old,
        after=new,
    )


def _check_family(
    session: Session, caller_id: int, contact_ids: Iterable[int] | None
) -> list[int] | None:
    """The chosen family contacts (sorted ids), each one the elder consented may receive
    alerts; None (all of those) stays None."""
    if contact_ids is None:
        return None
    chosen = sorted({int(i) for i in contact_ids})
    allowed = {c.id for c in consented_family_contacts(session, caller_id, "may_receive_alerts")}
    if not set(chosen) <= allowed:
        raise InvalidInput(
            "只能选择已记录同意、可接收提醒的家人。",
            "Choose only family contacts whose consent to alerts is recorded.",
        )
    return chosen


def family_contacts_by_number(
    session: Session, caller_id: int, numbers: Iterable[str]
) -> list[int]:
    """The ids of the elder's family contacts named by their numbers (the CLI's `--family`),
    each one the elder consented may receive alerts and one the number policy lets us text.
    Anything else is refused with what to do about it: the CLI cannot tick a box, so a typo or
    a contact without consent must not silently become "tell nobody" or "tell everyone"."""
    group = caller_group_ids(session, caller_id)
    consented = {c.id for c in consented_family_contacts(session, caller_id, "may_receive_alerts")}
    chosen: list[int] = []
    for raw in numbers:
        number = try_normalise(raw, "CN")
        if number is None:
            raise InvalidInput(f"{raw!r} 不是电话号码。", f"{raw!r} is not a phone number.")
        contact = session.scalar(
            select(FamilyContact)
            .where(FamilyContact.caller_id.in_(group), FamilyContact.phone_number == number)
            .order_by(FamilyContact.id)
        )
        if contact is None:
            raise InvalidInput(
                f"该老人没有号码为{mask(number)}的家人。请先在控制台的来电人资料中添加这位家人，"
                "并记录老人同意其接收提醒。",
                f"The elder has no family contact with the number {mask(number)}. Add them on "
                "the elder's caller profile in the console, with the elder's consent to alerts, "
                "first.",
            )
        if contact.id not in consented:
            raise InvalidInput(
                f"家人{contact.name}（{mask(number)}）没有记录老人同意其接收提醒。"
                "请先在控制台的来电人资料中记录老人的同意。",
                f"Family contact {contact.name} ({mask(number)}) has no recorded consent from "
                "the elder to receive alerts. Record the elder's consent on the caller profile "
                "in the console first.",
            )
        refusal = _policy_refusal(contact.phone_number)
        if refusal is not None:
            raise InvalidInput(
                f"家人{contact.name}的号码不在号码政策允许的范围内（{refusal}），"
                "失联时无法给其发短信。请在来电人资料中更正号码，或选择其他家人。",
                f"Family contact {contact.name}'s number is outside the number policy "
                f"({refusal}), so the lost-contact text could never reach them. Correct the "
                "number on the caller profile, or choose another family contact.",
            )
        chosen.append(contact.id)
    return sorted(set(chosen))


def live_enrolment(session: Session, caller_id: int, line_id: int) -> CheckinEnrolment | None:
    """The elder's active or paused enrolment on the line, if any."""
    return session.scalar(
        select(CheckinEnrolment).where(
            CheckinEnrolment.caller_id == caller_id,
            CheckinEnrolment.line_id == line_id,
            CheckinEnrolment.status.in_((EnrolmentStatus.ACTIVE, EnrolmentStatus.PAUSED)),
        )
    )


def enrol(
    session: Session,
    *,
    caller_id: int,
    line_id: int,
    window_start: time,
    window_end: time,
    consent_method: ConsentMethod | str,
    operator_id: int | None,
    consented_at: datetime | None = None,
    consent_witness: str = "",
    calendar_rule: CalendarRule | str = CalendarRule.EVERY_DAY,
    days_of_week: Iterable[int] = (),
    skip_public_holidays: bool = False,
    retry_minutes: str = "20,60",
    volunteer_id: int | None = None,
    notify_family: bool = True,
    family_contact_ids: Iterable[int] | None = None,
    notes: str = "",
    actor: str | None = None,
) -> CheckinEnrolment:
    """Enrol an elder in check-ins on a line, with their recorded consent. Flushes.

    Only the elder consents (ConsentMethod has no "family says so"); the consent cannot be dated
    in the future; an elder has at most one live enrolment per line.
    """
    caller = session.get(Caller, caller_id)
    if caller is None or caller.anonymised_at is not None:
        raise ActionRefused("找不到该来电人。", "Caller not found.")
    if session.get(Line, line_id) is None:
        raise ActionRefused("找不到该热线。", "Line not found.")
    refusal = _policy_refusal(caller.phone_number)
    if refusal is not None:
        # Every day's call would be refused and the cascade would alarm the volunteer for nothing.
        raise ActionRefused(
            f"老人的号码不在号码政策允许的范围内（{refusal}），无法给其打回访电话。"
            "请先在来电人资料中更正号码。",
            f"The elder's number is outside the number policy ({refusal}), so no check-in call "
            "could be placed. Correct the number on the caller's profile first.",
        )
    try:
        method = ConsentMethod(consent_method)
    except ValueError as exc:
        raise InvalidInput(
            "请选择老人表示同意的方式。", "Choose how the elder gave their consent."
        ) from exc
    now = utcnow()
    when = consented_at or now
    if when > now:
        raise InvalidInput("同意时间不能在将来。", "The consent cannot be dated in the future.")
    try:
        rule = CalendarRule(calendar_rule)
    except ValueError as exc:
        raise InvalidInput("请选择回访日。", "Choose which days to call.") from exc
    days = _check_schedule(rule, days_of_week, window_start, window_end)
    if volunteer_id is not None:
        _check_volunteer(session, volunteer_id)
    if live_enrolment(session, caller.id, line_id) is not None:
        raise ActionRefused(
            "该老人已加入关爱回访。", "This elder is already enrolled in check-ins on this line."
        )
    enrolment = CheckinEnrolment(
        caller_id=caller.id,
        line_id=line_id,
        status=EnrolmentStatus.ACTIVE,
        calendar_rule=rule,
        days_of_week=days,
        skip_public_holidays=bool(skip_public_holidays),
        window_start=window_start,
        window_end=window_end,
        retry_minutes=parse_retry_minutes(retry_minutes),
        volunteer_id=volunteer_id,
        notify_family=bool(notify_family),
        family_contact_ids=_check_family(session, caller.id, family_contact_ids),
        consented_at=when,
        consent_method=method,
        consent_witness=(consent_witness or "").strip()[:120],
        consent_recorded_by=operator_id,
        enrolled_by_id=operator_id,
        notes=(notes or "").strip(),
    )
    session.add(enrolment)
    session.flush()
    audit.record(
        session,
        entity="checkin_enrolment",
        entity_id=enrolment.id,
        action="enrolled",
        operator_id=operator_id,
        actor=actor,
        after={"caller_id": caller.id, **audit.snapshot(enrolment, ENROLMENT_FIELDS)},
    )
    log.info("caller %s enrolled in check-ins on line %s", caller.id, line_id)
    return enrolment


def update_schedule(
    session: Session,
    enrolment: CheckinEnrolment,
    *,
    operator_id: int | None,
    calendar_rule: CalendarRule | str | None = None,
    days_of_week: Iterable[int] | None = None,
    skip_public_holidays: bool | None = None,
    window_start: time | None = None,
    window_end: time | None = None,
    retry_minutes: str | None = None,
    volunteer_id: int | None | EllipsisType = ...,
    notify_family: bool | None = None,
    family_contact_ids: Iterable[int] | None | EllipsisType = ...,
    actor: str | None = None,
) -> CheckinEnrolment:
    """Change the schedule, retries, volunteer (None: no volunteer; left out: unchanged) or
    family setting (family_contact_ids: None, every consented contact; left out: unchanged).
    Flushes; audited (by `actor`, e.g. "cli", when no operator made the change)."""
    if enrolment.status == EnrolmentStatus.STOPPED:
        raise ActionRefused("该回访已停止。", "This enrolment is stopped.")
    before = audit.snapshot(enrolment, ENROLMENT_FIELDS)
    rule = CalendarRule(calendar_rule) if calendar_rule is not None else enrolment.calendar_rule
    days = _check_schedule(
        rule,
        days_of_week if days_of_week is not None else enrolment.days_of_week,
        window_start or enrolment.window_start,
        window_end or enrolment.window_end,
    )
    enrolment.calendar_rule = rule
    enrolment.days_of_week = days
    if window_start is not None:
        enrolment.window_start = window_start
    if window_end is not None:
        enrolment.window_end = window_end
    if skip_public_holidays is not None:
        enrolment.skip_public_holidays = skip_public_holidays
    if retry_minutes is not None:
        enrolment.retry_minutes = parse_retry_minutes(retry_minutes)
    if volunteer_id is not ...:
        if volunteer_id is not None:
            _check_volunteer(session, volunteer_id)
        enrolment.volunteer_id = volunteer_id
    if notify_family is not None:
        enrolment.notify_family = notify_family
    if family_contact_ids is not ...:
        enrolment.family_contact_ids = _check_family(
            session, enrolment.caller_id, family_contact_ids
        )
    _record_change(
        session, enrolment, before, "updated", operator_id, only_if_changed=True, actor=actor
    )
    return enrolment


def _local_today(session: Session, enrolment: CheckinEnrolment) -> date:
    """Today in the line's time zone (pauses and stops are in local dates)."""
    line = session.get(Line, enrolment.line_id)
    return local_day(utcnow(), line.timezone if line is not None else "Asia/Shanghai")


def _cancel_open_episodes(session: Session, enrolment: CheckinEnrolment, *, from_date: date):
    """Episodes not yet called from `from_date` on are canceled (a call under way, or a cascade,
    runs to its end: the elder may already be unreachable)."""
    episodes = session.scalars(
        select(CheckinEpisode).where(
            CheckinEpisode.enrolment_id == enrolment.id,
            CheckinEpisode.due_date >= from_date,
            CheckinEpisode.status == EpisodeStatus.DUE,
        )
    ).all()
    now = utcnow()
    for episode in episodes:
        episode.status = EpisodeStatus.CANCELED
        episode.outcome = EpisodeOutcome.CANCELED
        episode.closed_at = now
        episode.closed_by = "operator"
        episode.next_step_at = None


def pause(
    session: Session,
    enrolment: CheckinEnrolment,
    *,
    until: date,
    operator_id: int | None,
    reason: str = "",
    today: date | None = None,
) -> CheckinEnrolment:
    """Pause check-ins through `until` (a local date; calls resume the day after). Flushes."""
    if enrolment.status == EnrolmentStatus.STOPPED:
        raise ActionRefused("该回访已停止。", "This enrolment is stopped.")
    today = today or _local_today(session, enrolment)
    if until < today:
        raise InvalidInput("暂停的结束日期不能早于今天。", "The pause cannot end before today.")
    before = audit.snapshot(enrolment, ENROLMENT_FIELDS)
    enrolment.status = EnrolmentStatus.PAUSED
    enrolment.paused_until = until
    enrolment.pause_reason = (reason or "").strip()[:200]
    _cancel_open_episodes(session, enrolment, from_date=today)
    _record_change(session, enrolment, before, "paused", operator_id)
    return enrolment


def resume(
    session: Session, enrolment: CheckinEnrolment, *, operator_id: int | None
) -> CheckinEnrolment:
    """End a pause now (an operator's choice, or the clock once `paused_until` has passed)."""
    if enrolment.status != EnrolmentStatus.PAUSED:
        raise ActionRefused("该回访未暂停。", "This enrolment is not paused.")
    before = audit.snapshot(enrolment, ENROLMENT_FIELDS)
    enrolment.status = EnrolmentStatus.ACTIVE
    enrolment.paused_until = None
    enrolment.pause_reason = ""
    _record_change(session, enrolment, before, "resumed", operator_id)
    return enrolment


def stop(
    session: Session,
    enrolment: CheckinEnrolment,
    *,
    operator_id: int | None,
    reason: str = "",
    today: date | None = None,
) -> CheckinEnrolment:
    """End check-ins for good (the elder withdrew, moved, died). Flushes; audited."""
    if enrolment.status == EnrolmentStatus.STOPPED:
        raise ActionRefused("该回访已停止。", "This enrolment is already stopped.")
    before = audit.snapshot(enrolment, ENROLMENT_FIELDS)
    enrolment.status = EnrolmentStatus.STOPPED
    enrolment.stopped_at = utcnow()
    enrolment.stop_reason = (reason or "").strip()[:200]
    enrolment.paused_until = None
    _cancel_open_episodes(session, enrolment, from_date=today or _local_today(session, enrolment))
    _record_change(session, enrolment, before, "stopped", operator_id)
    return enrolment


def open_episodes(session: Session, enrolment_id: int) -> list[CheckinEpisode]:
    """The enrolment's episodes still open (oldest first)."""
    return list(
        session.scalars(
            select(CheckinEpisode)
            .where(
                CheckinEpisode.enrolment_id == enrolment_id,
                CheckinEpisode.status.in_(OPEN_EPISODE_STATUSES),
            )
            .order_by(CheckinEpisode.due_date)
        )
    )
