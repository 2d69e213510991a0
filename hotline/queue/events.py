"""What the queue announces (see hotline.events for the rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallbackOwed:
    """A caller left the queue in a way that owes them a callback (chose one, hung up after
    waiting long enough, or reached the wait cap), keeping their original arrival.

    The voice orchestration records it (`hotline.voice.flow.owe_queue_callback`) and stores the
    callback's id on the entry. `reason` is a CallbackReason value.
    """

    entry_id: int
    reason: str
    note: str
