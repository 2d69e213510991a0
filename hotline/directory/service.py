"""Agencies and volunteers: ONE validation per kind of row, shared by the console forms, the CSV
import and the CLI, and the changes that follow it. Flushes, never commits; every change is in
the audit trail (names and numbers redacted there: see hotline.audit.PERSONAL_*).

A check returns `(clean, problems)`: `clean` is the values to store (None when there are
problems), `problems` maps a field name to its message as ("中文", "English").
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import phonenumbers
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callers.models import Caller
from hotline.directory.models import Agency, AgencyKind, ConsentWay, Volunteer, VolunteerElder
from hotline.phone import InvalidNumber, normalise

Message = tuple[str, str]
Problems = dict[str, Message]

#: Short codes an agency of that kind may have instead of a full number: the emergency services
#: (120 ambulance, 110 police, 119 fire, 122 traffic) and the 12345 government service line.
SHORT_CODES = {
    AgencyKind.EMERGENCY: frozenset({"110", "119", "120", "122"}),
    AgencyKind.GOVERNMENT_SERVICE: frozenset({"12345"}),
}

AGENCY_FIELDS = ("name", "kind", "phone_number", "hours", "notes", "is_active")
VOLUNTEER_FIELDS = (
    "name",
    "phone_number",
    "district",
    "languages",
    "availability",
    "is_active",
    "consented_on",
    "consent_way",
)
#: The CSV's columns, in the order of the export (the import accepts any order).
CSV_COLUMNS = (*VOLUNTEER_FIELDS[:5], "elders", *VOLUNTEER_FIELDS[5:])
REQUIRED_CSV_COLUMNS = ("name", "phone_number", "consented_on", "consent_way")

_TRUE = {"1", "y", "yes", "true", "on", "是", "active"}
_FALSE = {"0", "n", "no", "false", "off", "否", "inactive"}
_ELDER_SEPARATORS = re.compile(r"[;,；，、\n]+")

REQUIRED: Message = ("必填。", "Required.")
NOT_A_NUMBER: Message = ("这不是有效的电话号码。", "This is not a valid phone number.")


def _text(data: Mapping[str, Any], name: str, limit: int, problems: Problems) -> str:
    value = str(data.get(name) or "").strip()
    if len(value) > limit:
        problems[name] = (f"最多 {limit} 个字符。", f"At most {limit} characters.")
    return value


def _flag(data: Mapping[str, Any], name: str, problems: Problems) -> bool:
    """Yes/no as people write it; empty means yes (a new row is active)."""
    value = str(data.get(name) or "").strip().lower()
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    problems[name] = ("请填 是 或 否(yes/no)。", "Write yes or no.")
    return True


def check_number(raw: Any, *, short_codes: Iterable[str] = ()) -> tuple[str | None, Message | None]:
    """A phone number as stored (E.164, or one of `short_codes`), or the reason it is refused."""
    text = str(raw or "").strip()
    if not text:
        return None, REQUIRED
    if text in short_codes:
        return text, None
    if text.startswith(("client:", "sip:")):
        return None, NOT_A_NUMBER
    try:
        number = normalise(text)
    except InvalidNumber:
        return None, NOT_A_NUMBER
    if not phonenumbers.is_valid_number(phonenumbers.parse(number)):
        return None, NOT_A_NUMBER
    return number, None


# --------------------------------------------------------------------------- agencies


def check_agency(
    session: Session, data: Mapping[str, Any], *, agency_id: int | None = None
) -> tuple[dict[str, Any] | None, Problems]:
    """Validate an agency (form or CLI): name, kind, number (unique; short codes for the
    emergency and government-service kinds), hours, notes, active."""
    problems: Problems = {}
    clean: dict[str, Any] = {
        "name": _text(data, "name", 120, problems),
        "hours": _text(data, "hours", 200, problems),
        "notes": _text(data, "notes", 2000, problems),
        "is_active": _flag(data, "is_active", problems),
    }
    if not clean["name"]:
        problems["name"] = REQUIRED
    try:
        kind = AgencyKind(str(data.get("kind") or "").strip())
    except ValueError:
        problems["kind"] = ("请选择机构类别。", "Choose the kind of agency.")
        kind = None
    clean["kind"] = kind
    number, problem = check_number(
        data.get("phone_number"), short_codes=SHORT_CODES.get(kind, ()) if kind else ()
    )
    if problem is None and _taken(session, Agency, number, agency_id):
        problem = ("这个号码已经在机构名录里了。", "This number is already in the directory.")
    if problem is not None:
        if (
            kind != AgencyKind.EMERGENCY
            and str(data.get("phone_number") or "").strip() in (SHORT_CODES[AgencyKind.EMERGENCY])
        ):
            problem = (
                "120、110、119 等短号只能用于“紧急服务”类机构。",
                "Short codes such as 120, 110, 119 are only for the emergency kind.",
            )
        problems["phone_number"] = problem
    clean["phone_number"] = number
    return (None if problems else clean), problems


def create_agency(session: Session, clean: Mapping[str, Any], *, operator_id: int | None) -> Agency:
    """Add a checked agency (see `check_agency`) and audit it. Flushes."""
    agency = Agency(**clean)
    session.add(agency)
    session.flush()
    audit.record(
        session,
        entity="agency",
        entity_id=agency.id,
        action="created",
        operator_id=operator_id,
        after=audit.snapshot(agency, AGENCY_FIELDS),
    )
    return agency


def update_agency(
    session: Session, agency: Agency, clean: Mapping[str, Any], *, operator_id: int | None
) -> Agency:
    """Store checked values on an agency and audit what changed. Flushes."""
    before = audit.snapshot(agency, AGENCY_FIELDS)
    for name, value in clean.items():
        setattr(agency, name, value)
    session.flush()
    changed_before, changed_after = audit.changes(before, audit.snapshot(agency, AGENCY_FIELDS))
    if changed_after:
        audit.record(
            session,
            entity="agency",
            entity_id=agency.id,
            action="updated",
            operator_id=operator_id,
            before=changed_before,
            after=changed_after,
        )
    return agency


def agencies(session: Session, *, active_only: bool = False) -> list[Agency]:
    """The directory, by kind then name."""
    statement = select(Agency).order_by(Agency.kind, Agency.name, Agency.id)
    if active_only:
        statement = statement.where(Agency.is_active.is_(True))
    return list(session.scalars(statement))


# --------------------------------------------------------------------------- volunteers


def _taken(session: Session, model: type, number: str | None, own_id: int | None) -> bool:
    statement = select(model.id).where(model.phone_number == number)
    if own_id is not None:
        statement = statement.where(model.id != own_id)
    return number is not None and session.scalar(statement.limit(1)) is not None


def _elders(session: Session, raw: Any, problems: Problems) -> list[int]:
    """Caller ids of the elders' numbers; each must already have a caller profile."""
    ids: list[int] = []
    unknown: list[str] = []
    for part in _ELDER_SEPARATORS.split(str(raw or "")):
        if not part.strip():
            continue
        number, problem = check_number(part)
        caller_id = (
            session.scalar(
                select(Caller.id).where(
                    Caller.phone_number == number, Caller.anonymised_at.is_(None)
                )
            )
            if problem is None
            else None
        )
        if caller_id is None:
            unknown.append(part.strip())
        elif caller_id not in ids:
            ids.append(caller_id)
    if unknown:
        listed = ", ".join(unknown)
        problems["elders"] = (
            f"没有这些号码的来电人档案:{listed}",
            f"No caller profile has these numbers: {listed}",
        )
    return ids


def check_volunteer(
    session: Session,
    data: Mapping[str, Any],
    *,
    volunteer_id: int | None = None,
    numbers_seen: set[str] | None = None,
) -> tuple[dict[str, Any] | None, Problems]:
    """Validate a volunteer row: the console form, a CSV row and the CLI all call this.

    Name and a valid mobile number (not already on the roster, nor earlier in the same file:
    `numbers_seen`) are required, so are the date (not in the future) and the way they
    consented to be contacted. `elders` lists the numbers of the elders they look after.
    """
    problems: Problems = {}
    clean: dict[str, Any] = {
        "name": _text(data, "name", 120, problems),
        "district": _text(data, "district", 80, problems),
        "languages": _text(data, "languages", 120, problems),
        "availability": _text(data, "availability", 200, problems),
        "is_active": _flag(data, "is_active", problems),
    }
    if not clean["name"]:
        problems["name"] = REQUIRED
    number, problem = check_number(data.get("phone_number"))
    if problem is None and (
        _taken(session, Volunteer, number, volunteer_id) or number in (numbers_seen or ())
    ):
        problem = ("这个号码已经在志愿者名册里了。", "This number is already on the roster.")
    if problem is not None:
        problems["phone_number"] = problem
    clean["phone_number"] = number
    raw_date = str(data.get("consented_on") or "").strip()
    try:
        consented_on = date.fromisoformat(raw_date)
        if consented_on > date.today():
            problems["consented_on"] = ("日期不能在将来。", "The date cannot be in the future.")
    except ValueError:
        consented_on = None
        problems["consented_on"] = (
            ("请填写同意日期(如 2026-03-01)。", "Give the date they agreed (e.g. 2026-03-01).")
            if raw_date
            else REQUIRED
        )
    clean["consented_on"] = consented_on
    try:
        clean["consent_way"] = ConsentWay(str(data.get("consent_way") or "").strip())
    except ValueError:
        problems["consent_way"] = (
            "请选择同意方式:" + " / ".join(w.value for w in ConsentWay),
            "Choose how they agreed: " + " / ".join(w.value for w in ConsentWay),
        )
    clean["elder_ids"] = _elders(session, data.get("elders"), problems)
    return (None if problems else clean), problems


def _volunteer_snapshot(session: Session, volunteer: Volunteer) -> dict[str, Any]:
    return {
        **audit.snapshot(volunteer, VOLUNTEER_FIELDS),
        "elder_ids": elder_ids(session, volunteer.id),
    }


def elder_ids(session: Session, volunteer_id: int) -> list[int]:
    """The caller ids of the elders a volunteer looks after."""
    return list(
        session.scalars(
            select(VolunteerElder.caller_id)
            .where(VolunteerElder.volunteer_id == volunteer_id)
            .order_by(VolunteerElder.id)
        )
    )


def elder_counts(session: Session) -> dict[int, int]:
    """How many elders each volunteer looks after (volunteers with none are absent): one
    grouped query for the whole roster page."""
    rows = session.execute(
        select(VolunteerElder.volunteer_id, func.count()).group_by(VolunteerElder.volunteer_id)
    )
    return {volunteer_id: count for volunteer_id, count in rows}


def _set_elders(session: Session, volunteer: Volunteer, caller_ids: list[int]) -> None:
    links = session.scalars(
        select(VolunteerElder).where(VolunteerElder.volunteer_id == volunteer.id)
    ).all()
    for link in links:
        if link.caller_id not in caller_ids:
            session.delete(link)
    present = {link.caller_id for link in links}
    for caller_id in caller_ids:
        if caller_id not in present:
            session.add(VolunteerElder(volunteer_id=volunteer.id, caller_id=caller_id))
    session.flush()


def create_volunteer(
    session: Session, clean: Mapping[str, Any], *, operator_id: int | None, action: str = "created"
) -> Volunteer:
    """Add a checked volunteer (see `check_volunteer`) with their elders, audited. Flushes."""
    values = {k: v for k, v in clean.items() if k != "elder_ids"}
    volunteer = Volunteer(**values)
    session.add(volunteer)
    session.flush()
    _set_elders(session, volunteer, list(clean.get("elder_ids") or []))
    audit.record(
        session,
        entity="volunteer",
        entity_id=volunteer.id,
        action=action,
        operator_id=operator_id,
        after=_volunteer_snapshot(session, volunteer),
    )
    return volunteer


def update_volunteer(
    session: Session, volunteer: Volunteer, clean: Mapping[str, Any], *, operator_id: int | None
) -> Volunteer:
    """Store checked values and elders on a volunteer and audit what changed. Flushes."""
    before = _volunteer_snapshot(session, volunteer)
    for name, value in clean.items():
        if name != "elder_ids":
            setattr(volunteer, name, value)
    session.flush()
    _set_elders(session, volunteer, list(clean.get("elder_ids") or []))
    changed_before, changed_after = audit.changes(before, _volunteer_snapshot(session, volunteer))
    if changed_after:
        audit.record(
            session,
            entity="volunteer",
            entity_id=volunteer.id,
            action="updated",
            operator_id=operator_id,
            before=changed_before,
            after=changed_after,
        )
    return volunteer


def volunteers(session: Session) -> list[Volunteer]:
    """The whole roster, active first, by district then name."""
    return list(
        session.scalars(
            select(Volunteer).order_by(
                Volunteer.is_active.desc(), Volunteer.district, Volunteer.name, Volunteer.id
            )
        )
    )


def roster_for_caller(session: Session, caller_id: int | None) -> list[Volunteer]:
    """Active volunteers for a referral, nearest first: those who already look after this
    elder, then those of the elder's district (from the caller profile), then the others."""
    caller = session.get(Caller, caller_id) if caller_id else None
    district = (caller.district or "").strip() if caller is not None else ""
    looks_after = (
        select(VolunteerElder.volunteer_id).where(VolunteerElder.caller_id == caller.id)
        if caller is not None
        else None
    )
    order = []
    if looks_after is not None:
        order.append(case((Volunteer.id.in_(looks_after), 0), else_=1))
    if district:
        order.append(case((Volunteer.district == district, 0), else_=1))
    return list(
        session.scalars(
            select(Volunteer)
            .where(Volunteer.is_active.is_(True))
            .order_by(*order, Volunteer.district, Volunteer.name, Volunteer.id)
        )
    )


# --------------------------------------------------------------------------- CSV


@dataclass
class CsvCheck:
    """A checked CSV: the valid rows, each bad row's problems (rows numbered as a spreadsheet
    shows them, the header being row 1), and a problem with the file itself."""

    valid: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad: list[tuple[int, Problems]] = field(default_factory=list)
    file_problem: Message | None = None

    @property
    def is_clean(self) -> bool:
        return self.file_problem is None and not self.bad


def check_volunteers_csv(session: Session, text: str) -> CsvCheck:
    """Check every row of a volunteers CSV with `check_volunteer`; changes nothing."""
    result = CsvCheck()
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in columns]
    if missing:
        result.file_problem = (
            "CSV 缺少这些列:" + ", ".join(missing),
            "The CSV lacks these columns: " + ", ".join(missing),
        )
        return result
    seen: set[str] = set()
    for row_number, row in enumerate(reader, start=2):
        data = {(k or "").strip(): v for k, v in row.items()}
        if not any(str(v or "").strip() for v in data.values()):
            continue  # blank line
        clean, problems = check_volunteer(session, data, numbers_seen=seen)
        number = str(data.get("phone_number") or "")
        stored, _ = check_number(number)
        if stored:
            seen.add(stored)
        if clean is None:
            result.bad.append((row_number, problems))
        else:
            result.valid.append((row_number, clean))
    if not result.valid and not result.bad:
        result.file_problem = ("CSV 里没有志愿者。", "The CSV has no volunteers in it.")
    return result


def import_checked(
    session: Session, checked: CsvCheck, *, operator_id: int | None
) -> list[Volunteer]:
    """Add the valid rows of a checked CSV (the caller decides whether bad rows allow it).
    Flushes; one audit entry per volunteer."""
    return [
        create_volunteer(session, clean, operator_id=operator_id, action="imported")
        for _row, clean in checked.valid
    ]


def export_volunteers_csv(session: Session) -> str:
    """The roster as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read Chinese),
    in the columns the import reads."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    numbers = dict(
        session.execute(
            select(VolunteerElder.id, Caller.phone_number).join(
                Caller, Caller.id == VolunteerElder.caller_id
            )
        ).all()
    )
    by_volunteer: dict[int, list[str]] = {}
    for link in session.scalars(select(VolunteerElder).order_by(VolunteerElder.id)):
        by_volunteer.setdefault(link.volunteer_id, []).append(numbers[link.id])
    for v in volunteers(session):
        writer.writerow(
            [
                v.name,
                v.phone_number,
                v.district,
                v.languages,
                v.availability,
                "; ".join(by_volunteer.get(v.id, [])),
                "yes" if v.is_active else "no",
                v.consented_on.isoformat(),
                v.consent_way.value,
            ]
        )
    return out.getvalue()


def describe(problems: Problems, language: str = "en") -> str:
    """Problems as one line: "phone_number: This is not a valid phone number.; name: ..."."""
    index = 1 if language == "en" else 0
    return "; ".join(f"{name}: {message[index]}" for name, message in problems.items())
