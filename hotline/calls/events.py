"""What the calls records announce (see hotline.events for the rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallEnded:
    """A call reached a terminal status (published once, by the first terminal status event).

    Subscribers load the call with `session.get(Call, event.call_id)` (already in the identity
    map, so free): the queue notices an abandoned caller, callbacks count a failed attempt.
    """

    call_id: int
