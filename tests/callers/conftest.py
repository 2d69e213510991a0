"""Caller profile tests: the cases tests' fixtures (staff, calls, audit) serve them too."""

from cases.conftest import *  # noqa: F403
