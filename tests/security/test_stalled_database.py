"""A database that stops answering never keeps a caller waiting: the fallback within 3 s.

PostgreSQL is stalled two ways without touching the shared server: a lock held by another
connection, and a TCP proxy in front of it that the test pauses (it stops moving bytes but keeps
every socket open, as a stopped server process would: the kernel still acknowledges). SQLite is
stalled by a write lock held by another connection.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import sqlite3
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from conftest import TwilioCaller
from hotline.db import db

#: What the issue promises: the caller hears the fallback within this many seconds.
FALLBACK_WITHIN_SECONDS = 3.0
#: How long a test waits for a call that does not answer before calling it hung.
HUNG_AFTER_SECONDS = 12.0


class PausableProxy:
    """A TCP forwarder on 127.0.0.1 to one upstream address, in one thread.

    While paused it reads nothing from either side and accepts no new connection, so every
    byte stays in the kernel's buffers: the client sees a server that has stopped answering.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.peers: dict[socket.socket, socket.socket] = {}
        self.thread = threading.Thread(target=self._run, name="pg-proxy", daemon=True)
        self.thread.start()

    def _close_pair(self, sock: socket.socket, selector: selectors.BaseSelector) -> None:
        other = self.peers.pop(sock, None)
        for s in (sock, other):
            if s is None:
                continue
            self.peers.pop(s, None)
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(s)
            s.close()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ)
        while not self.stopped.is_set():
            if self.paused.is_set():
                time.sleep(0.02)
                continue
            for key, _ in selector.select(timeout=0.05):
                sock = key.fileobj
                if sock is self.listener:
                    try:
                        client, _ = self.listener.accept()
                    except BlockingIOError:
                        continue
                    server = socket.create_connection(self.upstream, timeout=5)
                    for s in (client, server):
                        s.setblocking(True)
                        selector.register(s, selectors.EVENT_READ)
                    self.peers[client], self.peers[server] = server, client
                    continue
                if sock not in self.peers:
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._close_pair(sock, selector)
                    continue
                try:
                    self.peers[sock].sendall(data)
                except OSError:
                    self._close_pair(sock, selector)
        for sock in list(self.peers):
            self._close_pair(sock, selector)
        selector.close()
        self.listener.close()

    def stop(self) -> None:
        self.paused.clear()
        self.stopped.set()
        self.thread.join(timeout=5)


def _seed_line(application) -> None:
    """The schema and the demo line, open 24/7: a call that falls back does so because of the DB."""
    from hotline.seed import seed_demo_data

    with application.app_context():
        db.create_all()
        seed_demo_data(db.session)
        db.session.close()


def _is_fallback(response) -> bool:
    root = ET.fromstring(response.get_data())
    return root.find("Record") is not None and "非常抱歉" in "".join(root.itertext())


def _timed_call(application, call_sid: str) -> tuple[float, object]:
    twilio = TwilioCaller(application.test_client())
    started = time.monotonic()
    response = twilio.post("/twilio/voice", twilio.call_params(call_sid))
    return time.monotonic() - started, response


def _concurrent_calls(application, count: int) -> list[tuple[float, object] | None]:
    """`count` incoming calls at once; None for a call still unanswered after HUNG_AFTER."""
    results: list[tuple[float, object] | None] = [None] * count

    def call(i: int) -> None:
        results[i] = _timed_call(application, f"CA{i:02d}" + "5" * 30)

    threads = [threading.Thread(target=call, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + HUNG_AFTER_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    return results


def _assert_all_fell_back_in_time(results, spool_dir: str) -> None:
    hung = [i for i, result in enumerate(results) if result is None]
    assert not hung, f"calls {hung} got no answer within {HUNG_AFTER_SECONDS} s"
    for elapsed, response in results:
        assert response.status_code == 200
        assert _is_fallback(response), response.get_data(as_text=True)
        assert elapsed < FALLBACK_WITHIN_SECONDS, f"fallback took {elapsed:.2f} s"
    spooled = (Path(spool_dir) / "webhooks.jsonl").read_text().splitlines()
    assert len(spooled) == len(results), "every call that fell back is kept for replay"


@pytest.fixture
def proxied_pg_app(pg_url, make_app, monkeypatch):
    """An app whose PostgreSQL connections go through a pausable proxy; yields (app, proxy)."""
    # Shorter than in production so the test can also watch the app recover.
    monkeypatch.setattr("hotline.db.STALL_BACKOFF_SECONDS", 1.0, raising=False)
    _seed_line(make_app(DATABASE_URL=pg_url))
    parts = urlsplit(pg_url)
    proxy = PausableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else None
    proxied_url = urlunsplit(parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}"))
    application = make_app(DATABASE_URL=proxied_url)
    yield application, proxy
    proxy.stop()


@pytest.mark.postgres
def test_a_lock_held_by_another_connection_gives_the_fallback_within_3_s(
    proxied_pg_app, pg_url, app_config
):
    application, _proxy = proxied_pg_app
    elapsed, response = _timed_call(application, "CA" + "1" * 32)
    assert not _is_fallback(response), "a healthy database answers with the greeting"

    holder = create_engine(pg_url)
    try:
        with holder.connect() as conn:
            conn.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
            results = _concurrent_calls(application, 4)
            conn.rollback()
    finally:
        holder.dispose()
    _assert_all_fell_back_in_time(results, app_config["FALLBACK_SPOOL_DIR"])


@pytest.mark.postgres
def test_a_server_that_stops_answering_gives_the_fallback_within_3_s(proxied_pg_app, app_config):
    application, proxy = proxied_pg_app
    # Two healthy calls leave idle connections in the pool: the stall hits the pre-ping too.
    for sid in ("CA" + "2" * 32, "CA" + "3" * 32):
        _, response = _timed_call(application, sid)
        assert not _is_fallback(response)

    proxy.paused.set()
    try:
        results = _concurrent_calls(application, 8)
    finally:
        proxy.paused.clear()
    _assert_all_fell_back_in_time(results, app_config["FALLBACK_SPOOL_DIR"])

    # The server answers again: after the short back-off the next call is served normally.
    time.sleep(1.2)
    _, response = _timed_call(application, "CA" + "4" * 32)
    assert not _is_fallback(response), response.get_data(as_text=True)


def test_sqlite_write_lock_held_by_another_connection_gives_the_fallback_within_3_s(
    make_app, tmp_path, app_config
):
    path = tmp_path / "locked.sqlite3"
    application = make_app(DATABASE_URL=f"sqlite:///{path}")
    _seed_line(application)
    _, response = _timed_call(application, "CA" + "6" * 32)
    assert not _is_fallback(response)

    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("DELETE FROM webhook_events")
        results = _concurrent_calls(application, 4)
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    _assert_all_fell_back_in_time(results, app_config["FALLBACK_SPOOL_DIR"])


def test_database_timeouts_are_read_from_the_environment_and_cannot_be_switched_off(tmp_path):
    from hotline.config import ConfigError, from_environment

    defaults = from_environment(str(tmp_path), {})
    assert defaults["DB_STATEMENT_TIMEOUT_MS"] == 2000
    assert defaults["DB_CLIENT_TIMEOUT_MS"] is None  # the statement timeout + 0.5 s
    env = {"DB_STATEMENT_TIMEOUT_MS": "1500", "DB_CLIENT_TIMEOUT_MS": "2200"}
    chosen = from_environment(str(tmp_path), env)
    assert (chosen["DB_STATEMENT_TIMEOUT_MS"], chosen["DB_CLIENT_TIMEOUT_MS"]) == (1500, 2200)
    for name in ("DB_STATEMENT_TIMEOUT_MS", "DB_CLIENT_TIMEOUT_MS"):
        for value in ("0", "-5", "soon"):
            with pytest.raises(ConfigError, match=name):
                from_environment(str(tmp_path), {name: value})
