"""The web process's gunicorn settings (gunicorn.conf.py, used by the Procfile): gthread, the
measured defaults per database, and WEB_CONCURRENCY / WEB_THREADS / PORT when set."""

from __future__ import annotations

import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def _settings(monkeypatch, **env: str) -> dict:
    for name in ("PORT", "WEB_CONCURRENCY", "WEB_THREADS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_defaults_follow_the_database(monkeypatch):
    sqlite = _settings(monkeypatch)
    assert (sqlite["workers"], sqlite["threads"], sqlite["worker_class"]) == (2, 4, "gthread")
    assert sqlite["bind"] == "0.0.0.0:5000"
    postgres = _settings(monkeypatch, DATABASE_URL="postgresql://db.example/hotline")
    assert (postgres["workers"], postgres["threads"]) == (2, 8)


def test_the_environment_wins(monkeypatch):
    conf = _settings(
        monkeypatch,
        PORT="8080",
        WEB_CONCURRENCY="3",
        WEB_THREADS="6",
        DATABASE_URL="postgres://db.example/hotline",
    )
    assert (conf["bind"], conf["workers"], conf["threads"]) == ("0.0.0.0:8080", 3, 6)


def test_the_procfile_runs_it():
    procfile = (CONF.parent / "Procfile").read_text()
    assert 'web: gunicorn -c gunicorn.conf.py "hotline:create_app()"' in procfile
