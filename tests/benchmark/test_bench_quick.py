"""The benchmark's own parts work: percentiles, the Twilio REST stub, and a simulated caller that
follows the hotline's TwiML from the first ring to the goodbye (a tiny in-process run; nothing
here is timed and no speed is asserted)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server

from bench.baseline import create_app as create_baseline
from bench.httpclient import HttpClient
from bench.loadgen import CALLER_KINDS, OPERATOR_KINDS, OperatorAccount, Options, Simulation
from bench.stats import Recorder, percentile, summarize
from bench.stub import TwilioStub
from conftest import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN
from hotline.db import db
from hotline.operators.models import Operator, Role
from twiml_grammar import check_twiml

# --------------------------------------------------------------------------- percentiles


def test_percentile_interpolates_between_closest_ranks():
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 25) == pytest.approx(1.75)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_percentile_refuses_a_rank_outside_0_to_100():
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_is_in_milliseconds():
    row = summarize([0.010, 0.020, 0.030])
    assert row == {"count": 3, "p50_ms": 20.0, "p95_ms": 29.0, "p99_ms": 29.8, "max_ms": 30.0}


# --------------------------------------------------------------------------- the pieces


def test_stub_answers_like_twilio_and_reports_dequeues():
    seen = []
    stub = TwilioStub(on_dequeue=lambda sid, form: seen.append((sid, form["Url"])))
    base = f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}"
    status, body = stub.handle(
        "POST", f"{base}/Calls.json", "To=%2B8613800000000&Url=http%3A%2F%2Fx"
    )
    assert status == 201 and body["sid"].startswith("CA") and body["to"] == "+8613800000000"
    status, body = stub.handle(
        "POST", f"{base}/Queues/QU{'1' * 32}/Members/CA{'2' * 32}.json", "Url=http%3A%2F%2Fjoin"
    )
    assert status == 200 and seen == [("CA" + "2" * 32, "http://join")]
    assert stub.handle("GET", f"{base}/Queues.json", "")[1]["queues"][0]["friendly_name"]
    assert (
        stub.handle("DELETE", f"{base}/Conferences/CF1/Participants/CA{'3' * 32}.json", "")[0]
        == 204
    )
    assert stub.handle("GET", "/nowhere", "")[0] == 404 and stub.errors


def test_baseline_answers_valid_twiml():
    client = create_baseline().test_client()
    response = client.post("/twilio/voice/input", data={"CallSid": "CA1"})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert check_twiml(response.get_data(as_text=True), "voice") == []


# --------------------------------------------------------------------------- a tiny run


@pytest.fixture
def stub():
    server = TwilioStub().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, stub):
    """The app's REST calls go to the stub; CSRF on, as in production (operators sign in)."""
    return {
        **app_config,
        "TWILIO_HTTP_CLIENT": None,
        "TWILIO_API_BASE_URL": stub.url,
        "WTF_CSRF_ENABLED": True,
    }


@pytest.fixture
def served(app):
    """The hotline on a real socket (werkzeug's threaded server) for the asyncio client."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _operators(app, count: int) -> list[OperatorAccount]:
    accounts = [
        OperatorAccount(f"op{i}", "bench-pass-123", f"+86138000000{i:02d}") for i in range(count)
    ]
    with app.app_context():
        for account in accounts:
            db.session.add(
                Operator(
                    username=account.username,
                    role=Role.OPERATOR,
                    password_hash=generate_password_hash(account.password, "pbkdf2:sha256:1000"),
                    phone_number=account.phone,
                )
            )
        db.session.commit()
    return accounts


def _run_in_own_thread(coroutine):
    """asyncio.run in a thread of its own: a browser test earlier in the session leaves
    Playwright's event loop running in the main thread, where asyncio.run refuses to start."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _run(port: int, accounts, stub: TwilioStub, calls: int, token: str = TEST_AUTH_TOKEN):
    client = HttpClient("127.0.0.1", port, timeout=10)
    recorder = Recorder()
    sim = Simulation(
        client,
        auth_token=token,
        account_sid=TEST_ACCOUNT_SID,
        line_number="+861012345678",
        operators=accounts,
        recorder=recorder,
        options=Options(polls=2, console_interval=0.2, take_timeout=10),
        consoles=1,
    )
    stub.on_call_created = sim.on_call_created
    stub.on_dequeue = sim.on_dequeue
    try:
        await sim.login_all()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        workers = [
            asyncio.create_task(sim.operator_loop(i, deadline)) for i in range(len(accounts))
        ]
        console = asyncio.create_task(sim.console_loop(0, deadline))
        results = await asyncio.wait_for(
            asyncio.gather(*(sim.call() for _ in range(calls))), timeout=15
        )
        sim.stop()
        await asyncio.wait_for(asyncio.gather(*workers, console), timeout=5)
    finally:
        client.close()
    return results, recorder


def test_simulated_callers_follow_the_twiml_to_the_goodbye(app, served, stub):
    accounts = _operators(app, 2)
    results, recorder = _run_in_own_thread(_run(served, accounts, stub, calls=2))
    report = recorder.report()
    assert results == [True, True], report["error_samples"]
    assert report["errors"] == 0
    assert recorder.completed_calls == 2
    assert set(CALLER_KINDS) | set(OPERATOR_KINDS) <= set(report["by_kind"])
    # Per call: 8 caller requests besides the wait rounds, 3 status callbacks, 4 operator leg
    # statuses, the operator's answer and its <Dial> action, and 6 conference events: 23. A caller
    # taken by an operator before its second wait round makes one round less (as with Twilio).
    waits = report["by_kind"]["voice.wait"]["count"]
    assert 2 <= waits <= 2 * 2
    counts = {k: v["count"] for k, v in report["by_kind"].items()}
    assert report["webhooks"] == 2 * 23 + waits, counts
    assert report["by_kind"]["console.take_next"]["count"] == 2
    assert stub.counts["POST calls"] == 2 and stub.counts["POST member"] == 2
    assert report["all_webhooks"]["p99_ms"] >= report["all_webhooks"]["p50_ms"] > 0


def test_a_wrongly_signed_webhook_counts_as_an_error(app, served, stub):
    accounts = _operators(app, 1)
    results, recorder = _run_in_own_thread(
        _run(served, accounts, stub, calls=1, token="not-the-token")
    )
    assert results == [False]
    assert recorder.errors["voice.incoming"] == 1
    assert "HTTP 403" in recorder.samples[0]
