"""Micro-benchmarks of the paths that grow: the queue, the callback sweep, the daily summary.

On one database (SQLite or PostgreSQL), created with the models' schema:

- a history of `history` calls (each with its finished queue entry) over `history_days` days,
- `waiting` callers waiting in the queue now,
- `pending` callbacks (about half of them due),

bulk-inserted fast (sqlite3 executemany / PostgreSQL COPY). Then each operation runs `repeat`
times (median reported) through the real service functions, and every SQL statement it ran is
explained (EXPLAIN QUERY PLAN / EXPLAIN): a sequential scan of a big table is reported.

Targets (issue 8): next caller and positions 10 ms, one sweep 100 ms, the daily summary 1 s.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

from sqlalchemy import event, select
from twilio.http import HttpClient as TwilioHttpClient
from twilio.http.response import Response as TwilioResponse

#: Tables whose size grows with traffic: a full scan of one of these is a finding.
BIG_TABLES = (
    "calls",
    "queue_entries",
    "callback_requests",
    "callback_attempts",
    "webhook_events",
    "cases",
    "callers",
)
SCENARIOS = (
    "medical",
    "travel",
    "affairs",
    "consumption",
    "smart_devices",
    "culture",
    "emergency",
    None,
)
ACCOUNT_SID = "AC" + "c" * 32


class InstantTwilio(TwilioHttpClient):
    """The twilio SDK's transport answering at once (no network): 201 with a CallSid."""

    def __init__(self) -> None:
        import logging

        super().__init__(logging.getLogger("bench.twilio"), False)
        self.count = 0

    def request(
        self,
        method,
        uri,
        params=None,
        data=None,
        headers=None,
        auth=None,
        timeout=None,
        allow_redirects=False,
    ):
        self.count += 1
        body = {"sid": "CA" + f"{self.count:032x}", "status": "queued"}
        return TwilioResponse(201 if method == "POST" else 200, json.dumps(body))


# --------------------------------------------------------------------------- bulk insert


def _sqlite_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def bulk_insert(engine, table, rows: Iterable[dict], *, chunk: int = 50_000) -> int:
    """Insert dict rows fast: executemany on SQLite, COPY on PostgreSQL. Columns missing from a
    row get the model's scalar default (or NULL). Returns the number of rows."""
    columns = [c for c in table.columns]
    names = [c.name for c in columns]
    defaults = {}
    for column in columns:
        default = column.default
        if default is not None and default.is_scalar:
            defaults[column.name] = default.arg
    count = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"

            def tuples() -> Iterator[tuple]:
                nonlocal count
                for row in rows:
                    count += 1
                    yield tuple(_sqlite_value(row.get(n, defaults.get(n))) for n in names)

            cursor.executemany(sql, tuples())
        else:
            quoted = ", ".join(f'"{n}"' for n in names)
            # The app's engine gives up on statements after a few seconds; a bulk load is not one.
            cursor.execute("SET LOCAL statement_timeout = 0")
            with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    count += 1
                    values = []
                    for n in names:
                        value = row.get(n, defaults.get(n))
                        values.append(
                            json.dumps(value) if isinstance(value, list | dict) else value
                        )
                    copy.write_row(values)
            if "id" in names:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
                )
        raw.commit()
    finally:
        raw.close()
    return count


# --------------------------------------------------------------------------- the data


def make_world(
    app,
    *,
    waiting: int,
    pending: int,
    history: int,
    history_days: int,
    now: datetime,
    echo: Callable[[str], None],
) -> dict:
    """Insert the line, operators, the call history, the waiting callers and the callbacks."""
    from hotline.callbacks.models import CallbackRequest
    from hotline.calls.models import Call
    from hotline.db import db
    from hotline.lines.models import Line
    from hotline.operators.models import Operator, Presence, Role
    from hotline.queue.models import QueueEntry

    session = db.session
    line = Line(
        key="main",
        name="长者服务热线",
        phone_number="+861012345678",
        script_key="main",
        is_open_every_day=True,
        opens_at=dtime(0, 0),
        closes_at=dtime(0, 0),
        callback_window_start=dtime(0, 0),
        callback_window_end=dtime(0, 0),
    )
    session.add(line)
    operators = [
        Operator(
            username=f"micro-op-{i}",
            display_name=f"op {i}",
            role=Role.OPERATOR,
            phone_number=f"+86138{i:08d}",
            presence=Presence.AVAILABLE,
            last_seen_at=now,
        )
        for i in range(20)
    ]
    session.add_all(operators)
    session.flush()
    # The sweep runs on working days only: make the days around now working days, so the
    # measurement does not depend on the day of the week it runs on.
    from zoneinfo import ZoneInfo

    from hotline.lines.models import CalendarOverride

    today = now.astimezone(ZoneInfo(line.timezone)).date()
    for offset in range(-1, 3):
        session.add(
            CalendarOverride(
                line_id=line.id,
                day=today + timedelta(days=offset),
                is_working_day=True,
                note="bench",
            )
        )
    session.commit()
    line_id, operator_id = line.id, operators[0].id
    operator_ids = [op.id for op in operators]
    engine = db.engine
    timings = {}

    span = timedelta(days=history_days)
    history_start = now - span
    step = span / max(1, history)

    def history_calls() -> Iterator[dict]:
        for i in range(history):
            created = history_start + step * i
            queued = created + timedelta(seconds=30)
            kind = i % 20
            answered = ended = None
            if kind < 16:
                outcome, answered = "answered", queued + timedelta(seconds=5 + i % 60)
                ended = answered + timedelta(seconds=300)
            elif kind < 18:
                outcome, ended = "abandoned", queued + timedelta(seconds=40 + i % 120)
            elif kind < 19:
                outcome, ended = "short_abandon", queued + timedelta(seconds=8)
            else:
                outcome, ended = "callback_requested", queued + timedelta(seconds=200)
            yield {
                "id": i + 1,
                "call_sid": "CA" + f"f{i:031x}",
                "line_id": line_id,
                "direction": "inbound",
                "status": "completed",
                "status_sequence": 2,
                "from_number": f"+86136{i % 100_000_000:08d}",
                "to_number": "+861012345678",
                "language": "zh-CN",
                "current_node": "operator",
                "node_failures": 0,
                "step_count": 3,
                "menu_path": [],
                "scenario": SCENARIOS[i % len(SCENARIOS)],
                "queued_at": queued,
                "answered_at": answered,
                "ended_at": ended,
                "duration_seconds": int((ended - created).total_seconds()),
                "outcome": outcome,
                "created_at": created,
            }

    def history_entries() -> Iterator[dict]:
        for call in history_calls():
            status = {
                "answered": "completed",
                "abandoned": "abandoned",
                "short_abandon": "abandoned",
                "callback_requested": "callback",
            }
            yield {
                "id": call["id"],
                "line_id": line_id,
                "call_id": call["id"],
                "status": status[call["outcome"]],
                "priority": 3,
                "priority_reason": "normal",
                "reason": "key_0",
                "language": "zh-CN",
                "scenario": call["scenario"],
                "arrived_at": call["queued_at"],
                "enqueued_at": call["queued_at"],
                "queue_sid": "QU" + "0" * 32,
                # Twenty operators share the history (each has tens of thousands of calls).
                "operator_id": operator_ids[call["id"] % len(operator_ids)]
                if call["answered_at"]
                else None,
                "is_on_hold": False,
                "is_transfer_joined": False,
                "wait_turns": 1,
                "requeue_count": 0,
                "connected_at": call["answered_at"],
                "claimed_at": call["answered_at"],
                "ended_at": call["ended_at"],
                "created_at": call["queued_at"],
                "updated_at": call["ended_at"],
            }

    def waiting_calls() -> Iterator[dict]:
        for j in range(waiting):
            i = history + j
            arrived = now - timedelta(hours=1) + timedelta(hours=1) * j / max(1, waiting)
            yield {
                "id": i + 1,
                "call_sid": "CA" + f"e{i:031x}",
                "line_id": line_id,
                "direction": "inbound",
                "status": "in-progress",
                "status_sequence": 1,
                "from_number": f"+86135{j:08d}",
                "to_number": "+861012345678",
                "language": "zh-CN",
                "current_node": "operator",
                "node_failures": 0,
                "step_count": 3,
                "menu_path": [],
                "scenario": SCENARIOS[j % len(SCENARIOS)],
                "queued_at": arrived,
                "created_at": arrived - timedelta(seconds=30),
            }

    def waiting_entries() -> Iterator[dict]:
        for call in waiting_calls():
            j = call["id"] - history - 1
            priority = 1 if j % 20 == 0 else 2 if j % 10 == 1 else 3
            yield {
                "id": call["id"],
                "line_id": line_id,
                "call_id": call["id"],
                "status": "waiting",
                "priority": priority,
                "priority_reason": {1: "callback", 2: "older_caller", 3: "normal"}[priority],
                "reason": "key_0",
                "language": "zh-CN",
                "scenario": call["scenario"],
                "arrived_at": call["queued_at"],
                "enqueued_at": call["queued_at"],
                "queue_sid": "QU" + "0" * 32,
                "is_on_hold": False,
                "is_transfer_joined": False,
                "wait_turns": 1,
                "requeue_count": 0,
                "created_at": call["queued_at"],
                "updated_at": call["queued_at"],
            }

    def callbacks() -> Iterator[dict]:
        for k in range(pending):
            due = now - timedelta(days=1) + timedelta(days=2) * k / max(1, pending)
            arrival = (
                now
                - timedelta(days=2)
                + timedelta(days=2) * ((k * 7919) % pending) / max(1, pending)
            )
            yield {
                "id": k + 1,
                "line_id": line_id,
                "phone_number": f"+86137{k:08d}",
                "reason": "abandoned",
                "status": "pending",
                "original_arrival_at": arrival,
                "due_at": due,
                "attempts": 0,
                "max_attempts": 3,
                "language": "zh-CN",
                "note": "bench",
                "created_at": arrival,
                "updated_at": arrival,
            }

    for name, table, rows, n in (
        ("calls (history)", Call.__table__, history_calls(), history),
        ("calls (waiting)", Call.__table__, waiting_calls(), waiting),
        ("queue entries (history)", QueueEntry.__table__, history_entries(), history),
        ("queue entries (waiting)", QueueEntry.__table__, waiting_entries(), waiting),
        ("callback requests", CallbackRequest.__table__, callbacks(), pending),
    ):
        started = time.perf_counter()
        bulk_insert(engine, table, rows)
        seconds = time.perf_counter() - started
        timings[name] = round(seconds, 2)
        echo(f"  inserted {n:>9,} {name:24} in {seconds:6.2f} s")
    if engine.dialect.name == "postgresql":
        # What autovacuum does on a live server (statistics, visibility map).
        started = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("SET statement_timeout = 0")
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("RESET statement_timeout")
        timings["vacuum analyze"] = round(time.perf_counter() - started, 2)
    return {
        "line_id": line_id,
        "operator_id": operator_id,
        "insert_seconds": timings,
        "history_start": history_start,
    }


# --------------------------------------------------------------------------- measuring


class StatementLog:
    """Every statement the engine runs while active (for EXPLAIN)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, object]] = []
        self.active = False
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if self.active and not executemany:
            self.statements.append((statement, parameters))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def explain(engine, statements: list[tuple[str, object]]) -> list[dict]:
    """The query plan of each SELECT/UPDATE/DELETE statement (not executed)."""
    plans = []
    seen = set()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "DELETE", "WITH") or statement in seen:
                continue
            seen.add(statement)
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            try:
                cursor.execute(prefix + statement, parameters)
                rows = cursor.fetchall()
            except Exception as exc:  # noqa: BLE001 - report, do not stop the benchmark
                raw.rollback()
                plans.append({"sql": _short(statement), "plan": [f"(no plan: {exc!r})"]})
                continue
            if engine.dialect.name == "sqlite":
                lines = [row[-1] for row in rows]
            else:
                lines = [row[0] for row in rows]
            plans.append({"sql": _short(statement), "plan": lines})
        raw.rollback()
    finally:
        raw.close()
    return plans


def _short(sql: str, limit: int = 400) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + " ..."


#: Row counts of the growing tables in the micro database (a scan of a small table is fine:
#: the planner rightly prefers it).
TABLE_ROWS: dict[str, int] = {}
#: Whether `measure` prints each statement's plan (they are in the results either way).
OUTPUT = {"show_plans": True}
BIG_ENOUGH = 10_000


def count_rows(engine) -> None:
    from sqlalchemy import text

    TABLE_ROWS.clear()
    with engine.connect() as conn:
        for table in BIG_TABLES:
            TABLE_ROWS[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def full_scans(plans: list[dict]) -> list[str]:
    """Plan lines that read the whole of a growing table holding many rows."""
    found = []
    for plan in plans:
        for line in plan["plan"]:
            text = str(line).strip()
            sqlite = re.match(r"SCAN (\w+)", text)
            postgres = re.search(r"Seq Scan on (\w+)", text)
            table = (sqlite[1] if sqlite and "INDEX" not in text else None) or (
                postgres[1] if postgres else None
            )
            if table in BIG_TABLES and TABLE_ROWS.get(table, BIG_ENOUGH) >= BIG_ENOUGH:
                found.append(f"{text}  <- {plan['sql'][:160]}")
    return found


def measure(
    app,
    name: str,
    operation: Callable[[], object],
    *,
    repeat: int,
    target_ms: float | None,
    echo: Callable[[str], None],
    detail: str = "",
) -> dict:
    """Run `operation` `repeat` times in fresh sessions; median; plans of its statements."""
    from hotline.db import db

    log = StatementLog(db.engine)
    times = []
    try:
        for i in range(repeat):
            db.session.close()
            log.active = i == 0
            started = time.perf_counter()
            operation()
            times.append(time.perf_counter() - started)
            log.active = False
            db.session.close()
    except Exception as exc:  # noqa: BLE001 - one broken path must not hide the others
        db.session.rollback()
        echo(f"  {name}: FAILED {exc!r}")
        return {"error": repr(exc)}
    finally:
        log.close()
    plans = explain(db.engine, log.statements)
    scans = full_scans(plans)
    median_ms = statistics.median(times) * 1000
    result = {
        "median_ms": round(median_ms, 2),
        "runs_ms": [round(t * 1000, 2) for t in times],
        "target_ms": target_ms,
        "within_target": None if target_ms is None else median_ms <= target_ms,
        "statements": len(log.statements),
        "uses_index": not scans,
        "full_scans": scans,
        "plans": plans,
        "detail": detail,
    }
    verdict = "" if target_ms is None else (" ok" if result["within_target"] else " OVER TARGET")
    echo(
        f"  {name:30} median {median_ms:9.2f} ms (target {target_ms} ms){verdict}; "
        f"{len(log.statements)} statements; {'no full scan' if not scans else 'FULL SCAN'}"
        + (f"; {detail}" if detail else "")
    )
    for plan in plans if OUTPUT["show_plans"] else []:
        echo(f"      {plan['sql'][:150]}")
        for line in plan["plan"]:
            echo(f"        {line}")
    return result


def run_all(
    database_url: str,
    *,
    kind: str,
    waiting: int,
    pending: int,
    history: int,
    history_days: int,
    repeat: int,
    echo: Callable[[str], None] = print,
    show_plans: bool = True,
) -> dict:
    """Build the data on `database_url` (an empty database) and measure every growing path."""
    OUTPUT["show_plans"] = show_plans
    from flask_login import login_user
    from sqlalchemy import func

    from hotline import create_app
    from hotline.callbacks.dispatcher import Dispatcher
    from hotline.callbacks.settings import CallbackSettings
    from hotline.calls.models import Call
    from hotline.db import db
    from hotline.lines.models import Line
    from hotline.operators.auth import ConsoleUser
    from hotline.operators.models import Operator
    from hotline.queue import board, connect, service
    from hotline.queue.models import QueueEntry, QueueStatus
    from hotline.reports import metrics
    from hotline.timeutil import utcnow

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "micro",
            "DATABASE_URL": database_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "micro-token",
            "TWILIO_API_BASE_URL": None,
            "TWILIO_HTTP_CLIENT": InstantTwilio(),
            "LOCAL_TELEPHONY": False,
            "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
            "CALLBACK_CALLS_PER_SECOND": 0,
            # Bulk loads and VACUUM (statement_timeout 0) outlast the client bound on waits.
            "DB_CLIENT_TIMEOUT_MS": 600_000,
        }
    )
    results: dict = {
        "rows": {
            "waiting": waiting,
            "pending_callbacks": pending,
            "history_calls": history,
            "history_days": history_days,
        }
    }
    now = utcnow()
    with app.app_context():
        db.create_all()
        world = make_world(
            app,
            waiting=waiting,
            pending=pending,
            history=history,
            history_days=history_days,
            now=now,
            echo=echo,
        )
        results["insert_seconds"] = world["insert_seconds"]
        count_rows(db.engine)
        results["table_rows"] = dict(TABLE_ROWS)
        session = db.session
        operator_id = world["operator_id"]
        last = session.scalar(
            select(QueueEntry)
            .where(QueueEntry.status == QueueStatus.WAITING)
            .order_by(*service.ORDER)
            .offset(max(0, waiting - 1))
            .limit(1)
        )
        last_id = last.id if last is not None else None
        last_call_sid = session.get(Call, last.call_id).call_sid if last is not None else None
        db.session.close()

        def next_caller():
            candidates = connect.next_candidates(db.session, operator_id)
            assert candidates, "nobody waiting"

        results["next_caller"] = measure(
            app,
            "next caller (take-next)",
            next_caller,
            repeat=repeat,
            target_ms=10,
            echo=echo,
            detail=f"{waiting} waiting",
        )

        def position():
            entry = db.session.get(QueueEntry, last_id)
            assert service.position_of(db.session, entry) == waiting

        results["position"] = measure(
            app,
            "position of the last caller",
            position,
            repeat=repeat,
            target_ms=10,
            echo=echo,
            detail=f"{waiting - 1} ahead",
        )

        def wait_poll():
            turn = service.wait_turn(
                db.session, call_sid=last_call_sid, queue_sid=None, language="zh-CN"
            )
            assert turn.kind == "announce", turn.kind

        results["wait_poll"] = measure(
            app,
            "wait poll (service)",
            wait_poll,
            repeat=repeat,
            target_ms=10,
            echo=echo,
            detail="wait_turn: position, estimate, offer",
        )

        def console_poll():
            with app.test_request_context("/console/api/queue"):
                login_user(ConsoleUser(db.session.get(Operator, operator_id)))
                state = board.console_state(operator_id, case_url=lambda sid: None)
                assert len(state["waiting"]) == min(waiting, board.MAX_ROWS)

        results["console_poll"] = measure(
            app,
            "console poll (queue JSON)",
            console_poll,
            repeat=repeat,
            target_ms=None,
            echo=echo,
            detail=f"{min(waiting, board.MAX_ROWS)} rows shown of {waiting}",
        )

        settings = CallbackSettings(calls_per_second=0, ringing_margin=None, batch_size=10)
        runs = iter(range(1000))

        def sweep():
            report = Dispatcher(app, owner=f"micro-{next(runs)}", settings=settings).run_once()
            assert len(report.placed) == 10, report

        results["callback_sweep"] = measure(
            app,
            "callback sweep (one run)",
            sweep,
            repeat=repeat,
            target_ms=100,
            echo=echo,
            detail=f"{pending} pending, claims and places 10",
        )

        from hotline.callbacks.dispatcher import claim_due

        claims = iter(range(1000))

        def claim():
            claimed = claim_due(
                db.session,
                owner=f"micro-claim-{next(claims)}",
                now=utcnow(),
                limit=10,
                lease=timedelta(seconds=120),
                line_ids=[world["line_id"]],
                account_sid=ACCOUNT_SID,
                ringing_margin=None,
            )
            assert len(claimed) == 10, claimed

        results["callback_claim"] = measure(
            app,
            "callback claim (of the sweep)",
            claim,
            repeat=repeat,
            target_ms=None,
            echo=echo,
            detail="the part that grows with pending callbacks",
        )

        line = db.session.get(Line, world["line_id"])
        day = metrics.local_day(now - timedelta(days=1), line.timezone)
        start, end = metrics.local_day_bounds(day, line.timezone)
        in_day = db.session.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.queued_at >= start, Call.queued_at < end)
        )
        db.session.close()

        def daily_summary():
            line = db.session.get(Line, world["line_id"])
            report = metrics.day_report(db.session, line, day, now=now)
            assert report.calls.offered > 0

        results["daily_summary"] = measure(
            app,
            "daily summary (day report)",
            daily_summary,
            repeat=repeat,
            target_ms=1000,
            echo=echo,
            detail=f"{in_day} calls that day, {history} in history",
        )
        db.session.close()
        db.engine.dispose()
    return results
