"""Who an operator is offered: skills (languages, dialects) and lines, fair and explainable.

A pure function of plain data, no database: `offers(skills, waiting)` keeps the queue's order
(priority, then the *original* arrival, then the entry id) and drops the callers this operator
cannot serve, giving each remaining caller the reason they are offered:

- the caller's line must be one of the operator's lines (an operator with no lines set serves
  every line);
- "language": the operator speaks the caller's language or dialect (an operator with no
  languages set is treated as speaking every language, as before skills existed);
- "overflow": nobody matching took the caller within the line's threshold
  (`Line.route_to_anyone_after_seconds`), so anyone on the line is offered them, the language
  shown so they know what to expect. A threshold of None never overflows.

`take next` tries the offers in order (the first is the longest-waiting caller the operator can
serve); the console shows the reason on each row ("粤语 · 等了 2 分钟").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

#: Why a caller is offered to an operator.
LANGUAGE = "language"
OVERFLOW = "overflow"


@dataclass(frozen=True)
class Skills:
    """What an operator can serve: languages/dialects and lines (empty = no restriction)."""

    languages: frozenset[str] = frozenset()
    line_ids: frozenset[int] = frozenset()

    def serves_line(self, line_id: int) -> bool:
        """The operator takes callers on this line (no lines set: every line)."""
        return not self.line_ids or line_id in self.line_ids

    def speaks(self, language: str) -> bool:
        """The operator speaks the caller's language (no languages set: every language)."""
        return not self.languages or language in self.languages


@dataclass(frozen=True)
class Waiting:
    """One waiting caller, as routing needs them."""

    entry_id: int
    line_id: int
    priority: int
    arrived_at: datetime
    language: str
    waited_seconds: int
    #: The line's "offer to anyone after N s"; None: only matching operators, ever.
    overflow_after_seconds: int | None


@dataclass(frozen=True)
class Offer:
    """A caller offered to the operator, and why."""

    entry_id: int
    reason: str  # LANGUAGE or OVERFLOW
    language: str
    waited_seconds: int


def offer_for(skills: Skills, waiting: Waiting) -> Offer | None:
    """Why this caller is offered to this operator; None when they are not."""
    if not skills.serves_line(waiting.line_id):
        return None
    if skills.speaks(waiting.language):
        reason = LANGUAGE
    elif (
        waiting.overflow_after_seconds is not None
        and waiting.waited_seconds >= waiting.overflow_after_seconds
    ):
        reason = OVERFLOW
    else:
        return None
    return Offer(waiting.entry_id, reason, waiting.language, waiting.waited_seconds)


def offers(skills: Skills, waiting: Iterable[Waiting]) -> list[Offer]:
    """The callers this operator is offered, best first: priority, original arrival, id."""
    ordered = sorted(waiting, key=lambda w: (w.priority, w.arrived_at, w.entry_id))
    return [offer for w in ordered if (offer := offer_for(skills, w)) is not None]


def next_offer(skills: Skills, waiting: Iterable[Waiting]) -> Offer | None:
    """The caller "take the next caller" offers this operator, or None."""
    found = offers(skills, waiting)
    return found[0] if found else None
