#!/usr/bin/env python3
"""One entry point for a fresh clone (needs only Python 3.11+ and git).

    python3 dev.py run     install everything, then start the hotline on SQLite with a demo
                           line, demo operators and callers, the local Twilio gateway and the
                           browser dev phone (Ctrl-C stops everything)
    python3 dev.py test    install everything, then run the whole test suite (extra arguments
                           go to pytest)
    python3 dev.py bench   install everything, then run the benchmark (see bench/README.md)

The virtual environment lives in .venv/ and is refreshed when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("HOTLINE_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".hotline-install-stamp"

if sys.version_info < (3, 11):  # noqa: UP036 - say so plainly on an old Python
    sys.exit("The hotline needs Python 3.11 or newer (found " + sys.version.split()[0] + ").")


def ensure_installed() -> None:
    """Create .venv and install the project with its dev extras when pyproject.toml changed."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the hotline and its dependencies (first run takes a minute)", flush=True)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f"{ROOT}[dev,postgres]"], check=True)
    STAMP.write_text(digest)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def _wait_for(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback only
                if response.status < 500:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "hotline", *args], check=True, env=env, cwd=ROOT)


DEV_MODE_NOTE = (
    "Development mode (HOTLINE_DEV_MODE=1): webhooks signed with the public development token\n"
    "  are accepted and the demo passwords are public. Never put this on a real number."
)


def run(argv: list[str]) -> int:
    """Migrate, seed and start web + clock + local gateway; stop all on Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(prog="dev.py run")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5000)))
    parser.add_argument("--gateway-port", type=int, default=5055)
    args = parser.parse_args(argv)
    ensure_installed()
    web_url = f"http://127.0.0.1:{args.port}"
    gateway_url = f"http://127.0.0.1:{args.gateway_port}"
    env = _env(LOCAL_BASE_URL=web_url)
    dev_mode = not os.environ.get("TWILIO_ACCOUNT_SID")
    if dev_mode:
        env.setdefault("TWILIO_API_BASE_URL", gateway_url)
        # The app refuses the public development credentials unless told this is development.
        env["HOTLINE_DEV_MODE"] = "1"
    flask("db", "upgrade", env=env)
    flask("ivr", "check", env=env)
    if dev_mode:  # seed-demo refuses beside real credentials (public demo passwords)
        flask("seed-demo", env=env)
    # What the gateway must know from the demo data: the lines it answers for (the account's
    # numbers), the dev phone's callers (the demo callers, among them a Cantonese speaker) and
    # the phones that answer by themselves (operators, agencies, 120/110/119).
    from_seed = subprocess.run(
        [
            str(PY),
            "-c",
            "import json; from hotline import seed as s;"
            " print(json.dumps({'lines': [n for _k, _n, n, *_ in s.DEMO_LINES],"
            " 'callers': [f'{d}={n}' for n, _m, d, *_ in s.DEMO_CALLERS],"
            " 'answer': [p for *_, p in s.DEMO_OPERATORS if p] + [n for *_, n in s.DEMO_AGENCIES]"
            " + ['120', '110', '119'], 'logins': [(u, n, p) for u, n, _r, p, _ in"
            " s.DEMO_OPERATORS], 'languages': s.DEMO_LANGUAGES}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    ).stdout
    demo = json.loads(from_seed)
    gateway_env = _env(
        HOTLINE_URL=web_url,
        GATEWAY_PUBLIC_URL=gateway_url,
        LINES=",".join(demo["lines"]),
        DEV_PHONE_IDENTITIES=os.environ.get(
            "DEV_PHONE_IDENTITIES", ";".join([*demo["callers"], "陌生号码=+8613123456799"])
        ),
        AUTO_ANSWER_NUMBERS=os.environ.get("AUTO_ANSWER_NUMBERS", ",".join(demo["answer"])),
    )
    processes = {
        "web": subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "hotline:create_app()",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "20",
                "--access-logfile",
                "-",
            ],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        ),
        "clock": subprocess.Popen(
            [str(BIN / "flask"), "--app", "hotline", "clock"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
        ),
        "gateway": subprocess.Popen(
            [
                str(BIN / "flask"),
                "--app",
                "hotline.devgateway:create_gateway_app()",
                "run",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.gateway_port),
                "--with-threads",
            ],
            env=gateway_env,
            cwd=ROOT,
            start_new_session=True,
        ),
    }

    def stop(*_args) -> None:
        for proc in processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in processes.items():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                print(f"{name} did not stop in 10 s; killed", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        ready = _wait_for(f"{web_url}/healthz", 30) and _wait_for(f"{gateway_url}/", 30)
        if not ready:
            print("the hotline did not start; see the messages above", flush=True)
            stop()
            return 1
        from_seed_logins = "\n".join(
            f"    {user:<11} / {password:<22} {name}"
            + (f" ({' / '.join(demo['languages'][user])})" if user in demo["languages"] else "")
            for user, name, password in demo["logins"]
        )
        print(
            f"""
  The elder hotline is running (SQLite, local telephony: no Twilio account needed).
  {DEV_MODE_NOTE if dev_mode else ""}

  Operator console   {web_url}/console/
  Dev phone          {gateway_url}/            (call a demo line: +861012345678 key menu,
                     +861012345679 no menu, +861012345677 key menu, records the conversation)
  Sent SMS / calls   {gateway_url}/dev
  Health             {web_url}/healthz

  Demo logins (user / password):
{from_seed_logins}

  Ctrl-C stops everything.
""",
            flush=True,
        )
        while all(p.poll() is None for p in processes.values()):
            time.sleep(0.5)
        dead = [name for name, p in processes.items() if p.poll() is not None]
        print(f"process stopped unexpectedly: {', '.join(dead)}; stopping the rest", flush=True)
        stop()
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        stop()
        return 0


def test(argv: list[str]) -> int:
    """Run the whole suite (pytest arguments may follow)."""
    ensure_installed()
    return subprocess.run([str(PY), "-m", "pytest", *argv], cwd=ROOT, env=_env()).returncode


def bench(argv: list[str]) -> int:
    """Run the benchmark script."""
    ensure_installed()
    return subprocess.run(
        [str(PY), str(ROOT / "bench" / "run.py"), *argv], cwd=ROOT, env=_env()
    ).returncode


COMMANDS = {"run": run, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
