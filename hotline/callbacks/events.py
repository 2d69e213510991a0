"""What the callbacks feature announces (see hotline.events for the rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallbackAttemptEnded:
    """One callback attempt ended (answered, no answer, busy, a machine, failed ...).

    The cases feature records it on every case the callback belongs to.
    """

    callback_id: int
    attempt_id: int


@dataclass(frozen=True)
class CallbackGaveUp:
    """The last attempt failed (or the number cannot be called): the callback is FAILED.

    The alerts feature texts the caller, alerts the supervisors and, with consent, a family
    contact. `last_outcome` is the AttemptOutcome's value.
    """

    callback_id: int
    last_outcome: str
