"""Latency bookkeeping and percentiles (pure; no numpy), plus CPU and memory readings from /proc."""

from __future__ import annotations

import math
import os
import resource
from collections import Counter, defaultdict
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks (numpy's
    default, "linear"); None for no values. `values` need not be sorted."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: list[float]) -> dict:
    """count, p50, p95, p99 and max in milliseconds."""
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": _round(percentile(ms, 50)),
        "p95_ms": _round(percentile(ms, 95)),
        "p99_ms": _round(percentile(ms, 99)),
        "max_ms": _round(max(ms) if ms else None),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Recorder:
    """Latencies per kind of request, errors per kind, and sample error messages."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    #: Kinds that are Twilio webhooks (the rest: console API, baseline, ...).
    webhook_kinds: set[str] = field(default_factory=set)
    #: Things worth knowing that are not errors (e.g. a take-next that found nobody).
    observations: Counter = field(default_factory=Counter)
    completed_calls: int = 0
    failed_calls: int = 0
    started_calls: int = 0

    def add(self, kind: str, seconds: float, *, webhook: bool) -> None:
        self.latencies[kind].append(seconds)
        if webhook:
            self.webhook_kinds.add(kind)

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if len(self.samples) < 20:
            self.samples.append(f"{kind}: {message}"[:400])

    @property
    def webhooks(self) -> int:
        return sum(len(self.latencies[k]) for k in self.webhook_kinds)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def webhook_latencies(self) -> list[float]:
        return [v for k in self.webhook_kinds for v in self.latencies[k]]

    def report(self) -> dict:
        kinds = {kind: summarize(values) for kind, values in sorted(self.latencies.items())}
        return {
            "requests": self.requests,
            "webhooks": self.webhooks,
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors),
            "error_samples": list(self.samples),
            "observations": dict(self.observations),
            "all_webhooks": summarize(self.webhook_latencies()),
            "by_kind": kinds,
        }


# --------------------------------------------------------------------------- /proc readings

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def self_cpu_seconds() -> float:
    """CPU seconds of this process (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_of(pid: int) -> list[int]:
    """Direct children of `pid` (from /proc/<pid>/task/*/children)."""
    result: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return result
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                result.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return result


def pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (e.g. every PostgreSQL backend: "postgres")."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as fh:
                if fh.read().strip() == name:
                    found.append(int(entry))
        except OSError:
            continue
    return found


def status_kib(pid: int, key: str = "VmHWM") -> int | None:
    """A memory figure of /proc/<pid>/status in KiB (VmHWM: peak resident set)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


class CpuMeter:
    """CPU used between `start()` and `stop()`: this process, given pids, the whole machine."""

    def __init__(self, pids_fn=lambda: []) -> None:
        self.pids_fn = pids_fn

    def start(self) -> None:
        self._pids = list(self.pids_fn())
        self._self = self_cpu_seconds()
        self._others = {pid: process_cpu_seconds(pid) for pid in self._pids}
        self._machine = machine_cpu_ticks()

    def stop(self, elapsed: float) -> dict:
        own = self_cpu_seconds() - self._self
        # Processes that appeared meanwhile (a PostgreSQL backend for a new pool connection)
        # count from zero: all their CPU was spent during the run.
        for pid in self.pids_fn():
            self._others.setdefault(pid, 0.0)
        others = sum(process_cpu_seconds(pid) - before for pid, before in self._others.items())
        busy0, total0 = self._machine
        busy1, total1 = machine_cpu_ticks()
        ncpu = os.cpu_count() or 1
        return {
            "loadgen_cores": round(own / elapsed, 2) if elapsed else None,
            "server_cores": round(others / elapsed, 2) if elapsed else None,
            "machine_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
            "cores": ncpu,
        }
