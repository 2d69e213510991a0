"""Reads over cases: search, the scenario review (个案排查), the case screen's history and the
cases a callback belongs to. Pure reads, no writes."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.models import CallbackRequest
from hotline.callers import service as callers_service
from hotline.calls.models import Call
from hotline.cases.lifecycle import default_region
from hotline.cases.models import (
    ACTIVE_CASE_STATUSES,
    OUTCOMES,
    SCENARIOS,
    Case,
    CaseCallback,
    CaseContact,
    CaseNote,
    CaseOutcome,
    CaseStatus,
    Referral,
)
from hotline.phone import mask, try_normalise
from hotline.sms.models import SmsMessage
from hotline.timeutil import console_timezone, utcnow
from hotline.transfers.models import CallRecording, ExternalTransfer

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- search


CASE_NUMBER_RE = re.compile(r"^\d{8}-\d{1,6}$")


@dataclass
class CaseFilters:
    """What the case list filters by; every field optional."""

    q: str = ""
    scenario: str = ""
    status: str = ""
    operator_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    is_overdue: bool = False
    extra: dict = field(default_factory=dict)

    def describe(self) -> dict:
        """The filters as the audit trail may keep them (a number or name redacted)."""
        q = self.q.strip()
        if q and not CASE_NUMBER_RE.match(q):
            q = (
                mask(try_normalise(q, default_region()) or "")
                if callers_service.looks_like_number(q)
                else (audit.redact("name", q))
            )
        return {
            "q": q,
            "scenario": self.scenario,
            "status": self.status,
            "operator_id": self.operator_id,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
        }


def local_day_bounds(
    day_from: date | None, day_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """UTC bounds of local days [day_from 00:00, day_to + 1 00:00)."""
    tz = console_timezone()
    start = datetime.combine(day_from, time(0), tz) if day_from else None
    end = datetime.combine(day_to + timedelta(days=1), time(0), tz) if day_to else None
    return start, end


def search_cases(session: Session, filters: CaseFilters, *, now: datetime | None = None) -> Select:
    """A SELECT of cases matching `filters`, most recent activity first.

    `q` is a case number, a phone number in any format (138 0013 8000, +86 138 0013 8000,
    0086 138 0013 8000, or four digits or more of it) or part of a name.
    """
    statement = select(Case)
    q = (filters.q or "").strip()
    if q:
        if CASE_NUMBER_RE.match(q):
            statement = statement.where(Case.number == q)
        else:
            ids: list[int] = []
            for caller in callers_service.find_callers(
                session, q, region=default_region(), limit=200
            ):
                ids.extend(callers_service.caller_group_ids(session, caller.id))
            statement = statement.where(Case.caller_id.in_(ids or [-1]))
    if filters.scenario:
        statement = statement.where(Case.scenario == filters.scenario)
    if filters.status:
        statement = statement.where(Case.status == CaseStatus(filters.status))
    if filters.operator_id:
        statement = statement.where(Case.owner_id == filters.operator_id)
    start, end = local_day_bounds(filters.date_from, filters.date_to)
    if start is not None:
        statement = statement.where(Case.created_at >= start)
    if end is not None:
        statement = statement.where(Case.created_at < end)
    if filters.is_overdue:
        statement = statement.where(
            Case.status == CaseStatus.ESCALATED, Case.escalation_deadline_at <= (now or utcnow())
        )
    return statement.order_by(Case.last_activity_at.desc(), Case.id.desc())


# --------------------------------------------------------------------------- review (个案排查)


@dataclass
class ScenarioReview:
    """Cases of one scenario over a period."""

    scenario: str
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    #: sub-topic -> {"total", "active", "resolved", "escalated"}
    sub_topics: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Open difficulties: cases of this scenario escalated now (whenever they were opened).
    open_escalations: list[Case] = field(default_factory=list)
    #: For "other": the period's cases, for a supervisor to file under a scenario.
    cases_to_file: list[Case] = field(default_factory=list)


def scenario_review(session: Session, day_from: date, day_to: date) -> list[ScenarioReview]:
    """Cases per scenario and sub-topic opened in [day_from, day_to] (local days), each with the
    currently open escalations of that scenario."""
    start, end = local_day_bounds(day_from, day_to)
    rows = session.execute(
        select(Case.scenario, Case.sub_topic, Case.status, func.count())
        .where(Case.created_at >= start, Case.created_at < end)
        .group_by(Case.scenario, Case.sub_topic, Case.status)
    ).all()
    reviews = {code: ScenarioReview(scenario=code) for code in SCENARIOS}
    for scenario, sub_topic, status, count in rows:
        review = reviews.setdefault(scenario, ScenarioReview(scenario=scenario))
        status = CaseStatus(status)
        review.total += count
        review.by_status[status.value] = review.by_status.get(status.value, 0) + count
        bucket = review.sub_topics.setdefault(
            sub_topic or "", {"total": 0, "active": 0, "resolved": 0, "escalated": 0}
        )
        bucket["total"] += count
        if status in ACTIVE_CASE_STATUSES:
            bucket["active"] += count
        if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
            bucket["resolved"] += count
        if status == CaseStatus.ESCALATED:
            bucket["escalated"] += count
    escalations = session.scalars(
        select(Case)
        .where(Case.status == CaseStatus.ESCALATED)
        .order_by(Case.escalation_deadline_at, Case.id)
    ).all()
    for case in escalations:
        reviews.setdefault(case.scenario, ScenarioReview(scenario=case.scenario))
        reviews[case.scenario].open_escalations.append(case)
    reviews["other"].cases_to_file = list(
        session.scalars(
            select(Case)
            .where(Case.scenario == "other", Case.created_at >= start, Case.created_at < end)
            .order_by(Case.created_at.desc())
            .limit(100)
        )
    )
    return list(reviews.values())


# --------------------------------------------------------------------------- the case screen


def case_history(session: Session, case: Case) -> list[dict]:
    """Contacts and notes of a case in time order, for the case screen."""
    items: list[dict] = []
    for note in session.scalars(select(CaseNote).where(CaseNote.case_id == case.id)):
        items.append({"at": note.created_at, "type": "note", "note": note})
    contacts = session.scalars(select(CaseContact).where(CaseContact.case_id == case.id)).all()
    calls = {
        c.id: c
        for c in session.scalars(
            select(Call).where(Call.id.in_([x.call_id for x in contacts if x.call_id] or [-1]))
        )
    }
    referrals = {
        r.id: r for r in session.scalars(select(Referral).where(Referral.case_id == case.id))
    }
    texts = {
        m.id: m
        for m in session.scalars(
            select(SmsMessage).where(
                SmsMessage.id.in_([x.sms_id for x in contacts if x.sms_id] or [-1])
            )
        )
    }
    # External transfers and conversation recordings of the case's calls (hotline.transfers),
    # shown with their call.
    transfers: dict[int, list[ExternalTransfer]] = defaultdict(list)
    recordings: dict[int, list[CallRecording]] = defaultdict(list)
    if calls:
        for transfer in session.scalars(
            select(ExternalTransfer)
            .where(ExternalTransfer.call_id.in_(list(calls)))
            .order_by(ExternalTransfer.started_at, ExternalTransfer.id)
        ):
            transfers[transfer.call_id].append(transfer)
        for recording in session.scalars(
            select(CallRecording)
            .where(CallRecording.call_id.in_(list(calls)))
            .order_by(CallRecording.id)
        ):
            recordings[recording.call_id or 0].append(recording)
    for contact in contacts:
        items.append(
            {
                "at": contact.occurred_at,
                "type": "contact",
                "contact": contact,
                "transfers": transfers.get(contact.call_id or 0, []),
                "recordings": recordings.get(contact.call_id or 0, []),
                "call": calls.get(contact.call_id),
                "referral": referrals.get(contact.referral_id),
                "sms": texts.get(contact.sms_id),
            }
        )
    items.sort(key=lambda item: item["at"], reverse=True)
    return items


def case_operator_ids(session: Session, case: Case) -> set[int]:
    """Every operator who handled the case (owner, contacts, notes, escalation)."""
    ids = {case.owner_id, case.opened_by_id, case.escalated_by_id, case.escalation_assignee_id}
    ids.update(
        session.scalars(select(CaseContact.operator_id).where(CaseContact.case_id == case.id))
    )
    ids.update(session.scalars(select(CaseNote.operator_id).where(CaseNote.case_id == case.id)))
    return {i for i in ids if i is not None}


def earlier_cases(session: Session, case: Case, *, limit: int = 10) -> list[Case]:
    """The caller's other cases, newest first."""
    if case.caller_id is None:
        return []
    group = callers_service.caller_group_ids(session, case.caller_id)
    return list(
        session.scalars(
            select(Case)
            .where(Case.caller_id.in_(group), Case.id != case.id)
            .order_by(Case.created_at.desc())
            .limit(limit)
        )
    )


def latest_notes(session: Session, case_ids: list[int], *, per_case: int = 2) -> dict[int, list]:
    """The newest notes of each case (earlier cases "at a glance")."""
    notes: dict[int, list[CaseNote]] = defaultdict(list)
    for note in session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id.in_(case_ids or [-1]))
        .order_by(CaseNote.created_at.desc())
    ):
        if len(notes[note.case_id]) < per_case:
            notes[note.case_id].append(note)
    return notes


def outcome_label(code: str) -> tuple[str, str]:
    return OUTCOMES[CaseOutcome(code)]


def cases_of_callback(session: Session, callback: CallbackRequest) -> list[Case]:
    """The cases a callback belongs to: its own `case_id`, and the cases that scheduled it
    (linked with `CaseCallback`), by id."""
    case_ids = {callback.case_id} if callback.case_id else set()
    case_ids |= set(
        session.scalars(
            select(CaseCallback.case_id).where(CaseCallback.callback_id == callback.id)
        ).all()
    )
    found = [session.get(Case, case_id) for case_id in sorted(case_ids)]
    return [row for row in found if row is not None]
