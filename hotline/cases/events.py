"""What the cases feature announces (see hotline.events for the rules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseReferred:
    """A case was referred to a volunteer or an agency (a new `Referral` row, flushed).

    The SMS feature texts the offer to a volunteer who has a number.
    """

    referral_id: int
