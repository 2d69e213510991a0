#!/usr/bin/env python3
"""The hotline benchmark: simulated call load against the real server, a bare Flask baseline,
and micro-benchmarks of what grows. See bench/README.md.

    python3 dev.py bench                 full run (SQLite and PostgreSQL), a few minutes
    python3 dev.py bench --quick         a few seconds; exits non-zero on any error (CI)
    python3 dev.py bench --help          every option

Only 127.0.0.1 is ever contacted. Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import micro  # noqa: E402
from bench.httpclient import HttpClient  # noqa: E402
from bench.loadgen import (  # noqa: E402
    OperatorAccount,
    Options,
    Simulation,
    baseline_worker,
)
from bench.stats import (  # noqa: E402
    CpuMeter,
    Recorder,
    children_of,
    pids_named,
    status_kib,
)
from bench.stub import TwilioStub  # noqa: E402

BIN = Path(sys.executable).parent
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-" + "0" * 16
LINE_NUMBER = "+861012345678"
OPERATOR_PASSWORD = "bench-operator-pass"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = ROOT / "bench" / "results"
#: Targets from the issue (mission.md, "Numbers we hold ourselves to").
TARGET_RATE = 51.0
TARGET_P99_MS = 100.0
TARGET_RATIO = 0.3


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- databases


def postgres_reachable(url: str) -> str | None:
    """None when PostgreSQL answers at `url`, else why not."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


class Database:
    """A throwaway database: a SQLite file in a temp dir, or a PostgreSQL database dropped at
    the end."""

    def __init__(self, kind: str, workdir: Path, pg_admin_url: str) -> None:
        self.kind = kind
        self.pg_admin_url = pg_admin_url
        self.name = f"hotline_bench_{secrets.token_hex(5)}"
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / (self.name + '.sqlite3')}"
        else:
            import psycopg

            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = pg_admin_url.rsplit("/", 1)[0] + "/" + self.name

    @property
    def sqlalchemy_url(self) -> str:
        if self.url.startswith("postgresql://"):
            return "postgresql+psycopg://" + self.url[len("postgresql://") :]
        return self.url

    def recreate(self) -> None:
        """Start again from an empty database."""
        if self.kind == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.kind != "postgres":
            return
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def server_env(database_url: str, stub_url: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "HOTLINE_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-secret-" + "x" * 20,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_API_BASE_URL=stub_url,
        FALLBACK_SPOOL_DIR=str(workdir / "spool"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("PUBLIC_BASE_URL", None)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [str(BIN / "flask"), "--app", "hotline", "db", "upgrade"],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )


def schema_diff(database_url: str) -> list[str]:
    """What the migrated schema lacks compared with the models (alembic's comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    import hotline.models  # noqa: F401
    from hotline.db import Base

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return [str(d)[:200] for d in compare_metadata(context, Base.metadata)]
    finally:
        engine.dispose()


def prepare_schema(db: Database, env: dict[str, str]) -> list[str]:
    """`flask db upgrade`, as deployed. If the migrations are behind the models the server could
    not run on that schema: say so loudly and build the schema from the models instead."""
    migrate(env)
    diff = schema_diff(db.sqlalchemy_url)
    if diff:
        log(
            f"WARNING: the migrations are behind the models ({len(diff)} differences, e.g. "
            f"{diff[0]}); benchmarking on a schema created from the models instead"
        )
        db.recreate()
        from sqlalchemy import create_engine

        import hotline.models  # noqa: F401
        from hotline.db import Base

        engine = create_engine(db.sqlalchemy_url)
        Base.metadata.create_all(engine)
        engine.dispose()
    return diff


def seed(database_url: str, operators: int) -> list[OperatorAccount]:
    """One line open around the clock, and `operators` operators with phones (fast hashes)."""
    from datetime import time as dtime

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    import hotline.models  # noqa: F401
    from hotline.lines.models import Line
    from hotline.operators.models import Operator, Role

    engine = create_engine(database_url)
    # Benchmark accounts only: a cheap hash keeps 100 sign-ins from dominating the set-up.
    password_hash = generate_password_hash(OPERATOR_PASSWORD, method="pbkdf2:sha256:1000")
    accounts = [
        OperatorAccount(f"bench-op-{i:03d}", OPERATOR_PASSWORD, f"+86138{i:08d}")
        for i in range(operators)
    ]
    with Session(engine) as session:
        session.add(
            Line(
                key="main",
                name="长者服务热线",
                phone_number=LINE_NUMBER,
                script_key="main",
                is_open_every_day=True,
                opens_at=dtime(0, 0),
                closes_at=dtime(0, 0),
            )
        )
        for account in accounts:
            session.add(
                Operator(
                    username=account.username,
                    display_name=account.username,
                    role=Role.OPERATOR,
                    password_hash=password_hash,
                    phone_number=account.phone,
                )
            )
        session.commit()
    engine.dispose()
    return accounts


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn (gthread) serving `app` on 127.0.0.1; stopped with SIGTERM."""

    def __init__(
        self,
        app: str,
        *,
        workers: int,
        threads: int,
        env: dict[str, str],
        log_path: Path,
        profile_dir: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = dict(env)
        command = [
            str(BIN / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "--keep-alive",
            "30",
            "--timeout",
            "30",
            "--graceful-timeout",
            "10",
            "--log-level",
            "warning",
        ]
        if profile_dir is not None:
            command += ["-c", str(ROOT / "bench" / "gunicorn_conf.py")]
            env["BENCH_PROFILE_DIR"] = str(profile_dir)
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, path: str, seconds: float = 40) -> None:
        deadline = time.monotonic() + seconds
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited (see {self.log_path})")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"server not ready in {seconds} s (see {self.log_path})")

    def workers(self) -> list[int]:
        return children_of(self.proc.pid)

    def memory(self) -> dict:
        """Peak resident set (VmHWM) of each worker and of the master, in MiB."""
        workers = {str(pid): _mib(status_kib(pid)) for pid in self.workers()}
        return {"workers_vmhwm_mib": workers, "master_vmhwm_mib": _mib(status_kib(self.proc.pid))}

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self._log.close()


def _mib(kib: int | None) -> float | None:
    return None if kib is None else round(kib / 1024, 1)


# --------------------------------------------------------------------------- load runs


async def finish(tasks: list[asyncio.Task], *, timeout: float) -> None:
    """Wait for `tasks` at most `timeout` s; cancel the rest (their calls count as unfinished)."""
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_hotline_load(
    port: int,
    accounts: list[OperatorAccount],
    stub: TwilioStub,
    *,
    mode: str,
    args,
    server_pids,
    number_prefix: str,
    db_pids=None,
) -> tuple[dict, Recorder]:
    """One load mode against the hotline: `capacity` (closed loop) or `sustained` (open loop)."""
    client = HttpClient("127.0.0.1", port, timeout=15)
    recorder = Recorder()
    options = Options(
        polls=args.polls,
        poll_interval=args.poll_interval if mode == "sustained" else 0.0,
        talk_seconds=args.talk if mode == "sustained" else 0.0,
        console_interval=1.0,
        take_timeout=30.0,
        only_used_callbacks=args.only_used_callbacks,
    )
    operators = accounts[: args.callers + 4] if mode == "capacity" else accounts
    consoles = min(args.consoles, len(operators))
    sim = Simulation(
        client,
        auth_token=AUTH_TOKEN,
        account_sid=ACCOUNT_SID,
        line_number=LINE_NUMBER,
        operators=operators,
        recorder=recorder,
        options=options,
        consoles=consoles,
        number_prefix=number_prefix,
    )
    stub.on_call_created = sim.on_call_created
    stub.on_dequeue = sim.on_dequeue
    await sim.login_all()
    loop = asyncio.get_running_loop()
    meter = CpuMeter(server_pids)
    db_meter = CpuMeter(db_pids) if db_pids is not None else None
    window = args.duration if mode == "capacity" else args.sustain
    hard_stop = loop.time() + window + 60  # every task ends by then, whatever happens
    client.reset_concurrency()
    meter.start()
    if db_meter is not None:
        db_meter.start()
    started = loop.time()
    operator_tasks = [
        asyncio.create_task(sim.operator_loop(i, hard_stop)) for i in range(len(operators))
    ]
    console_tasks = [asyncio.create_task(sim.console_loop(i, hard_stop)) for i in range(consoles)]
    lateness = 0.0
    if mode == "capacity":
        deadline = started + window

        async def caller_loop() -> None:
            while loop.time() < deadline and recorder.started_calls < args.max_calls:
                await sim.call()

        callers = [asyncio.create_task(caller_loop()) for _ in range(args.callers)]
        await finish(callers, timeout=window + 45)
    else:
        total = min(int(args.rate * window), args.max_calls)
        calls = []
        for i in range(total):
            at = started + i / args.rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lateness = max(lateness, -delay)
            calls.append(asyncio.create_task(sim.call()))
        arrivals_done = loop.time()
        await finish(calls, timeout=45)
    elapsed = loop.time() - started
    cpu = meter.stop(elapsed)
    if db_meter is not None:
        cpu["postgres_cores"] = db_meter.stop(elapsed)["server_cores"]
    concurrency = client.mean_in_flight()
    max_in_flight = client.max_in_flight
    sim.stop()
    await asyncio.wait(operator_tasks + console_tasks, timeout=5)
    for task in operator_tasks + console_tasks:
        task.cancel()
    client.close()
    report = recorder.report()
    unfinished = recorder.started_calls - recorder.completed_calls - recorder.failed_calls
    result = {
        "mode": mode,
        "window_seconds": window,
        "elapsed_seconds": round(elapsed, 2),
        "calls_started": recorder.started_calls,
        "calls_completed": recorder.completed_calls,
        "calls_failed": recorder.failed_calls,
        "calls_unfinished": unfinished,
        "completed_calls_per_second": round(recorder.completed_calls / elapsed, 2),
        "webhooks_per_second": round(report["webhooks"] / elapsed, 1),
        "requests_per_second": round(report["requests"] / elapsed, 1),
        "webhooks_per_call": round(report["webhooks"] / max(1, recorder.completed_calls), 1),
        "mean_in_flight": round(concurrency, 1),
        "max_in_flight": max_in_flight,
        "connections_opened": client.opened,
        "operators": len(operators),
        "consoles": consoles,
        "cpu": cpu,
        **report,
    }
    result["errors"] += unfinished
    if unfinished:
        result["errors_by_kind"]["unfinished_call"] = unfinished
    if mode == "capacity":
        result["callers"] = args.callers
    else:
        result["target_rate"] = args.rate
        result["offered_rate"] = round(total / max(1e-9, arrivals_done - started), 2)
        result["max_arrival_lateness_ms"] = round(lateness * 1000, 1)
        p99 = report["all_webhooks"]["p99_ms"]
        result["p99_under_100ms"] = p99 is not None and p99 < TARGET_P99_MS
        result["meets_target"] = bool(
            result["p99_under_100ms"]
            and result["errors"] == 0
            and args.rate >= TARGET_RATE
            and result["offered_rate"] >= 0.98 * args.rate
        )
    return result, recorder


async def run_baseline_load(
    port: int, *, total: int, concurrency: int, seconds: float, server_pids
) -> dict:
    """The same number of signed POSTs at the same concurrency against the bare Flask app."""
    from twilio.request_validator import RequestValidator

    client = HttpClient("127.0.0.1", port, timeout=15)
    recorder = Recorder()
    validator = RequestValidator(AUTH_TOKEN)
    counter = itertools.count()
    loop = asyncio.get_running_loop()
    meter = CpuMeter(server_pids)
    meter.start()
    started = loop.time()
    deadline = started + seconds
    workers = [
        asyncio.create_task(
            baseline_worker(client, validator, recorder, counter, total, ACCOUNT_SID, deadline)
        )
        for _ in range(max(1, concurrency))
    ]
    await asyncio.wait(workers, timeout=seconds + 20)
    elapsed = loop.time() - started
    cpu = meter.stop(elapsed)
    client.close()
    report = recorder.report()
    return {
        "requests": report["requests"],
        "concurrency": concurrency,
        "elapsed_seconds": round(elapsed, 2),
        "requests_per_second": round(report["requests"] / elapsed, 1),
        "latency": report["all_webhooks"],
        "errors": report["errors"],
        "error_samples": report["error_samples"],
        "cpu": cpu,
    }


async def run_ladder(server, accounts, stub, args, kind: str) -> list[dict]:
    """Sustained load at rising rates (`--ladder`), `--ladder-seconds` each: the highest rate
    with webhook p99 under 100 ms and no errors is what the server carries."""
    rows = []
    for step, rate in enumerate(args.ladder):
        step_args = argparse.Namespace(
            **{**vars(args), "rate": rate, "sustain": args.ladder_seconds}
        )
        load, _ = await run_hotline_load(
            server.port,
            accounts,
            stub,
            mode="sustained",
            args=step_args,
            server_pids=server.workers,
            number_prefix=f"+86150{step:02d}{1 if kind == 'sqlite' else 2}",
            db_pids=(lambda: pids_named("postgres")) if kind == "postgres" else None,
        )
        row = {
            "rate": rate,
            "offered_rate": load["offered_rate"],
            "completed_calls_per_second": load["completed_calls_per_second"],
            "webhooks_per_second": load["webhooks_per_second"],
            "p50_ms": load["all_webhooks"]["p50_ms"],
            "p95_ms": load["all_webhooks"]["p95_ms"],
            "p99_ms": load["all_webhooks"]["p99_ms"],
            "errors": load["errors"],
            "server_cores": load["cpu"]["server_cores"],
            "loadgen_cores": load["cpu"]["loadgen_cores"],
            "machine_busy_pct": load["cpu"]["machine_busy_pct"],
        }
        row["met"] = bool(
            row["p99_ms"] is not None
            and row["p99_ms"] < TARGET_P99_MS
            and not row["errors"]
            and row["offered_rate"] >= 0.98 * rate
        )
        rows.append(row)
        log(
            f"  ladder {rate:>5} calls/s: {row['completed_calls_per_second']} completed/s, "
            f"{row['webhooks_per_second']} webhooks/s, p50 {row['p50_ms']} p99 {row['p99_ms']} ms, "
            f"errors {row['errors']}, server {row['server_cores']} cores, load generator "
            f"{row['loadgen_cores']}: {'ok' if row['met'] else 'over'}"
        )
        if not row["met"] and (row["errors"] or (row["p99_ms"] or 0) > 10 * TARGET_P99_MS):
            break  # far past what the server carries: the next rungs only add a backlog
    return rows


# --------------------------------------------------------------------------- one database


def spooled(workdir: Path) -> int:
    path = workdir / "spool" / "webhooks.jsonl"
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as fh:
        return sum(1 for _ in fh)


async def bench_database(
    kind: str, args, stub: TwilioStub, baseline_port: int, baseline_pids, workdir: Path
) -> dict:
    log(
        f"\n=== {kind}: migrate, seed, start gunicorn ({args.workers} workers x "
        f"{args.threads} threads, gthread)"
    )
    db = Database(kind, workdir, args.pg_url)
    result: dict = {"database": kind}
    server = None
    try:
        env = server_env(db.url, stub.url, workdir / kind)
        (workdir / kind).mkdir(exist_ok=True)
        diff = prepare_schema(db, env)
        if diff:
            result["schema_warning"] = diff
        operators = max(args.callers + 4, args.operators or 0)
        if args.operators is None:
            operators = max(operators, int(args.rate * 2) + 10)
        accounts = seed(db.sqlalchemy_url, operators)
        profile_dir = Path(args.profile) / kind if args.profile else None
        server = Server(
            "hotline:create_app()",
            workers=args.workers,
            threads=args.threads,
            env=env,
            log_path=workdir / f"{kind}-server.log",
            profile_dir=profile_dir,
        )
        server.wait_ready("/healthz")
        pids = server.workers
        for index, mode in enumerate(args.modes):
            log(f"--- {kind}: {mode} load")
            load, _recorder = await run_hotline_load(
                server.port,
                accounts,
                stub,
                mode=mode,
                args=args,
                server_pids=pids,
                number_prefix=f"+86{130 + index}{1 if kind == 'sqlite' else 2}",
                db_pids=(lambda: pids_named("postgres")) if kind == "postgres" else None,
            )
            load["memory"] = server.memory()
            result[mode] = load
            print_load(kind, load)
            if mode == "capacity":
                concurrency = max(1, round(load["mean_in_flight"]))
                base = await run_baseline_load(
                    baseline_port,
                    total=load["requests"],
                    concurrency=concurrency,
                    seconds=max(5.0, load["elapsed_seconds"] * 2),
                    server_pids=baseline_pids,
                )
                base["ratio"] = (
                    round(load["webhooks_per_second"] / base["requests_per_second"], 3)
                    if base["requests_per_second"]
                    else None
                )
                result["baseline"] = base
                print_baseline(base, load)
            if mode == "capacity" and args.ladder:
                result["ladder"] = await run_ladder(server, accounts, stub, args, kind)
                ok = [row["rate"] for row in result["ladder"] if row["met"]]
                result["carried_rate"] = max(ok) if ok else None
        result["spooled_webhooks"] = spooled(workdir / kind)
    finally:
        if server is not None:
            server.stop()
            if args.profile:
                print_profile(Path(args.profile) / kind)
        db.drop()
    return result


# --------------------------------------------------------------------------- output


def sustained_verdict(load: dict) -> str:
    if load["target_rate"] < TARGET_RATE:
        held = "held" if load["p99_under_100ms"] and not load["errors"] else "not held"
        return f"p99 < 100 ms with no errors {held} (at {load['target_rate']:g}/s, below the {TARGET_RATE:g}/s target)"
    return "target MET" if load["meets_target"] else "target MISSED"


def print_load(kind: str, load: dict) -> None:
    cpu = load["cpu"]
    log(
        f"{kind} {load['mode']}: {load['calls_completed']} calls completed "
        f"({load['calls_failed']} failed, {load['calls_unfinished']} unfinished) in "
        f"{load['elapsed_seconds']} s: {load['completed_calls_per_second']} calls/s, "
        f"{load['webhooks_per_second']} webhooks/s ({load['webhooks_per_call']} per call), "
        f"{load['requests_per_second']} requests/s; in flight mean {load['mean_in_flight']} "
        f"max {load['max_in_flight']}"
    )
    postgres = f", PostgreSQL {cpu['postgres_cores']} cores" if "postgres_cores" in cpu else ""
    log(
        f"  CPU: gunicorn workers {cpu['server_cores']} cores{postgres}, load generator "
        f"{cpu['loadgen_cores']} cores, machine busy {cpu['machine_busy_pct']} % of "
        f"{cpu['cores']} cores"
    )
    if load["mode"] == "sustained":
        verdict = sustained_verdict(load)
        log(
            f"  sustained {load['target_rate']} new calls/s (offered {load['offered_rate']}/s, "
            f"max lateness {load['max_arrival_lateness_ms']} ms): webhook p99 "
            f"{load['all_webhooks']['p99_ms']} ms, errors {load['errors']}: {verdict}"
        )
    log(f"  {'kind':34} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = list(load["by_kind"].items()) + [("ALL WEBHOOKS", load["all_webhooks"])]
    for name, row in rows:
        log(
            f"  {name:34} {row['count']:>7} {_f(row['p50_ms'])} {_f(row['p95_ms'])} "
            f"{_f(row['p99_ms'])} {_f(row['max_ms'])}"
        )
    log(f"  errors: {load['errors']} {load['errors_by_kind'] or ''}")
    if load.get("observations"):
        log(f"  observations (not errors): {load['observations']}")
    for sample in load["error_samples"][:5]:
        log(f"    {sample}")
    memory = load["memory"]
    log(f"  peak memory (VmHWM) per worker, MiB: {memory['workers_vmhwm_mib']}")


def print_baseline(base: dict, load: dict) -> None:
    lat = base["latency"]
    log(
        f"  bare Flask baseline: {base['requests']} requests at concurrency "
        f"{base['concurrency']}: {base['requests_per_second']} requests/s, p50 "
        f"{lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, errors {base['errors']}; load generator "
        f"{base['cpu']['loadgen_cores']} cores"
    )
    verdict = "MET" if base["ratio"] is not None and base["ratio"] >= TARGET_RATIO else "MISSED"
    log(
        f"  ratio hotline webhooks/s / baseline requests/s = {load['webhooks_per_second']} / "
        f"{base['requests_per_second']} = {base['ratio']} (target >= {TARGET_RATIO}: {verdict})"
    )


def print_profile(directory: Path) -> None:
    import pstats

    files = sorted(directory.glob("worker-*.prof"))
    if not files:
        log(f"  (no profile written in {directory})")
        return
    stats = pstats.Stats(str(files[0]))
    for extra in files[1:]:
        stats.add(str(extra))
    log(f"  cProfile of the workers ({directory}): top 25 by cumulative time")
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(25)


def _f(value) -> str:
    return f"{value:>8.1f}" if isinstance(value, int | float) else f"{'-':>8}"


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as fh:
            mem_kib = int(fh.readline().split()[1])
    except OSError:
        mem_kib = 0
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dev.py bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds in all, small row counts (CI); non-zero on errors",
    )
    parser.add_argument(
        "--db",
        default="sqlite,postgres",
        help="databases, comma-separated: sqlite, postgres (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("HOTLINE_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="PostgreSQL server (a throwaway database is created and dropped)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument(
        "--modes",
        default="capacity,sustained",
        help="load modes: capacity (closed loop), sustained (open loop)",
    )
    parser.add_argument(
        "--callers",
        type=int,
        default=16,
        help="capacity: concurrent simulated callers (default 16)",
    )
    parser.add_argument(
        "--duration", type=float, default=20, help="capacity: seconds of load (default 20)"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=TARGET_RATE,
        help=f"sustained: new calls per second (default {TARGET_RATE})",
    )
    parser.add_argument(
        "--sustain", type=float, default=30, help="sustained: seconds of arrivals (default 30)"
    )
    parser.add_argument(
        "--ladder",
        default="",
        help="sustained rates to climb after the capacity run, e.g. 5,10,15,20 "
        "(the highest with p99 < 100 ms and no errors is reported)",
    )
    parser.add_argument(
        "--ladder-seconds",
        type=float,
        default=15,
        help="seconds of arrivals per ladder rate (default 15)",
    )
    parser.add_argument("--polls", type=int, default=3, help="waitUrl polls per caller")
    parser.add_argument(
        "--only-used-callbacks",
        action="store_true",
        help="what-if: leave out the status callbacks the app asks for but ignores "
        "(operator leg initiated/ringing/in-progress; conference start/leave/end)",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=0.5,
        help="sustained: seconds between waitUrl polls (default 0.5)",
    )
    parser.add_argument(
        "--talk", type=float, default=1.0, help="sustained: seconds an operator talks (default 1)"
    )
    parser.add_argument(
        "--operators",
        type=int,
        default=None,
        help="signed-in operators (default: callers + 4, or 2 x rate + 10)",
    )
    parser.add_argument(
        "--consoles",
        type=int,
        default=10,
        help="operators' consoles polling GET /console/api/queue every second",
    )
    parser.add_argument("--max-calls", type=int, default=100_000, help="cap on calls per mode")
    parser.add_argument(
        "--micro",
        choices=("on", "off", "only"),
        default="on",
        help="micro-benchmarks of the growing data paths",
    )
    parser.add_argument("--waiting", type=int, default=10_000, help="micro: callers waiting")
    parser.add_argument("--pending", type=int, default=100_000, help="micro: pending callbacks")
    parser.add_argument("--history", type=int, default=1_000_000, help="micro: calls in history")
    parser.add_argument(
        "--history-days",
        type=int,
        default=30,
        help="micro: days the history spans (the summary covers the busiest)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="micro: runs per operation (median)")
    parser.add_argument(
        "--profile",
        default=None,
        metavar="DIR",
        help="cProfile every gunicorn worker into DIR and print the top functions",
    )
    parser.add_argument(
        "--results",
        default=None,
        help="where to write the JSON results (default bench/results/latest.json, or quick.json "
        "with --quick; bench/results/ is not in git)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.callers = min(args.callers, 4)
        args.duration = min(args.duration, 2)
        args.rate = min(args.rate, 8)
        args.sustain = min(args.sustain, 2)
        args.polls = min(args.polls, 2)
        args.poll_interval = min(args.poll_interval, 0.1)
        args.talk = min(args.talk, 0.1)
        args.consoles = min(args.consoles, 2)
        args.operators = args.operators or 12
        args.waiting = min(args.waiting, 500)
        args.pending = min(args.pending, 2_000)
        args.history = min(args.history, 10_000)
        args.history_days = min(args.history_days, 5)
        args.repeat = min(args.repeat, 3)
    if args.results is None:
        # A quick run (CI) must not replace the latest full figures.
        args.results = str(RESULTS / ("quick.json" if args.quick else "latest.json"))
    args.ladder = [float(r) for r in args.ladder.split(",") if r.strip()]
    if args.quick:
        args.ladder = args.ladder[:1]
        args.ladder_seconds = min(args.ladder_seconds, 2)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for mode in args.modes:
        if mode not in ("capacity", "sustained"):
            parser.error(f"unknown mode {mode!r}")
    args.dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    for kind in args.dbs:
        if kind not in ("sqlite", "postgres"):
            parser.error(f"unknown database {kind!r}")
    return args


async def main_async(args, workdir: Path) -> dict:
    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python3 dev.py bench " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("results",)},
        "databases": {},
        "micro": {},
    }
    dbs = list(args.dbs)
    if "postgres" in dbs:
        problem = postgres_reachable(args.pg_url)
        if problem:
            log(
                f"PostgreSQL is not reachable at {args.pg_url} ({problem}): SQLite only. "
                "Start one or pass --pg-url to include it."
            )
            dbs.remove("postgres")
            results["postgres_skipped"] = problem
    if args.micro != "only" and args.modes:
        stub = TwilioStub().start()
        baseline = Server(
            "bench.baseline:create_app()",
            workers=args.workers,
            threads=args.threads,
            env=dict(os.environ),
            log_path=workdir / "baseline-server.log",
        )
        try:
            baseline.wait_ready("/twilio/voice/input")
            for kind in dbs:
                results["databases"][kind] = await bench_database(
                    kind, args, stub, baseline.port, baseline.workers, workdir
                )
            results["baseline_memory"] = baseline.memory()
        finally:
            baseline.stop()
            stub.stop()
        results["stub"] = {"requests": dict(stub.counts), "errors": stub.errors[:10]}
    if args.micro != "off":
        for kind in dbs:
            log(f"\n=== {kind}: micro-benchmarks")
            db = Database(kind, workdir, args.pg_url)
            try:
                results["micro"][kind] = micro.run_all(
                    db.sqlalchemy_url,
                    kind=kind,
                    waiting=args.waiting,
                    pending=args.pending,
                    history=args.history,
                    history_days=args.history_days,
                    repeat=args.repeat,
                    echo=log,
                    show_plans=not args.quick,
                )
            finally:
                db.drop()
    return results


def count_errors(results: dict) -> list[str]:
    problems = []
    for kind, data in results["databases"].items():
        for mode in ("capacity", "sustained"):
            if mode in data and data[mode]["errors"]:
                problems.append(f"{kind} {mode}: {data[mode]['errors']} errors")
        for row in data.get("ladder", []):
            if row["errors"]:
                problems.append(f"{kind} ladder {row['rate']:g}/s: {row['errors']} errors")
        if data.get("baseline", {}).get("errors"):
            problems.append(f"{kind} baseline: {data['baseline']['errors']} errors")
        if data.get("spooled_webhooks"):
            problems.append(f"{kind}: {data['spooled_webhooks']} webhooks spooled by the fallback")
    if results.get("stub", {}).get("errors"):
        problems.append(f"REST stub: {results['stub']['errors']}")
    for kind, data in results["micro"].items():
        for name, row in data.items():
            if isinstance(row, dict) and row.get("error"):
                problems.append(f"micro {kind} {name}: {row['error']}")
    return problems


def print_summary(results: dict) -> None:
    log("\n=== summary")
    m = results["machine"]
    log(
        f"machine: {m['nproc']} cores, {m['cpu_model']}, {m['ram_gib']} GiB RAM; "
        f"load average at start {tuple(round(x, 2) for x in m['load_average_at_start'])}"
    )
    for kind, data in results["databases"].items():
        cap, sus, base = data.get("capacity"), data.get("sustained"), data.get("baseline")
        if cap:
            log(
                f"{kind:8} capacity: {cap['completed_calls_per_second']} calls/s, "
                f"{cap['webhooks_per_second']} webhooks/s, p99 {cap['all_webhooks']['p99_ms']} ms, "
                f"errors {cap['errors']}"
                + (
                    f"; baseline {base['requests_per_second']} req/s, ratio {base['ratio']}"
                    if base
                    else ""
                )
            )
        if data.get("ladder"):
            rungs = ", ".join(
                f"{r['rate']:g}/s p99 {r['p99_ms']} ms{'' if r['met'] else ' (over)'}"
                for r in data["ladder"]
            )
            log(f"{kind:8} ladder: {rungs}; carried: {data.get('carried_rate')} calls/s")
        if sus:
            log(
                f"{kind:8} sustained {sus['target_rate']}/s: {sus['completed_calls_per_second']} "
                f"calls/s completed, p99 {sus['all_webhooks']['p99_ms']} ms, errors "
                f"{sus['errors']}: {sustained_verdict(sus)}"
            )
    for kind, data in results["micro"].items():
        for name, row in data.items():
            if isinstance(row, dict) and "median_ms" in row:
                if row["target_ms"] is None:
                    verdict = "no target"
                else:
                    verdict = f"target {row['target_ms']} ms: " + (
                        "ok" if row["within_target"] else "OVER"
                    )
                log(
                    f"{kind:8} micro {name:28} {row['median_ms']:>9.2f} ms ({verdict}; "
                    f"no full scan of a big table: {row.get('uses_index')})"
                )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    try:
        results = asyncio.run(main_async(args, workdir))
    finally:
        keep = os.environ.get("BENCH_KEEP_WORKDIR")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    print_summary(results)
    problems = count_errors(results)
    results["problems"] = problems
    path = Path(args.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    log(f"results written to {path} ({results['total_seconds']} s in all)")
    if problems:
        log("ERRORS: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
