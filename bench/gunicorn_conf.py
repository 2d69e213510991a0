"""gunicorn settings used by the benchmark only: optional cProfile of every worker.

With BENCH_PROFILE_DIR set, each worker profiles every request in every thread (one cProfile
profiler per thread, enabled around the WSGI call) and writes the merged statistics to
BENCH_PROFILE_DIR/worker-<pid>.prof when it exits. BENCH_PROFILE_CLOCK=cpu (the default)
counts each thread's CPU time (where the cores go); =wall counts elapsed time (where requests
wait: database locks, the GIL, the network). `bench/run.py --profile DIR` sets it and
prints the top functions; `python -m pstats DIR/worker-<pid>.prof` digs further.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import threading
import time

_profilers: list[cProfile.Profile] = []
_local = threading.local()
_lock = threading.Lock()


def _profiled(app):
    def wsgi(environ, start_response):
        profiler = getattr(_local, "profiler", None)
        if profiler is None:
            clock = os.environ.get("BENCH_PROFILE_CLOCK", "cpu")
            timer = time.thread_time if clock == "cpu" else time.perf_counter
            profiler = _local.profiler = cProfile.Profile(timer)
            with _lock:
                _profilers.append(profiler)
        profiler.enable()
        try:
            return app(environ, start_response)
        finally:
            profiler.disable()

    return wsgi


def post_worker_init(worker):
    if os.environ.get("BENCH_PROFILE_DIR"):
        worker.wsgi = _profiled(worker.wsgi)


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_PROFILE_DIR")
    if not directory:
        return
    with _lock:
        profilers = [p for p in _profilers if p.getstats()]
    if not profilers:
        return
    stats = pstats.Stats(profilers[0])
    for profiler in profilers[1:]:
        stats.add(profiler)
    os.makedirs(directory, exist_ok=True)
    stats.dump_stats(os.path.join(directory, f"worker-{os.getpid()}.prof"))
