"""Alerts tests use the SMS tests' fixtures (supervisors, the clock, sent texts)."""

from sms.fixtures import *  # noqa: F403
