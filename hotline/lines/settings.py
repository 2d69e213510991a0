"""A line's settings as an administrator writes them: the ONE validation shared by the console
form and `flask lines add|update`.

Input is a mapping of field name to text (a submitted form, or CLI options); the result is the
column values to set, or an error per field in plain words (Chinese and English). Nothing is
written here: `hotline.lines.service.save_line` applies valid values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.lines.models import Line
from hotline.phone import InvalidNumber, normalise

#: Weekday field suffixes, Monday first (Python's date.weekday() order).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_LABELS = {
    "mon": ("星期一", "Monday"),
    "tue": ("星期二", "Tuesday"),
    "wed": ("星期三", "Wednesday"),
    "thu": ("星期四", "Thursday"),
    "fri": ("星期五", "Friday"),
    "sat": ("星期六", "Saturday"),
    "sun": ("星期日", "Sunday"),
}
#: Hours text: "08:00-20:00", "all" (open all day), "closed", or "" (the usual hours).
ALL_DAY = "all"
CLOSED = "closed"
NEXT_WORKING_DAY = "next_working_day"
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_DELAY = re.compile(r"^(\d+)\s*(m|min|h)$")
_INTEGERS = {
    # field: (smallest, largest)
    "offer_callback_after_seconds": (0, 3600),
    "max_wait_seconds": (30, 7200),
    "abandon_callback_after_seconds": (0, 600),
    # Routing: a caller nobody speaking their language took is offered to anyone after this.
    "route_to_anyone_after_seconds": (0, 3600),
    # Presence: after a call the operator wraps up this long, then is available by themselves.
    "wrap_up_seconds": (10, 1800),
    "service_level_seconds": (1, 600),
    "callback_max_attempts": (1, 10),
}
#: Every field a line's form or `flask lines add|update` may set.
FIELDS = (
    "key",
    "name",
    "phone_number",
    "script_key",
    "default_language",
    "timezone",
    "hours_usual",
    *(f"hours_{d}" for d in WEEKDAYS),
    "open_days",
    "callback_window",
    *_INTEGERS,
    "callback_retry_delays",
    "quiet_hours",
    "is_active",
    "is_recording_enabled",
)

#: Audited columns (before and after of every change).
AUDITED = (
    "key",
    "name",
    "phone_number",
    "script_key",
    "default_language",
    "timezone",
    "opens_at",
    "closes_at",
    "weekly_hours",
    "is_open_every_day",
    "callback_window_start",
    "callback_window_end",
    *_INTEGERS,
    "callback_retry_delays",
    "quiet_hours_start",
    "quiet_hours_end",
    "is_active",
    "is_recording_enabled",
)


def _tr(zh: str, en: str) -> str:
    """Both languages: errors are shown in the console and printed by the CLI alike."""
    return f"{zh} / {en}"


@dataclass
class LineInput:
    """The outcome of `validate_line`: values to set, or errors by field."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def script_choices(scripts_dir: str | Path) -> dict[str, list[str]]:
    """Script keys in the scripts folder, each with its languages (`main.zh-CN.yaml`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(Path(scripts_dir).glob("*.yaml")):
        parts = path.name.split(".")
        if len(parts) == 3:
            found.setdefault(parts[0], []).append(parts[1])
    return found


def hours_text(hours: tuple[time, time] | None) -> str:
    """(08:00, 20:00) as "08:00-20:00"; equal times as "all"; None as "closed"."""
    if hours is None:
        return CLOSED
    opens, closes = hours
    if opens == closes:
        return ALL_DAY
    return f"{opens:%H:%M}-{closes:%H:%M}"


def current_text(line: Line) -> dict[str, str]:
    """A line's settings as the text fields `validate_line` reads (fills a form, or the fields
    a CLI update leaves out)."""
    raw = {
        "key": line.key,
        "name": line.name,
        "phone_number": line.phone_number,
        "script_key": line.script_key,
        "default_language": line.default_language,
        "timezone": line.timezone,
        "hours_usual": hours_text((line.opens_at, line.closes_at)),
        "open_days": "every" if line.is_open_every_day else "working",
        "callback_window": hours_text((line.callback_window_start, line.callback_window_end)),
        "callback_retry_delays": line.callback_retry_delays,
        "quiet_hours": (
            hours_text((line.quiet_hours_start, line.quiet_hours_end))
            if line.quiet_hours_start is not None and line.quiet_hours_end is not None
            else ""
        ),
        "is_active": "yes" if line.is_active else "no",
        "is_recording_enabled": "yes" if line.is_recording_enabled else "no",
    }
    weekly = line.weekly_hours or {}
    for index, day in enumerate(WEEKDAYS):
        if str(index) not in weekly:
            raw[f"hours_{day}"] = ""
        elif weekly[str(index)] is None:
            raw[f"hours_{day}"] = CLOSED
        else:
            opens, closes = weekly[str(index)]
            raw[f"hours_{day}"] = hours_text(
                (time.fromisoformat(opens), time.fromisoformat(closes))
            )
    for name in _INTEGERS:
        raw[name] = str(getattr(line, name))
    return raw


def plain_phone(raw: str, region: str = "CN") -> str | None:
    """A supervisor's phone for texts: a plain phone number in E.164, or None when left empty;
    ValueError in plain words otherwise (a `client:` or SIP identity cannot receive a text)."""
    if not (raw or "").strip():
        return None
    try:
        number = normalise(raw, region)
    except InvalidNumber:
        number = ""
    if not number.startswith("+"):
        raise ValueError(
            _tr(
                "不是电话号码:请写成 +86138xxxxxxxx",
                "not a phone number: write it as +86138xxxxxxxx",
            )
        )
    return number


def _clock(text: str) -> time:
    return time.fromisoformat(text.strip())


def parse_span(text: str, *, allow_all_day: bool = True) -> tuple[time, time]:
    """ "08:00-20:00" (or "all") into (opens, closes); ValueError in plain words otherwise."""
    text = (text or "").strip().lower()
    if text == ALL_DAY and allow_all_day:
        return time(0, 0), time(0, 0)
    parts = text.replace("–", "-").split("-")
    if len(parts) != 2:
        raise ValueError(_tr("请写成 08:00-20:00", "write it as 08:00-20:00"))
    try:
        opens, closes = _clock(parts[0]), _clock(parts[1])
    except ValueError:
        raise ValueError(_tr("时间要写成 时:分,如 08:30", "times look like 08:30")) from None
    if opens == closes:
        raise ValueError(_tr("开始和结束是同一时间(时长为零)", "starts and ends at the same time"))
    if closes < opens:
        raise ValueError(_tr("结束时间早于开始时间", "closes before it opens"))
    return opens, closes


def parse_delays(text: str) -> list[int | None]:
    """ "30m,2h,next_working_day" into minutes (None: next working day), each longer than the
    one before; ValueError in plain words otherwise."""
    delays: list[int | None] = []
    for part in (p.strip().lower() for p in (text or "").split(",")):
        if not part:
            continue
        if part == NEXT_WORKING_DAY:
            delays.append(None)
            continue
        match = _DELAY.match(part)
        if match is None:
            raise ValueError(
                _tr(
                    f"看不懂 {part!r}:请用 30m、2h 或 next_working_day",
                    f"{part!r} is not a delay: use 30m, 2h or next_working_day",
                )
            )
        minutes = int(match.group(1)) * (60 if match.group(2) == "h" else 1)
        if minutes <= 0:
            raise ValueError(_tr("间隔必须大于零", "a delay must be longer than zero"))
        delays.append(minutes)
    if not delays:
        raise ValueError(_tr("至少写一个间隔", "list at least one delay"))
    for before, after in zip(delays, delays[1:], strict=False):
        if before is None or (after is not None and after <= before):
            raise ValueError(
                _tr("每次间隔要比上一次长", "each delay must be longer than the one before")
            )
    return delays


def validate_line(
    session: Session,
    raw: Mapping[str, str],
    *,
    line: Line | None,
    scripts: Mapping[str, list[str]],
    region: str = "CN",
) -> LineInput:
    """Check a line's settings. `raw` may leave fields out when `line` exists (they keep their
    value); a new line needs key, name and number. Never writes."""
    text = {**(current_text(line) if line is not None else defaults()), **dict(raw)}
    text = {k: (v if v is not None else "") for k, v in text.items()}
    result = LineInput()
    values, errors = result.values, result.errors

    key = text["key"].strip()
    if line is not None:
        values["key"] = line.key  # the queue's name depends on it: fixed once created
    elif not _KEY.match(key):
        errors["key"] = _tr(
            "用小写字母、数字和 - ,如 changzhe", "lowercase letters, digits and -, e.g. elders"
        )
    elif session.scalar(select(Line.id).where(Line.key == key)) is not None:
        errors["key"] = _tr("这个代号已经有线路在用", "another line has this key")
    else:
        values["key"] = key

    name = text["name"].strip()
    if not name or len(name) > 120:
        errors["name"] = _tr("请填写线路名称(120 字以内)", "give the line a name (up to 120)")
    else:
        values["name"] = name

    try:
        number = normalise(text["phone_number"], region)
        if not number.startswith("+"):
            raise InvalidNumber(number)
    except InvalidNumber:
        errors["phone_number"] = _tr(
            "不是电话号码:请写成 +8610xxxxxxxx", "not a phone number: write it as +8610xxxxxxxx"
        )
    else:
        taken = session.scalar(
            select(Line.id).where(
                Line.phone_number == number, Line.id != (line.id if line is not None else -1)
            )
        )
        if taken is not None:
            errors["phone_number"] = _tr(
                "另一条线路已经用了这个号码", "another line has this number"
            )
        else:
            values["phone_number"] = number

    script_key = text["script_key"].strip()
    if script_key not in scripts:
        errors["script_key"] = _tr(
            f"没有这个脚本;可选:{', '.join(scripts)}",
            f"no such script; choose one of: {', '.join(scripts)}",
        )
    else:
        values["script_key"] = script_key
        language = text["default_language"].strip()
        if language not in scripts[script_key]:
            errors["default_language"] = _tr(
                f"这个脚本没有这种语言;可选:{', '.join(scripts[script_key])}",
                f"the script has no such language; choose: {', '.join(scripts[script_key])}",
            )
        else:
            values["default_language"] = language

    try:
        ZoneInfo(text["timezone"].strip())
        values["timezone"] = text["timezone"].strip()
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = _tr("不认识这个时区,如 Asia/Shanghai", "unknown time zone")

    try:
        values["opens_at"], values["closes_at"] = parse_span(text["hours_usual"])
    except ValueError as exc:
        errors["hours_usual"] = str(exc)
    weekly: dict[str, Any] = {}
    for index, day in enumerate(WEEKDAYS):
        given = text.get(f"hours_{day}", "").strip().lower()
        if not given:
            continue
        if given == CLOSED:
            weekly[str(index)] = None
            continue
        try:
            opens, closes = parse_span(given)
        except ValueError as exc:
            errors[f"hours_{day}"] = str(exc)
            continue
        weekly[str(index)] = [f"{opens:%H:%M}", f"{closes:%H:%M}"]
    values["weekly_hours"] = weekly

    open_days = text["open_days"].strip()
    if open_days not in ("working", "every"):
        errors["open_days"] = _tr("选 working(工作日)或 every(每天)", "choose working or every")
    else:
        values["is_open_every_day"] = open_days == "every"

    try:
        values["callback_window_start"], values["callback_window_end"] = parse_span(
            text["callback_window"]
        )
    except ValueError as exc:
        errors["callback_window"] = str(exc)

    for name, (low, high) in _INTEGERS.items():
        try:
            number_value = int(text[name].strip())
        except ValueError:
            errors[name] = _tr("请填一个整数", "enter a whole number")
            continue
        if not low <= number_value <= high:
            errors[name] = _tr(f"应在 {low} 到 {high} 之间", f"must be between {low} and {high}")
        else:
            values[name] = number_value
    if (
        "offer_callback_after_seconds" in values
        and "max_wait_seconds" in values
        and values["offer_callback_after_seconds"] >= values["max_wait_seconds"]
    ):
        errors["offer_callback_after_seconds"] = _tr(
            "要比最长等待时间短", "must be shorter than the wait cap"
        )

    try:
        parse_delays(text["callback_retry_delays"])
        values["callback_retry_delays"] = ",".join(
            p.strip().lower() for p in text["callback_retry_delays"].split(",") if p.strip()
        )
    except ValueError as exc:
        errors["callback_retry_delays"] = str(exc)

    quiet = text["quiet_hours"].strip().lower()
    if not quiet:
        values["quiet_hours_start"] = values["quiet_hours_end"] = None
    else:
        try:
            # Quiet hours usually run over midnight (22:00-07:00): no "closes before opens".
            start_text, end_text = quiet.split("-")
            start, end = _clock(start_text), _clock(end_text)
            if start == end:
                raise ValueError
            values["quiet_hours_start"], values["quiet_hours_end"] = start, end
        except ValueError:
            errors["quiet_hours"] = _tr(
                "请写成 22:00-07:00,或留空", "write it as 22:00-07:00, or leave it empty"
            )

    active = text["is_active"].strip().lower()
    if active not in ("yes", "no", "1", "0", "true", "false", "on", "off"):
        errors["is_active"] = _tr("填 yes 或 no", "yes or no")
    else:
        values["is_active"] = active in ("yes", "1", "true", "on")
    recording = text.get("is_recording_enabled", "no").strip().lower() or "no"
    if recording not in ("yes", "no", "1", "0", "true", "false", "on", "off"):
        errors["is_recording_enabled"] = _tr("填 yes 或 no", "yes or no")
    else:
        # On: conversations with operators are recorded, and the greeting tells callers so.
        values["is_recording_enabled"] = recording in ("yes", "1", "true", "on")
    if errors:
        result.values = {}
    return result


def defaults() -> dict[str, str]:
    """The text fields of a new line: its form, and what `lines add` does not say."""
    return {
        "key": "",
        "name": "",
        "phone_number": "",
        "script_key": "main",
        "default_language": "zh-CN",
        "timezone": "Asia/Shanghai",
        "hours_usual": "08:00-20:00",
        **{f"hours_{d}": "" for d in WEEKDAYS},
        "open_days": "working",
        "callback_window": "08:30-20:00",
        "offer_callback_after_seconds": "180",
        "max_wait_seconds": "1200",
        "abandon_callback_after_seconds": "20",
        "route_to_anyone_after_seconds": "120",
        "wrap_up_seconds": "60",
        "service_level_seconds": "20",
        "callback_max_attempts": "4",
        "callback_retry_delays": "30m,2h,next_working_day",
        "quiet_hours": "",
        "is_active": "yes",
        "is_recording_enabled": "no",
    }


def from_form(form: Mapping[str, str]) -> dict[str, str]:
    """The console form's fields as `validate_line` reads them: each weekday is a choice
    (usual hours, these hours, open all day, closed) plus its hours text."""
    raw = {name: form.get(name, "") for name in FIELDS if not name.startswith("hours_")}
    if "is_recording_enabled" not in form:
        del raw["is_recording_enabled"]  # an older form: the line keeps its setting
    if "route_to_anyone_after_seconds" not in form:
        # A form posted without the routing threshold (a page from before it existed) keeps
        # the line's value (or the default) rather than failing as "not a number".
        del raw["route_to_anyone_after_seconds"]
    if "wrap_up_seconds" not in form:
        del raw["wrap_up_seconds"]  # the same for the wrap-up time
    raw["hours_usual"] = (
        ALL_DAY if form.get("mode_usual") == ALL_DAY else form.get("hours_usual", "")
    )
    for day in WEEKDAYS:
        mode = form.get(f"mode_{day}", "usual")
        raw[f"hours_{day}"] = {"usual": "", ALL_DAY: ALL_DAY, CLOSED: CLOSED}.get(
            mode, form.get(f"hours_{day}", "")
        )
    return raw
