"""Fixtures shared with the queue's tests: the dev gateway wired to the app over real HTTP."""

from tests.operator_queue.test_queue_devgateway_journey import (  # noqa: F401
    dev_twilio,
    emulator,
    gateway_overrides,
)
