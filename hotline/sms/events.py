"""What the SMS feature announces (see hotline.events for the rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupervisorTexted:
    """A registered supervisor texted the line (not STOP / START, which the SMS feature answers).

    The alerts feature answers 状态 / STATUS with the live numbers, anything else with the list
    of commands, as a reply to `sms_id` queued in the outbox.
    """

    sms_id: int
    line_id: int
    operator_id: int
    word: str
    language: str


@dataclass(frozen=True)
class CheckinReplied:
    """A volunteer or consented family member answered a missed check-in's text: "1" reached
    the elder, "2" cannot reach them. The check-ins feature closes the episode (and its 失联
    case) and thanks the sender in `language` (zh / yue / en)."""

    sms_id: int
    episode_id: int
    by: str  # "volunteer" or "family"
    code: str  # "1" or "2"
    from_number: str
    language: str
