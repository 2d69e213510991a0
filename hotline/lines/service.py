"""Finding the line a call or a text is for (one rule for voice and SMS)."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.lines.models import Line
from hotline.phone import mask, try_normalise

log = logging.getLogger(__name__)


class NoLineConfigured(LookupError):
    """No active line exists: the deployment has not been set up (`flask seed-demo`, admin)."""


def find_line(session: Session, to_number: str, region: str) -> Line:
    """The line whose number was dialled or texted.

    A number we do not know still reaches the first active line (a caller must never be
    dropped because a Twilio number was added before its line); that is logged. Raises
    NoLineConfigured when no line is active at all.
    """
    number = try_normalise(to_number, region)
    line = None
    if number:
        line = session.scalar(select(Line).where(Line.phone_number == number, Line.is_active))
    if line is None:
        line = session.scalar(select(Line).where(Line.is_active).order_by(Line.id))
        if line is not None and to_number:
            log.warning("contact to unknown number %s served by line %s", mask(to_number), line.key)
    if line is None:
        raise NoLineConfigured("no active line is configured")
    return line
