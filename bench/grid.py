#!/usr/bin/env python3
"""gunicorn settings by measurement: the capacity run of bench/run.py for each workers x threads.

    .venv/bin/python bench/grid.py                                  SQLite and PostgreSQL
    .venv/bin/python bench/grid.py --db sqlite --workers 2,3 --threads 2,4,8 --duration 10

Each cell is one short `bench/run.py --modes capacity --micro off --only-used-callbacks` (a
fresh database, the real gunicorn with those settings, the closed-loop callers and the bare
Flask baseline under the same settings) and prints webhooks/s, the ratio to bare Flask, the
webhook p50/p99 and the workers' peak memory. Cells are short and the machine may be shared:
run it on a quiet machine, and compare cells of one run only. The chosen defaults live in
`gunicorn.conf.py` (WEB_CONCURRENCY, WEB_THREADS); the README says what was measured.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cell(db: str, workers: int, threads: int, args: argparse.Namespace) -> dict:
    """One capacity run; its figures, or why it failed."""
    with tempfile.TemporaryDirectory(prefix="hotline-grid-") as tmp:
        results = Path(tmp) / "cell.json"
        command = [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--db",
            db,
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--modes",
            "capacity",
            "--micro",
            "off",
            "--only-used-callbacks",
            "--duration",
            str(args.duration),
            "--callers",
            str(args.callers),
            "--results",
            str(results),
        ]
        if args.pg_url:
            command += ["--pg-url", args.pg_url]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        if not results.exists():
            return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
        data = json.loads(results.read_text())
    run = data["databases"].get(db)
    if run is None or "capacity" not in run:
        return {"error": data.get("postgres_skipped", "no result")}
    load = run["capacity"]
    memory = load.get("memory", {}).get("workers_vmhwm_mib", {})
    return {
        "webhooks_per_second": load.get("webhooks_per_second"),
        "calls_per_second": load.get("completed_calls_per_second"),
        "ratio": run.get("baseline", {}).get("ratio"),
        "p50_ms": load.get("all_webhooks", {}).get("p50_ms"),
        "p99_ms": load.get("all_webhooks", {}).get("p99_ms"),
        "errors": load.get("errors"),
        "worker_vmhwm_mib": max(memory.values()) if memory else None,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgres")
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--workers", default="2,3", help="comma-separated")
    parser.add_argument("--threads", default="2,4,8", help="comma-separated")
    parser.add_argument("--duration", type=float, default=8, help="seconds per cell")
    parser.add_argument("--callers", type=int, default=16, help="closed-loop callers")
    parser.add_argument("--json", type=Path, help="also write the grid here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    grid: list[dict] = []
    print(
        f"{'db':<9}{'workers':>8}{'threads':>8}{'webhooks/s':>12}{'calls/s':>9}{'ratio':>7}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'MiB':>6}",
        flush=True,
    )
    for db in args.db.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            for threads in (int(t) for t in args.threads.split(",")):
                row = {"db": db, "workers": workers, "threads": threads}
                row.update(cell(db, workers, threads, args))
                grid.append(row)
                if "error" in row:
                    print(f"{db:<9}{workers:>8}{threads:>8}  failed: {row['error']}", flush=True)
                    continue
                print(
                    f"{db:<9}{workers:>8}{threads:>8}{row['webhooks_per_second']:>12}"
                    f"{row['calls_per_second']:>9}{row['ratio']!s:>7}{row['p50_ms']!s:>8}"
                    f"{row['p99_ms']!s:>8}{row['errors']!s:>7}{row['worker_vmhwm_mib']!s:>6}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(grid, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
