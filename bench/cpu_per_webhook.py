#!/usr/bin/env python3
"""CPU per webhook, in-process: where the hotline's time goes, without a server or a socket.

    python3 dev.py bench --help                         (the full benchmark)
    .venv/bin/python bench/cpu_per_webhook.py            simple and full mix on SQLite
    .venv/bin/python bench/cpu_per_webhook.py --db postgres --calls 20 --top 30

The app runs in this process (`hotline.create_app`, the same configuration as the benchmark's
server) and every request is handed straight to its WSGI callable: no gunicorn, no HTTP parsing,
no load generator in the measured time. The twilio SDK's REST calls go to the benchmark's stub
(`bench/stub.py`) through an in-process transport, its own CPU subtracted. Only the CPU of this
thread inside the app is counted (`time.thread_time`), so other work on a shared machine does
not change the figure much (caches and frequency do).

Two mixes:
- simple: incoming call + final status callback (`completed`), per call;
- full: the benchmark's simulated call (`bench/loadgen.py`: menu, queue, wait rounds, take-next
  on the console API, operator leg, conference events, status callbacks), the realistic mix
  (only the status events the app asks Twilio for) unless `--all-callbacks`.

Each mix is warmed up first (a few calls, not counted). It prints CPU ms per webhook (and per
console request), SQL statements and COMMITs per webhook, the top functions of a cProfile over
the measured requests, and the CPU share per package (where the time goes).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from twilio.http import HttpClient as TwilioHttpClient  # noqa: E402
from twilio.http.response import Response as TwilioResponse  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.httpclient import Response  # noqa: E402
from bench.loadgen import Options, Simulation  # noqa: E402
from bench.run import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    DEFAULT_PG_URL,
    LINE_NUMBER,
    Database,
    postgres_reachable,
    seed,
)
from bench.stats import Recorder  # noqa: E402
from bench.stub import TwilioStub  # noqa: E402

BASE_URL = "http://127.0.0.1:8000"


class StubTransport(TwilioHttpClient):
    """The twilio SDK's transport answered by the stub in this thread (its CPU is set aside)."""

    def __init__(self, stub: TwilioStub) -> None:
        import logging

        super().__init__(logging.getLogger("bench.stub"), False)
        self.stub = stub
        self.cpu = 0.0

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, **_kw):
        started = time.thread_time()
        body = urlencode(data or {}, doseq=True) if isinstance(data, dict) else (data or "")
        status, payload = self.stub.handle(method, uri, body)
        text = "" if payload is None else json.dumps(payload)
        self.cpu += time.thread_time() - started
        return TwilioResponse(status, text)


def _kind(method: str, path: str) -> str:
    """A request's kind for the report: the path without its query (and ids)."""
    route = urlsplit(path).path
    return f"{method} {route}"


class InProcessClient:
    """The load generator's HttpClient interface, answered by the app's WSGI callable."""

    def __init__(self, app, transport: StubTransport) -> None:
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        self.app = app
        self.transport = transport
        self.base_url = BASE_URL
        self._builder = EnvironBuilder
        self._run = run_wsgi_app
        self.profile: cProfile.Profile | None = None
        self.measuring = False
        self.cpu: Counter[str] = Counter()
        self.count: Counter[str] = Counter()
        self.statements = 0
        self.commits = 0
        self._statements = 0
        self._commits = 0
        self._sql: list[str] = []
        #: The statements of the last measured request of each kind (--statements).
        self.sql_by_kind: dict[str, list[str]] = {}

    def count_statements(self, engine) -> None:
        from sqlalchemy import event

        def _statement(_conn, _cursor, statement, *_args) -> None:
            self._statements += 1
            self._sql.append(" ".join(statement.split())[:150])

        def _commit(*_args) -> None:
            self._commits += 1

        event.listen(engine, "before_cursor_execute", _statement)
        event.listen(engine, "commit", _commit)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Response:
        parts = urlsplit(path)
        environ = self._builder(
            path=parts.path,
            query_string=parts.query,
            base_url=BASE_URL,
            method=method,
            data=body,
            content_type=content_type,
            headers=headers or {},
        ).get_environ()
        kind = _kind(method, path)
        stub_before = self.transport.cpu
        statements, commits = self._statements, self._commits
        self._sql = []
        started = time.thread_time()
        if self.measuring and self.profile is not None:
            self.profile.enable()
        try:
            app_iter, status, response_headers = self._run(self.app, environ, buffered=True)
            data = b"".join(app_iter)
        finally:
            if self.measuring and self.profile is not None:
                self.profile.disable()
        spent = time.thread_time() - started - (self.transport.cpu - stub_before)
        if self.measuring:
            self.cpu[kind] += spent
            self.count[kind] += 1
            self.statements += self._statements - statements
            self.commits += self._commits - commits
            self.sql_by_kind[kind] = self._sql + [f"({self._commits - commits} commits)"]
        header_map: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in response_headers.items():
            if name.lower() == "set-cookie":
                cookies.append(value)
            header_map[name.lower()] = value
        await asyncio.sleep(0)  # let the other simulated legs run, as a server would
        return Response(int(status.split()[0]), header_map, data, cookies, seconds=spent)

    def close(self) -> None:
        return None

    def reset_concurrency(self) -> None:
        return None

    def mean_in_flight(self) -> float:
        return 0.0


# --------------------------------------------------------------------------- the mixes


async def simple_call(sim: Simulation, n: int) -> None:
    """Incoming call and its final status callback."""
    sid = sim.new_call_sid()
    caller = f"+86139{n % 100_000_000:08d}"
    params = {
        "CallSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": caller,
        "To": LINE_NUMBER,
        "Caller": caller,
        "Called": LINE_NUMBER,
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
        "Direction": "inbound",
        "FromCountry": "CN",
        "ToCountry": "CN",
    }
    await sim.webhook("voice.incoming", "/twilio/voice", params)
    await sim.webhook(
        "voice.status",
        "/twilio/voice/status",
        {
            **params,
            "CallStatus": "completed",
            "SequenceNumber": "1",
            "CallbackSource": "call-progress-events",
            "CallDuration": "12",
            "Duration": "1",
        },
        status=204,
    )


async def full_calls(sim: Simulation, calls: int, concurrency: int) -> list[bool]:
    """`calls` simulated calls, `concurrency` at a time, with as many operators."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 600
    operators = [
        asyncio.create_task(sim.operator_loop(i, deadline)) for i in range(len(sim.accounts))
    ]
    results: list[bool] = []
    numbers = iter(range(calls))

    async def caller() -> None:
        for n in numbers:
            results.append(await sim.call(n))

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    sim.stop()
    await asyncio.gather(*operators)
    sim._stopping = False  # noqa: SLF001 - the next round reuses the simulation
    return results


async def run_mix(
    mix: str,
    client: InProcessClient,
    sim: Simulation,
    calls: int,
    warm: int,
    concurrency: int,
    profiled: bool = True,
) -> dict:
    async def go(count: int, offset: int) -> list[bool]:
        if mix == "simple":
            for n in range(offset, offset + count):
                await simple_call(sim, n)
            return [True] * count
        return await full_calls(sim, count, concurrency)

    sim.recording = False
    await go(warm, 10_000_000)
    # The profiled pass first (not counted: cProfile slows every call), then the measured one.
    profile = cProfile.Profile()
    client.profile = profile
    client.measuring = True
    await go(calls if profiled else 0, 20_000_000)
    client.profile = None
    profiled_requests = sum(client.count.values())
    client.cpu.clear()
    client.count.clear()
    client.statements = client.commits = 0
    sim.recording = True
    results = await go(calls, 0)
    client.measuring = False
    webhook_kinds = [k for k in client.count if " /twilio/" in k]
    webhooks = sum(client.count[k] for k in webhook_kinds)
    webhook_cpu = sum(client.cpu[k] for k in webhook_kinds)
    other = sum(client.count.values()) - webhooks
    other_cpu = sum(client.cpu.values()) - webhook_cpu
    return {
        "mix": mix,
        "calls": calls,
        "failed_calls": results.count(False),
        "errors": dict(sim.recorder.errors),
        "error_samples": sim.recorder.samples[:3],
        "webhooks": webhooks,
        "cpu_ms_per_webhook": round(1000 * webhook_cpu / max(1, webhooks), 3),
        "console_requests": other,
        "cpu_ms_per_console_request": round(1000 * other_cpu / other, 3) if other else None,
        "statements_per_webhook": round(client.statements / max(1, sum(client.count.values())), 2),
        "commits_per_request": round(client.commits / max(1, sum(client.count.values())), 2),
        "by_kind": {
            k: {
                "count": client.count[k],
                "cpu_ms": round(1000 * client.cpu[k] / client.count[k], 3),
            }
            for k in sorted(client.count, key=lambda k: -client.cpu[k])
        },
        "profile": profile if profiled else None,
        # Python function calls per request (cProfile's count): steady on a busy machine,
        # where CPU time is not.
        "function_calls_per_request": (
            round(pstats.Stats(profile).total_calls / profiled_requests)
            if profiled and profiled_requests
            else None
        ),
        "sql_by_kind": dict(client.sql_by_kind),
    }


async def baseline_cpu(requests: int) -> dict:
    """The bare Flask app of bench/baseline.py, sent the same signed forms: the floor."""
    from bench.baseline import create_app as create_baseline
    from bench.loadgen import baseline_params

    client = InProcessClient(create_baseline(), StubTransport(TwilioStub()))
    validator = RequestValidator(AUTH_TOKEN)
    path = "/twilio/voice/input?node=main_menu&lang=zh-CN&turn=1"

    async def one(n: int) -> None:
        params = baseline_params(n, ACCOUNT_SID)
        await client.request(
            "POST",
            path,
            body=urlencode(params).encode(),
            headers={"X-Twilio-Signature": validator.compute_signature(BASE_URL + path, params)},
            content_type="application/x-www-form-urlencoded",
        )

    for n in range(20):
        await one(n)
    client.measuring = True
    for n in range(requests):
        await one(n)
    spent = sum(client.cpu.values())
    return {
        "mix": "baseline",
        "calls": 0,
        "failed_calls": 0,
        "errors": {},
        "error_samples": [],
        "webhooks": requests,
        "cpu_ms_per_webhook": round(1000 * spent / requests, 3),
        "console_requests": 0,
        "cpu_ms_per_console_request": None,
        "statements_per_webhook": 0,
        "commits_per_request": 0,
        "by_kind": {},
        "profile": None,
        "function_calls_per_request": None,
        "sql_by_kind": {},
    }


# --------------------------------------------------------------------------- report

PACKAGES = (
    "sqlalchemy",
    "psycopg",
    "flask_login",
    "flask_wtf",
    "flask_sqlalchemy",
    "flask",
    "werkzeug",
    "jinja2",
    "twilio",
    "requests",
    "itsdangerous",
    "hotline",
    "holidays",
    "dateutil",
)


def _package(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C: sqlite3, json, ...)"
    for name in PACKAGES:
        if f"/{name}/" in filename:
            return name
    if "site-packages" in filename:
        return "other libraries"
    return "stdlib"


def by_package(profile: cProfile.Profile) -> list[tuple[str, float]]:
    stats = pstats.Stats(profile)
    totals: defaultdict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        totals[_package(filename)] += tottime
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])


def print_report(result: dict, top: int, sort: str, show_sql: bool = False) -> None:
    print(f"\n=== {result['mix']} mix: {result['calls']} calls, {result['webhooks']} webhooks")
    if result["failed_calls"] or result["errors"]:
        print(f"  FAILED calls: {result['failed_calls']} errors: {result['errors']}")
        for sample in result["error_samples"]:
            print(f"    {sample[:300]}")
    print(f"  CPU per webhook: {result['cpu_ms_per_webhook']:.3f} ms")
    if result["console_requests"]:
        print(
            f"  CPU per console request: {result['cpu_ms_per_console_request']:.3f} ms "
            f"({result['console_requests']} requests)"
        )
    if result["function_calls_per_request"]:
        print(f"  Python function calls per request: {result['function_calls_per_request']}")
    print(
        f"  statements per request: {result['statements_per_webhook']}, "
        f"commits per request: {result['commits_per_request']}"
    )
    print("  per kind (count, CPU ms each):")
    for kind, row in result["by_kind"].items():
        print(f"    {row['count']:>6}  {row['cpu_ms']:>7.3f}  {kind}")
    if show_sql:
        for kind, statements in result["sql_by_kind"].items():
            print(f"  statements of one {kind}:")
            for statement in statements:
                print(f"      {statement}")
    if result["profile"] is None:
        return
    print("  CPU share by package (own time, profiled pass):")
    for name, share in by_package(result["profile"])[:12]:
        print(f"    {100 * share:5.1f} %  {name}")
    out = io.StringIO()
    stats = pstats.Stats(result["profile"], stream=out)
    stats.sort_stats(sort).print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(f"  top {top} functions by {sort} (cProfile adds overhead; compare shares):")
    print(text[start if start >= 0 else 0 :].rstrip())


# --------------------------------------------------------------------------- main


def make_app(db: Database, workdir: Path, stub: TwilioStub):
    import hotline.models  # noqa: F401
    from hotline import create_app
    from hotline.db import Base

    transport = StubTransport(stub)
    app = create_app(
        {
            "DATABASE_URL": db.sqlalchemy_url,
            "SECRET_KEY": "bench-secret-" + "x" * 20,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
            "TWILIO_HTTP_CLIENT": transport,
            "LOCAL_TELEPHONY": False,
            "HOTLINE_DEV_MODE": False,
            "PUBLIC_BASE_URL": None,
            "FALLBACK_SPOOL_DIR": str(workdir / "spool"),
        }
    )
    from sqlalchemy import create_engine

    engine = create_engine(db.sqlalchemy_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return app, transport


async def main_async(args: argparse.Namespace, workdir: Path, kind: str) -> list[dict]:
    db = Database(kind, workdir, args.pg_url)
    try:
        stub = TwilioStub()
        app, transport = make_app(db, workdir, stub)
        accounts = seed(db.url if kind == "sqlite" else db.sqlalchemy_url, args.concurrency + 2)
        client = InProcessClient(app, transport)
        with app.app_context():
            from hotline.db import db as flask_db

            client.count_statements(flask_db.engine)
        results = []
        for mix in args.mix.split(","):
            if mix == "baseline":
                results.append({**await baseline_cpu(args.calls * 2), "db": kind})
                continue
            client.cpu.clear()
            client.count.clear()
            client.statements = client.commits = 0
            sim = Simulation(
                client,  # type: ignore[arg-type]
                auth_token=AUTH_TOKEN,
                account_sid=ACCOUNT_SID,
                line_number=LINE_NUMBER,
                operators=accounts,
                recorder=Recorder(),
                options=Options(
                    polls=args.polls,
                    console_interval=3600,
                    take_timeout=30,
                    only_used_callbacks=not args.all_callbacks,
                ),
                number_prefix=f"+8613{len(results)}",
            )
            stub.on_call_created = sim.on_call_created
            stub.on_dequeue = sim.on_dequeue
            if mix == "full":
                await sim.login_all()
            else:
                sim.loop = asyncio.get_running_loop()
            result = await run_mix(
                mix, client, sim, args.calls, args.warm, args.concurrency, not args.no_profile
            )
            result["db"] = kind
            results.append(result)
        with app.app_context():
            from hotline.db import db as flask_db

            flask_db.engine.dispose()
        return results
    finally:
        db.drop()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", help="sqlite, postgres or both (comma)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument(
        "--mix",
        default="baseline,simple,full",
        help="simple, full, baseline (bare Flask; comma-separated)",
    )
    parser.add_argument("--calls", type=int, default=60, help="measured calls per mix")
    parser.add_argument("--warm", type=int, default=5, help="warm-up calls per mix")
    parser.add_argument("--concurrency", type=int, default=4, help="full mix: calls at once")
    parser.add_argument("--polls", type=int, default=3, help="full mix: wait rounds per caller")
    parser.add_argument(
        "--all-callbacks",
        action="store_true",
        help="full mix: also the status events the app no longer asks Twilio for",
    )
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL of one request of each kind"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled pass")
    parser.add_argument("--top", type=int, default=25, help="profile lines to print")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--dump", type=Path, help="write each mix's profile to DUMP.<db>.<mix>.prof (pstats)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import logging

    # The app logs each call at INFO; a profile run wants only the report.
    logging.basicConfig(level=logging.WARNING)
    kinds = [k.strip() for k in args.db.split(",") if k.strip()]
    everything: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="hotline-cpu-") as tmp:
        for kind in kinds:
            if kind == "postgres":
                problem = postgres_reachable(args.pg_url)
                if problem:
                    print(f"PostgreSQL not reachable ({problem}); skipped")
                    continue
            for result in asyncio.run(main_async(args, Path(tmp), kind)):
                print(f"\n##### {kind}", end="")
                print_report(result, args.top, args.sort, args.statements)
                if args.dump and result["profile"] is not None:
                    result["profile"].dump_stats(f"{args.dump}.{kind}.{result['mix']}.prof")
                everything.append(result)
    print("\nsummary (CPU ms per webhook, in-process):")
    for result in everything:
        print(
            f"  {result['db']:<8} {result['mix']:<6} {result['cpu_ms_per_webhook']:.3f} ms, "
            f"{result['statements_per_webhook']} statements and "
            f"{result['commits_per_request']} commits per request"
            + (
                f", {result['function_calls_per_request']} function calls per request"
                if result["function_calls_per_request"]
                else ""
            )
        )
    if args.json:
        rows = [
            {k: v for k, v in r.items() if k not in ("profile", "sql_by_kind")} for r in everything
        ]
        args.json.write_text(json.dumps(rows, indent=2))
    failed = any(r["failed_calls"] or r["errors"] for r in everything)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
