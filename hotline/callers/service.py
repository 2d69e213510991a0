"""Caller profiles: preferences, family contacts with consent, restrictions, merging, repeat
callers and finding a caller by any way of writing their number.

Every function here flushes and leaves the commit to its caller (a console action, the IVR, the
callbacks dispatcher), and every change is written to the audit trail.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from hotline import audit
from hotline.callbacks.models import CallbackRequest
from hotline.callers.models import (
    FAMILY_PERMISSIONS,
    AgeBand,
    Caller,
    CallerRestriction,
    ConsentMethod,
    FamilyContact,
)
from hotline.calls.models import Call, CallDirection
from hotline.cases.models import Case
from hotline.errors import ActionRefused, ConsentRequired, InvalidInput
from hotline.operators.forms import parse_languages
from hotline.phone import mask, try_normalise
from hotline.sms.models import SmsMessage
from hotline.timeutil import utcnow

log = logging.getLogger(__name__)

#: A repeat caller rang at least REPEAT_CALLS times within REPEAT_WINDOW (shown in the queue and
#: on the case screen: someone calling again and again usually has a problem we have not solved).
REPEAT_CALLS = 3
REPEAT_WINDOW = timedelta(days=7)

#: Longest a restriction may run; a block is never forever, someone has to look at it again.
MAX_RESTRICTION = timedelta(days=180)

#: Profile fields an operator edits on the profile page.
PROFILE_FIELDS = (
    "name",
    "display_name",
    "language",
    "dialect",
    "age_band",
    "district",
    "is_older_caller",
    "is_straight_to_person",
    "is_hard_of_hearing",
    "speech_rate_percent",
    "input_timeout_seconds",
    "callback_window_start",
    "callback_window_end",
    "notes",
)
#: Preferences the caller (through the menu) or a consented family member may also change.
PREFERENCE_FIELDS = ("is_older_caller", "is_straight_to_person", "is_hard_of_hearing")
#: What the voice menu reads from a profile; kept in step on profiles merged into this one, so a
#: call from the person's other number is greeted and paced the same way.
IVR_FIELDS = (
    "display_name",
    "language",
    "is_older_caller",
    "is_straight_to_person",
    "is_hard_of_hearing",
    "speech_rate_percent",
    "input_timeout_seconds",
    "routing_language",
)
LANGUAGES = ("zh-CN", "yue-HK", "en-US")
FAMILY_FIELDS = ("name", "relation", "phone_number", *FAMILY_PERMISSIONS)
CONSENT_FIELDS = ("consented_at", "consent_method", "consent_recorded_by", "consent_revoked_at")
RESTRICTION_FIELDS = ("restriction", "restriction_reason", "restriction_until")


class ChangeSource(enum.StrEnum):
    """Who asked for a preference change."""

    OPERATOR = "operator"  # an operator's own judgement, or the caller asked them
    CALLER = "caller"  # the caller, through the voice menu or by SMS
    FAMILY = "family"  # a family contact with consent and may_change_profile


# --------------------------------------------------------------------------- finding callers


def effective_caller_id(session: Session, caller_id: int | None) -> int | None:
    """The profile that stands for this person: follows merges (bounded, in case of a loop)."""
    seen: set[int] = set()
    current = caller_id
    while current is not None and current not in seen and len(seen) < 10:
        seen.add(current)
        merged_into = session.scalar(select(Caller.merged_into_id).where(Caller.id == current))
        if merged_into is None:
            return current
        current = merged_into
    return current


def caller_group_ids(session: Session, caller_id: int) -> list[int]:
    """The person's profile and every profile merged into it (their other numbers)."""
    root = effective_caller_id(session, caller_id)
    if root is None:
        return []
    group = [root]
    frontier = [root]
    while frontier and len(group) < 50:
        children = list(
            session.scalars(select(Caller.id).where(Caller.merged_into_id.in_(frontier)))
        )
        children = [c for c in children if c not in group]
        group.extend(children)
        frontier = children
    return group


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def looks_like_number(text: str) -> bool:
    """True for "138 0013 8000", "+86-138...", "(010) 1234 5678": digits and phone punctuation."""
    stripped = text.strip()
    return (
        bool(stripped)
        and bool(re.fullmatch(r"[+\d\s().\-]+", stripped))
        and (len(_digits(stripped)) >= 4)
    )


def number_filter(text: str, region: str = "CN"):
    """A SQL condition on Caller.phone_number matching `text` written in any format.

    "138 0013 8000", "13800138000", "+86 138 0013 8000" and "0086 138 0013 8000" all normalise
    to +8613800138000; a fragment of four or more digits ("8000") matches numbers containing it.
    """
    conditions = []
    normalised = try_normalise(text, region)
    if normalised:
        conditions.append(Caller.phone_number == normalised)
    digits = _digits(text)
    if len(digits) >= 4:
        conditions.append(Caller.phone_number.contains(digits, autoescape=True))
    return or_(*conditions) if conditions else None


def find_callers(session: Session, query: str, *, region: str = "CN", limit: int = 50) -> list:
    """Callers matching a number (any format) or a name; merged profiles give their survivor."""
    text = (query or "").strip()
    if not text:
        return []
    if looks_like_number(text):
        condition = number_filter(text, region)
    else:
        condition = or_(
            Caller.name.icontains(text, autoescape=True),
            Caller.display_name.icontains(text, autoescape=True),
        )
    if condition is None:
        return []
    found = session.scalars(
        select(Caller)
        .where(condition, Caller.anonymised_at.is_(None))
        .order_by(Caller.id)
        .limit(limit)
    ).all()
    result: list[Caller] = []
    for caller in found:
        root_id = effective_caller_id(session, caller.id)
        root = caller if root_id == caller.id else session.get(Caller, root_id)
        if root is not None and root not in result:
            result.append(root)
    return result


# --------------------------------------------------------------------------- repeat callers


def recent_call_count(
    session: Session, caller_id: int, now: datetime, *, window: timedelta = REPEAT_WINDOW
) -> int:
    """Inbound calls from this person (any of their numbers) in the window ending at `now`."""
    group = caller_group_ids(session, caller_id)
    if not group:
        return 0
    return (
        session.scalar(
            select(func.count())
            .select_from(Call)
            .where(
                Call.caller_id.in_(group),
                Call.direction == CallDirection.INBOUND,
                Call.created_at > now - window,
                Call.created_at <= now,
            )
        )
        or 0
    )


def is_repeat_caller(
    session: Session,
    caller_id: int | None,
    now: datetime,
    *,
    calls: int = REPEAT_CALLS,
    window: timedelta = REPEAT_WINDOW,
) -> bool:
    """True when the caller rang at least `calls` times in the `window` up to `now`
    (default: 3 calls in 7 days). The queue console and the case screen highlight them."""
    if caller_id is None:
        return False
    return recent_call_count(session, caller_id, now, window=window) >= calls


def repeat_caller_ids(
    session: Session,
    caller_ids: Iterable[int],
    now: datetime,
    *,
    calls: int = REPEAT_CALLS,
    window: timedelta = REPEAT_WINDOW,
) -> set[int]:
    """Which of `caller_ids` are repeat callers, in one query (for the queue list).

    Merged profiles are counted by their own calls here; the case screen uses
    `is_repeat_caller`, which counts every number of the person.
    """
    ids = {i for i in caller_ids if i is not None}
    if not ids:
        return set()
    rows = session.execute(
        select(Call.caller_id, func.count())
        .where(
            Call.caller_id.in_(ids),
            Call.direction == CallDirection.INBOUND,
            Call.created_at > now - window,
            Call.created_at <= now,
        )
        .group_by(Call.caller_id)
    ).all()
    return {caller_id for caller_id, count in rows if count >= calls}


# --------------------------------------------------------------------------- the profile


def _check_profile_values(values: dict) -> None:
    if "language" in values and values["language"] not in (None, *LANGUAGES):
        raise InvalidInput("不支持的语言。", "That language is not supported.")
    if "age_band" in values and values["age_band"] is not None:
        try:
            values["age_band"] = AgeBand(values["age_band"])
        except ValueError as exc:
            raise InvalidInput("年龄段无效。", "Not a valid age band.") from exc
    rate = values.get("speech_rate_percent")
    if rate is not None and not 50 <= rate <= 120:
        raise InvalidInput("语速应在 50% 到 120% 之间。", "Speech rate must be 50-120 %.")
    timeout = values.get("input_timeout_seconds")
    if timeout is not None and not 5 <= timeout <= 30:
        raise InvalidInput("按键等待时间应在 5 到 30 秒之间。", "Key timeout must be 5-30 seconds.")
    start, end = values.get("callback_window_start"), values.get("callback_window_end")
    if (start is None) != (end is None):
        raise InvalidInput(
            "回电时段需要同时填写开始和结束时间。",
            "A callback window needs both a start and an end.",
        )
    if isinstance(start, time) and isinstance(end, time) and start >= end:
        raise InvalidInput(
            "回电时段的开始时间要早于结束时间。", "The callback window must start before it ends."
        )


def _sync_aliases(session: Session, caller: Caller) -> None:
    """Copy what the voice menu reads onto profiles merged into this one."""
    for alias in session.scalars(select(Caller).where(Caller.merged_into_id == caller.id)):
        for name in IVR_FIELDS:
            setattr(alias, name, getattr(caller, name))


def _family_contact_allowed(
    session: Session, caller: Caller, family_contact_id: int | None, permission: str
) -> FamilyContact:
    contact = session.get(FamilyContact, family_contact_id) if family_contact_id else None
    group = caller_group_ids(session, caller.id)
    if contact is None or contact.caller_id not in group:
        raise ConsentRequired(
            "这位家人不在该来电人的家人名单中。",
            "This family member is not listed for this caller.",
        )
    if not contact.may(permission):
        raise ConsentRequired(
            "老人尚未同意这位家人代为修改资料。",
            "The elder has not consented to this family member changing their profile.",
        )
    return contact


def update_profile(
    session: Session,
    caller: Caller,
    *,
    operator_id: int | None,
    requested_by_family_id: int | None = None,
    **values,
) -> Caller:
    """Change profile fields (any of PROFILE_FIELDS); audited with before and after.

    When a family member asked for the change (`requested_by_family_id`), preference changes
    need that contact's consented `may_change_profile`; other fields are the operator's.
    """
    if caller.anonymised_at is not None or caller.merged_into_id is not None:
        raise ActionRefused(
            "该资料已匿名化或已合并,不能修改。",
            "This profile was anonymised or merged and cannot be changed.",
        )
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    _check_profile_values(values)
    changing_preferences = any(
        name in values and values[name] != getattr(caller, name) for name in PREFERENCE_FIELDS
    )
    actor = None
    if requested_by_family_id is not None and changing_preferences:
        contact = _family_contact_allowed(
            session, caller, requested_by_family_id, "may_change_profile"
        )
        actor = f"operator for family_contact:{contact.id}"
    _apply_audited(
        session, caller, values, action="profile_updated", operator_id=operator_id, actor=actor
    )
    return caller


def _apply_audited(
    session: Session,
    caller: Caller,
    values: dict,
    *,
    action: str,
    operator_id: int | None,
    actor: str,
) -> None:
    """Set `values` on the caller; audit what actually changed and resync aliases. Flushes."""
    before = audit.snapshot(caller, list(values))
    for name, value in values.items():
        setattr(caller, name, value)
    after = audit.snapshot(caller, list(values))
    changed_before, changed_after = audit.changes(before, after)
    if changed_after:
        audit.record(
            session,
            entity="caller",
            entity_id=caller.id,
            action=action,
            operator_id=operator_id,
            actor=actor,
            before=changed_before,
            after=changed_after,
        )
        _sync_aliases(session, caller)
    session.flush()


def set_preferences(
    session: Session,
    caller_id: int,
    *,
    source: ChangeSource,
    operator_id: int | None = None,
    family_contact_id: int | None = None,
    is_older_caller: bool | None = None,
    is_straight_to_person: bool | None = None,
    is_hard_of_hearing: bool | None = None,
    language: str | None = None,
) -> Caller:
    """Switch older-caller / straight-to-person / hard-of-hearing on or off, or change the
    language the caller chose (e.g. in the voice menu).

    Settable by an operator, by the caller themself (e.g. the voice menu: "press 1 to always
    reach a person directly"), or by a family contact whom the elder consented to
    `may_change_profile`; anyone else is refused with ConsentRequired. Flushes.
    """
    caller = session.get(Caller, effective_caller_id(session, caller_id))
    if caller is None:
        raise LookupError(f"no caller {caller_id}")
    values = {
        name: value
        for name, value in (
            ("is_older_caller", is_older_caller),
            ("is_straight_to_person", is_straight_to_person),
            ("is_hard_of_hearing", is_hard_of_hearing),
            ("language", language),
        )
        if value is not None
    }
    _check_profile_values(values)
    if source == ChangeSource.FAMILY:
        contact = _family_contact_allowed(session, caller, family_contact_id, "may_change_profile")
        actor = f"family_contact:{contact.id}"
    elif source == ChangeSource.CALLER:
        actor = "caller"
    else:
        if operator_id is None:
            raise ValueError("an operator change needs operator_id")
        actor = "operator"
    _apply_audited(
        session, caller, values, action="preferences_set", operator_id=operator_id, actor=actor
    )
    return caller


def correct_language(
    session: Session,
    caller_id: int,
    typed: str,
    *,
    operator_id: int,
    case_id: int | None = None,
) -> Caller:
    """The operator heard the caller's language or dialect ("粤语", "上海话") and corrects it on
    the case: saved to the profile (`routing_language`, which routing uses for the caller's next
    calls before the menu choice; a language the menus speak also becomes the menu language),
    audited on the caller and on the case. An empty text removes the correction. Flushes."""
    caller = session.get(Caller, effective_caller_id(session, caller_id))
    if caller is None:
        raise LookupError(f"no caller {caller_id}")
    codes = parse_languages(typed)
    if len(codes) > 1:
        raise InvalidInput("请只填一种语言或方言。", "Please give one language or dialect.")
    code = codes[0] if codes else None
    values: dict = {"routing_language": code}
    if code in LANGUAGES:
        values["language"] = code
    before = audit.snapshot(caller, list(values))
    _apply_audited(
        session,
        caller,
        values,
        action="language_corrected",
        operator_id=operator_id,
        actor="operator",
    )
    after = audit.snapshot(caller, list(values))
    if case_id is not None and before != after:
        audit.record(
            session,
            entity="case",
            entity_id=case_id,
            action="caller_language_corrected",
            operator_id=operator_id,
            before=before,
            after=after,
        )
        session.flush()
    return caller


# --------------------------------------------------------------------------- family contacts


def add_family_contact(
    session: Session,
    caller_id: int,
    *,
    name: str,
    phone_number: str,
    relation: str = "",
    operator_id: int | None,
    may_receive_alerts: bool = False,
    may_request_callbacks: bool = False,
    may_change_profile: bool = False,
    region: str = "CN",
) -> FamilyContact:
    """Record a family member or proxy. Their permissions are in force only once the elder's
    consent is recorded (`record_consent`). Flushes."""
    caller = session.get(Caller, effective_caller_id(session, caller_id))
    if caller is None or caller.anonymised_at is not None:
        raise ActionRefused("找不到该来电人。", "Caller not found.")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("请填写家人的姓名。", "Please enter the family member's name.")
    number = try_normalise(phone_number, region)
    if number is None or number.startswith(("client:", "sip:")):
        raise InvalidInput(
            "家人的电话号码无效。", "The family member's phone number is not a valid number."
        )
    if number == caller.phone_number:
        raise InvalidInput(
            "家人的号码不能是老人自己的号码。",
            "A family contact cannot have the elder's own number.",
        )
    existing = session.scalar(
        select(FamilyContact).where(
            FamilyContact.caller_id == caller.id, FamilyContact.phone_number == number
        )
    )
    if existing is not None:
        raise InvalidInput(
            "这个号码已经是该老人的家人联系人。",
            "This number is already one of the elder's family contacts.",
        )
    contact = FamilyContact(
        caller_id=caller.id,
        name=name[:120],
        relation=(relation or "").strip()[:40],
        phone_number=number,
        may_receive_alerts=may_receive_alerts,
        may_request_callbacks=may_request_callbacks,
        may_change_profile=may_change_profile,
    )
    session.add(contact)
    session.flush()
    audit.record(
        session,
        entity="family_contact",
        entity_id=contact.id,
        action="added",
        operator_id=operator_id,
        after={"caller_id": caller.id, **audit.snapshot(contact, FAMILY_FIELDS)},
    )
    log.info("family contact %s added for caller %s", mask(number), caller.id)
    return contact


def set_family_permissions(
    session: Session,
    contact: FamilyContact,
    *,
    operator_id: int | None,
    **permissions: bool,
) -> FamilyContact:
    """Change what a family contact may do (still only in force with consent). Flushes."""
    unknown = set(permissions) - set(FAMILY_PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permissions {sorted(unknown)}")
    before = audit.snapshot(contact, list(permissions))
    for name, value in permissions.items():
        setattr(contact, name, bool(value))
    changed_before, changed_after = audit.changes(
        before, audit.snapshot(contact, list(permissions))
    )
    if changed_after:
        audit.record(
            session,
            entity="family_contact",
            entity_id=contact.id,
            action="permissions",
            operator_id=operator_id,
            before=changed_before,
            after=changed_after,
        )
    session.flush()
    return contact


def record_consent(
    session: Session,
    contact: FamilyContact,
    *,
    method: ConsentMethod | str,
    recorded_by: int,
    consented_at: datetime | None = None,
) -> FamilyContact:
    """Record that the elder consented, how, when, and which operator recorded it. Flushes.

    Only the elder consents (see ConsentMethod); an operator must record it; a consent date
    cannot lie in the future. A revoked consent can be given again.
    """
    try:
        method = ConsentMethod(method)
    except ValueError as exc:
        raise InvalidInput(
            "请选择老人表示同意的方式。", "Choose how the elder gave their consent."
        ) from exc
    if recorded_by is None:
        raise InvalidInput("同意必须由坐席记录。", "Consent must be recorded by an operator.")
    now = utcnow()
    when = consented_at or now
    if when > now + timedelta(minutes=5):
        raise InvalidInput("同意时间不能在将来。", "The consent cannot be dated in the future.")
    before = audit.snapshot(contact, CONSENT_FIELDS)
    contact.consented_at = when
    contact.consent_method = method
    contact.consent_recorded_by = recorded_by
    contact.consent_revoked_at = None
    audit.record(
        session,
        entity="family_contact",
        entity_id=contact.id,
        action="consent_recorded",
        operator_id=recorded_by,
        before=before,
        after=audit.snapshot(contact, CONSENT_FIELDS),
    )
    return contact


def revoke_consent(session: Session, contact: FamilyContact, *, operator_id: int | None) -> None:
    """The elder withdrew their consent: the contact keeps no permission in force. Flushes."""
    if contact.consent_revoked_at is not None:
        return
    before = audit.snapshot(contact, CONSENT_FIELDS)
    contact.consent_revoked_at = utcnow()
    audit.record(
        session,
        entity="family_contact",
        entity_id=contact.id,
        action="consent_revoked",
        operator_id=operator_id,
        before=before,
        after=audit.snapshot(contact, CONSENT_FIELDS),
    )


def consented_family_contacts(
    session: Session, caller_id: int, permission: str
) -> list[FamilyContact]:
    """Family contacts of this person whose consent is in force and who hold `permission`
    ("may_receive_alerts", "may_request_callbacks" or "may_change_profile"), oldest first.

    The callbacks feature messages these after a final failed callback.
    """
    if permission not in FAMILY_PERMISSIONS:
        raise ValueError(f"unknown family permission {permission!r}")
    group = caller_group_ids(session, caller_id)
    if not group:
        return []
    contacts = session.scalars(
        select(FamilyContact)
        .where(
            FamilyContact.caller_id.in_(group),
            FamilyContact.consented_at.is_not(None),
            FamilyContact.consent_method.is_not(None),
            FamilyContact.consent_recorded_by.is_not(None),
            FamilyContact.consent_revoked_at.is_(None),
            getattr(FamilyContact, permission).is_(True),
        )
        .order_by(FamilyContact.id)
    ).all()
    return [c for c in contacts if c.may(permission)]


# --------------------------------------------------------------------------- restrictions


def set_restriction(
    session: Session,
    caller: Caller,
    *,
    kind: CallerRestriction | str,
    reason: str,
    until: datetime,
    operator_id: int,
) -> Caller:
    """Flag a caller (warning or block), always with a reason and an expiry. Flushes."""
    try:
        kind = CallerRestriction(kind)
    except ValueError as exc:
        raise InvalidInput("请选择标记类型。", "Choose the kind of flag.") from exc
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("请写明标记的原因。", "Please give the reason for the flag.")
    now = utcnow()
    if until is None or until <= now:
        raise InvalidInput("到期时间必须在将来。", "The expiry must be in the future.")
    if until > now + MAX_RESTRICTION:
        raise InvalidInput(
            "标记最长 180 天,到期后再重新评估。",
            "A flag lasts at most 180 days; look at it again then.",
        )
    before = audit.snapshot(caller, RESTRICTION_FIELDS)
    caller.restriction = kind
    caller.restriction_reason = reason[:300]
    caller.restriction_until = until
    caller.restricted_by_id = operator_id
    audit.record(
        session,
        entity="caller",
        entity_id=caller.id,
        action="restriction_set",
        operator_id=operator_id,
        before=before,
        after=audit.snapshot(caller, RESTRICTION_FIELDS),
    )
    return caller


def clear_restriction(session: Session, caller: Caller, *, operator_id: int) -> Caller:
    """Lift a flag before its expiry. Flushes."""
    before = audit.snapshot(caller, RESTRICTION_FIELDS)
    caller.restriction = None
    caller.restriction_reason = ""
    caller.restriction_until = None
    caller.restricted_by_id = None
    audit.record(
        session,
        entity="caller",
        entity_id=caller.id,
        action="restriction_cleared",
        operator_id=operator_id,
        before=before,
        after=audit.snapshot(caller, RESTRICTION_FIELDS),
    )
    return caller


# --------------------------------------------------------------------------- merging


def merge_callers(session: Session, *, keep_id: int, merge_id: int, operator_id: int) -> Caller:
    """Merge profile `merge_id` into `keep_id` (the same person from two numbers). Flushes.

    Cases, calls, callbacks, texts and family contacts move to the kept profile; its empty
    fields are filled from the other; the merged row stays as an alias of its number (so the
    voice menu still recognises it) with its own personal fields cleared.
    """
    if keep_id == merge_id:
        raise ActionRefused("不能把资料合并到它自己。", "A profile cannot be merged into itself.")
    keep = session.get(Caller, keep_id)
    merge = session.get(Caller, merge_id)
    for caller in (keep, merge):
        if caller is None:
            raise ActionRefused("找不到该来电人。", "Caller not found.")
        if caller.anonymised_at is not None or caller.merged_into_id is not None:
            raise ActionRefused(
                "已匿名化或已合并的资料不能再合并。",
                "An anonymised or already merged profile cannot be merged.",
            )
    before_keep = audit.snapshot(keep, PROFILE_FIELDS)
    for name in ("name", "display_name", "language", "dialect", "age_band", "district"):
        if not getattr(keep, name) and getattr(merge, name):
            setattr(keep, name, getattr(merge, name))
    for name in ("speech_rate_percent", "input_timeout_seconds"):
        if getattr(keep, name) is None:
            setattr(keep, name, getattr(merge, name))
    if keep.callback_window_start is None and merge.callback_window_start is not None:
        keep.callback_window_start = merge.callback_window_start
        keep.callback_window_end = merge.callback_window_end
    for name in PREFERENCE_FIELDS:
        setattr(keep, name, bool(getattr(keep, name) or getattr(merge, name)))
    if merge.notes:
        keep.notes = f"{keep.notes}\n{merge.notes}".strip()
    if keep.restriction is None and merge.restriction is not None:
        keep.restriction = merge.restriction
        keep.restriction_reason = merge.restriction_reason
        keep.restriction_until = merge.restriction_until
        keep.restricted_by_id = merge.restricted_by_id
    if merge.last_contact_at and (
        keep.last_contact_at is None or merge.last_contact_at > keep.last_contact_at
    ):
        keep.last_contact_at = merge.last_contact_at

    moved = {}
    for model in (Case, Call, CallbackRequest, SmsMessage):
        result = session.execute(
            update(model).where(model.caller_id == merge.id).values(caller_id=keep.id),
            execution_options={"synchronize_session": "fetch"},
        )
        moved[model.__tablename__] = result.rowcount
    kept_numbers = {
        c.phone_number: c
        for c in session.scalars(select(FamilyContact).where(FamilyContact.caller_id == keep.id))
    }
    for contact in session.scalars(
        select(FamilyContact).where(FamilyContact.caller_id == merge.id)
    ).all():
        twin = kept_numbers.get(contact.phone_number)
        if twin is None:
            contact.caller_id = keep.id
            continue
        # The same relative on both profiles: keep one, with the consent if either had it.
        if not twin.is_consented and contact.is_consented:
            for name in (*CONSENT_FIELDS, *FAMILY_PERMISSIONS):
                setattr(twin, name, getattr(contact, name))
        audit.record(
            session,
            entity="family_contact",
            entity_id=contact.id,
            action="merged_duplicate",
            operator_id=operator_id,
            after={"kept_family_contact_id": twin.id},
        )
        session.delete(contact)

    merge.merged_into_id = keep.id
    merge.name = ""
    merge.notes = ""
    merge.dialect = ""
    merge.district = ""
    merge.restriction = None
    merge.restriction_reason = ""
    merge.restriction_until = None
    for name in IVR_FIELDS:
        setattr(merge, name, getattr(keep, name))
    session.flush()
    _sync_aliases(session, keep)
    before, after = audit.changes(before_keep, audit.snapshot(keep, PROFILE_FIELDS))
    audit.record(
        session,
        entity="caller",
        entity_id=keep.id,
        action="merged_in",
        operator_id=operator_id,
        before=before,
        after={**after, "merged_caller_id": merge.id, "moved": moved},
    )
    audit.record(
        session,
        entity="caller",
        entity_id=merge.id,
        action="merged_into",
        operator_id=operator_id,
        after={"merged_into_id": keep.id},
    )
    log.info("caller %s merged into %s", merge.id, keep.id)
    return keep


#: Built once (issue 16): every incoming call and text looks its caller up.
_CALLER_BY_NUMBER = select(Caller).where(Caller.phone_number == bindparam("number"))


def find_caller(session: Session, number: str) -> Caller | None:
    """The caller's profile by its E.164 number (the one lookup by number), or None."""
    return session.scalar(_CALLER_BY_NUMBER, {"number": number})


def find_or_create_caller(session: Session, from_number: str, region: str) -> Caller | None:
    """The caller's profile by number; created at the first contact. Withheld numbers: None.

    The one caller lookup for calls and texts; flushes, never commits.
    """
    return lookup_caller(session, from_number, region)[0]


def lookup_caller(
    session: Session, from_number: str, region: str, *, contact_at: datetime | None = None
) -> tuple[Caller | None, bool]:
    """find_or_create_caller(), and whether the profile was created just now.

    A new profile is inserted with `last_contact_at=contact_at` (one INSERT, not an INSERT
    then an UPDATE: issue 16); a profile created in this transaction can have nothing that
    refers to it yet (no enrolment, no block), which lets the incoming call skip those reads.
    """
    number = try_normalise(from_number, region)
    if number is None:
        return None, False
    caller = find_caller(session, number)
    if caller is not None:
        return caller, False
    caller = Caller(phone_number=number, last_contact_at=contact_at)
    session.add(caller)
    session.flush()
    return caller, True
