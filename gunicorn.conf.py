"""gunicorn settings of the web process (the Procfile runs `gunicorn -c gunicorn.conf.py`).

Chosen by measurement (`bench/grid.py`, figures in the README, "Measured figures"): gthread
workers, two per core by default, and threads per worker by database. On SQLite writers take
turns on one file, so more threads only queue on its lock (4 measured best); on PostgreSQL a
worker's threads mostly wait for the database, so 8 carried more than 4. An async worker
(gevent) is not used: the app's database drivers and the twilio SDK block, and the guarantees
(the fallback within 3 s, one commit per webhook) were measured with threads.

Environment: PORT (5000), WEB_CONCURRENCY (workers, 2), WEB_THREADS (threads per worker: 4 on
SQLite, 8 on PostgreSQL), DATABASE_URL (which database the threads default follows).
"""

import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _default_threads() -> int:
    url = os.environ.get("DATABASE_URL", "").strip()
    return 8 if url.startswith(("postgres://", "postgresql")) else 4


bind = f"0.0.0.0:{_int('PORT', 5000)}"
worker_class = "gthread"
workers = _int("WEB_CONCURRENCY", 2)
threads = _int("WEB_THREADS", _default_threads())
# A webhook answers within Twilio's 15 s (a stalled database fails it within 3 s: config.py).
timeout = 20
# Twilio and the load balancer reuse connections.
keepalive = 30
