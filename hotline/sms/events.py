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
