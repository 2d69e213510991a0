"""The README's first command, run for real: `python3 dev.py run` answers on its URLs, a dev-phone
call reaches the operator queue through the local gateway's signed webhooks, and Ctrl-C stops
everything cleanly. CI runs this script (`.ci/run`); it is not collected by pytest.

    .venv/bin/python tests/quickstart_smoke.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB_PORT, GATEWAY_PORT = 5611, 5666
WEB = f"http://127.0.0.1:{WEB_PORT}"
GATEWAY = f"http://127.0.0.1:{GATEWAY_PORT}"


def _request(method: str, url: str, payload: dict | None = None, timeout: float = 15) -> dict:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
        body = response.read()
        return json.loads(body) if body else {}


def _wait_until(what: str, check, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"FAIL: dev.py run exited with {process.returncode} before {what}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(0.5)
    raise SystemExit(f"FAIL: {what} within {seconds:.0f} s (last error: {last_error})")


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="hotline-smoke-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'smoke.sqlite3'}",
        FALLBACK_SPOOL_DIR=str(tmp / "spool"),
        GATEWAY_TIME_SCALE="5",
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL"):
        env.pop(name, None)
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "dev.py"),
            "run",
            "--port",
            str(WEB_PORT),
            "--gateway-port",
            str(GATEWAY_PORT),
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_until(
            "the web app answers /healthz",
            lambda: _request("GET", f"{WEB}/healthz")["ok"],
            300,
            process,
        )
        _wait_until(
            "the local gateway answers",
            lambda: "+861012345678" in _request("GET", f"{GATEWAY}/api/config")["lines"],
            60,
            process,
        )
        # Every demo line is one of the gateway's numbers (the recording line among them), and
        # the dev phone offers the Cantonese demo caller.
        config = _request("GET", f"{GATEWAY}/api/config")
        assert {"+861012345678", "+861012345679", "+861012345677"} <= set(config["lines"]), config
        page = urllib.request.urlopen(f"{GATEWAY}/", timeout=10).read().decode()  # noqa: S310
        assert "陈伯" in page and "+8613123456703" in page, "the dev phone offers 陈伯"
        login = urllib.request.urlopen(f"{WEB}/console/login", timeout=10).read().decode()  # noqa: S310
        assert "坐席登录" in login or "Sign in" in login, "console login page"

        # 王阿姨 (demo older caller, straight to a person) calls the demo line from the dev phone.
        placed = _request(
            "POST", f"{GATEWAY}/api/phones/+8613123456701/calls", {"to": "+861012345678"}
        )
        sid = placed["call"]["sid"]

        def queued() -> bool:
            call = _request("GET", f"{GATEWAY}/api/calls/{sid}")
            if call.get("error"):
                raise SystemExit(f"FAIL: the caller hit an application error: {call['error']}")
            return bool(call.get("queue")) and call["queue"]["name"] == "line-main"

        _wait_until("the dev-phone caller waits in the operator queue", queued, 60)
        transcript = _request("GET", f"{GATEWAY}/api/calls/{sid}")
        said = " ".join(e.get("text") or "" for e in transcript.get("transcript", []))
        assert "王阿姨" in said, f"the known caller is greeted by name: {said[:200]}"

        # The demo operator signs in to the console and takes the caller; the gateway rings the
        # operator's demo phone (auto-answer) and joins both in a conference.
        import re

        import requests

        console = requests.Session()
        console.trust_env = False
        page = console.get(f"{WEB}/console/login", timeout=10).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        signed_in = console.post(
            f"{WEB}/console/login",
            data={"csrf_token": token, "username": "operator", "password": "operator-demo-pass"},
            timeout=10,
        )
        assert "/console/login" not in signed_in.url, "the demo operator can sign in"
        token = re.search(r'name="csrf-token" content="([^"]+)"', signed_in.text).group(1)
        headers = {"X-CSRFToken": token}
        console.post(
            f"{WEB}/console/api/presence",
            data={"presence": "available"},
            headers=headers,
            timeout=10,
        ).raise_for_status()
        taken = console.post(
            f"{WEB}/console/api/queue/take-next", data={"via": "phone"}, headers=headers, timeout=30
        )
        assert taken.status_code == 200, taken.text

        def in_conference() -> bool:
            return _request("GET", f"{GATEWAY}/api/calls/{sid}")["activity"] == "conference"

        _wait_until("the caller is joined with the operator in a conference", in_conference, 60)
        _request("POST", f"{GATEWAY}/api/calls/{sid}/hangup")
        problems = _request("GET", f"{GATEWAY}/api/problems")
        errors = [
            p
            for p in problems.get("problems", problems if isinstance(problems, list) else [])
            if p.get("level") == "error"
        ]
        assert not errors, f"the gateway saw failures: {errors}"
        print(
            "quick start: web, clock and gateway up; a dev-phone caller reached the queue and "
            "was joined with the demo operator"
        )
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise SystemExit("FAIL: Ctrl-C did not stop dev.py run within 30 s") from None
    if code != 0:
        raise SystemExit(f"FAIL: dev.py run exited with {code} after Ctrl-C")
    print("quick start: Ctrl-C stopped everything cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
