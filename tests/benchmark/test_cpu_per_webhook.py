"""bench/cpu_per_webhook.py runs: one simple and one full simulated call in-process, with the
bare Flask baseline, and reports CPU, statements and commits per webhook (nothing timed)."""

from __future__ import annotations

import json
import threading

from bench import cpu_per_webhook


def test_one_call_of_each_mix_in_process(tmp_path, capsys):
    outcome: dict = {}
    out = tmp_path / "cpu.json"

    def run() -> None:  # its own thread: asyncio.run beside a browser test's loop
        outcome["code"] = cpu_per_webhook.main(
            ["--calls", "1", "--warm", "1", "--concurrency", "1", "--json", str(out)]
        )

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert outcome.get("code") == 0, capsys.readouterr().out[-2000:]
    rows = {row["mix"]: row for row in json.loads(out.read_text())}
    assert set(rows) == {"baseline", "simple", "full"}
    assert rows["simple"]["webhooks"] == 2 and rows["simple"]["commits_per_request"] == 1.0
    assert rows["full"]["webhooks"] >= 19 and rows["full"]["console_requests"] == 2
    assert rows["full"]["cpu_ms_per_webhook"] > 0 and rows["full"]["function_calls_per_request"]
