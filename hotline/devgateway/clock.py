"""Simulated time: a scaled wall clock for the browser, a manual clock for tests.

Every timer in the gateway (Gather timeouts, Pause, the length of a prompt, ringing, hold music)
is a deadline in simulated seconds. Call threads wait for their deadline through the clock, so a
test can move time forward explicitly and nothing ever sleeps for real seconds.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Interface shared by both clocks."""

    #: True when time only moves through `Simulator.advance`.
    is_manual = False

    def now(self) -> float:
        """Simulated time as epoch seconds."""
        raise NotImplementedError

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        """Wait on `condition` (its lock held) until notified or the simulated deadline."""
        raise NotImplementedError

    def real_seconds(self, simulated: float) -> float:
        """How many real seconds a simulated duration takes."""
        raise NotImplementedError


class RealClock(Clock):
    """Wall-clock time, optionally running faster (`time_scale` simulated seconds per second)."""

    #: Upper bound on one real wait, so a lost notification cannot stall a call for long.
    MAX_REAL_WAIT = 1.0

    def __init__(self, time_scale: float = 1.0) -> None:
        """Start simulated time at the current wall-clock time."""
        self.time_scale = max(time_scale, 0.001)
        self._start_wall = time.time()
        self._start_mono = time.monotonic()

    def now(self) -> float:
        """Wall-clock start plus scaled elapsed monotonic time."""
        return self._start_wall + (time.monotonic() - self._start_mono) * self.time_scale

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        """Wait in real time for the scaled remainder of the deadline."""
        if deadline is None:
            condition.wait(self.MAX_REAL_WAIT)
            return
        remaining = (deadline - self.now()) / self.time_scale
        if remaining > 0:
            condition.wait(min(remaining, self.MAX_REAL_WAIT))

    def real_seconds(self, simulated: float) -> float:
        """Scaled duration."""
        return simulated / self.time_scale


class ManualClock(Clock):
    """Time that stands still until someone calls `set` (the simulator's `advance`)."""

    is_manual = True

    def __init__(self, start: float | None = None) -> None:
        """Start at `start` or the current wall-clock time."""
        self._now = time.time() if start is None else start

    def now(self) -> float:
        """The current simulated time."""
        return self._now

    def set(self, value: float) -> None:
        """Move time forward (never backwards); the caller notifies the waiting threads."""
        self._now = max(self._now, value)

    def wait(self, condition: threading.Condition, deadline: float | None) -> None:
        """Wait for a notification only: deadlines pass when time is moved."""
        condition.wait(RealClock.MAX_REAL_WAIT)

    def real_seconds(self, simulated: float) -> float:
        """No real time passes by itself."""
        return 0.0
