"""SMS tests: shared fixtures live in tests/sms/fixtures.py (the reports tests use them too)."""

from sms.fixtures import *  # noqa: F403
