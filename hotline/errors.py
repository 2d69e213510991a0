"""Refusals a domain rule gives, in both languages (kernel: any layer may raise them)."""

from __future__ import annotations


class ActionRefused(ValueError):
    """A domain rule refused the action; `zh` and `en` say why in words an operator understands."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh = zh
        self.en = en

    def message(self) -> str:
        """The reason in the current console language."""
        from hotline.i18n import t

        return t(self.zh, self.en)


class TransitionRefused(ActionRefused):
    """A status change the case lifecycle does not allow."""


class CaseIsClosed(ActionRefused):
    """A closed case is read-only."""


class ConsentRequired(ActionRefused):
    """A family member acted for an elder without the elder's recorded consent."""


class InvalidInput(ActionRefused):
    """A value the hotline cannot accept (a number that is not a number, a time in the past)."""
