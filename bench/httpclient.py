"""A minimal keep-alive HTTP/1.1 client over asyncio streams (loopback benchmark use only).

Enough of HTTP/1.1 for talking to gunicorn: one request at a time per connection, a pool of
idle connections per target, Content-Length and chunked bodies, `Connection: close`, and a
per-session cookie jar. No TLS, no redirects (the caller decides), no new dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode


class HttpError(Exception):
    """The connection failed or the answer was not HTTP."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Set-Cookie headers, in order (they may repeat, so not folded into `headers`).
    cookies: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip()


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = 0

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a dead socket
            self.writer.close()


class HttpClient:
    """Requests to one host:port, reusing idle keep-alive connections."""

    def __init__(
        self, host: str, port: int, *, timeout: float = 15.0, max_connections: int = 512
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.base_url = f"http://{host}:{port}"
        self._host_header = f"{host}:{port}"
        self._idle: list[Connection] = []
        # At most this many requests at once; the others wait for a connection, and that wait is
        # part of their measured latency (as a request queued in the server's backlog would be).
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0
        # Time-weighted number of requests in flight (the concurrency the server saw).
        self._in_flight = 0
        self._area = 0.0
        self._since = time.perf_counter()
        self._mark = self._since
        self.max_in_flight = 0

    def _count(self, delta: int) -> None:
        now = time.perf_counter()
        self._area += self._in_flight * (now - self._mark)
        self._mark = now
        self._in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def reset_concurrency(self) -> None:
        """Start measuring the mean concurrency afresh."""
        self._count(0)
        self._area = 0.0
        self._since = self._mark
        self.max_in_flight = self._in_flight

    def mean_in_flight(self) -> float:
        self._count(0)
        elapsed = self._mark - self._since
        return self._area / elapsed if elapsed > 0 else 0.0

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), self.timeout
        )
        self.opened += 1
        return Connection(reader, writer)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> Response:
        """Send one request and read the whole answer (bounded by `timeout`)."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host_header}"]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
            if content_type:
                lines.append(f"Content-Type: {content_type}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        started = time.perf_counter()
        self._count(1)
        try:
            async with self._slots:
                response = await self._send(payload)
        finally:
            self._count(-1)
        response.seconds = time.perf_counter() - started
        return response

    async def _send(self, payload: bytes) -> Response:
        for attempt in range(2):
            reused = bool(self._idle)
            try:
                conn = self._idle.pop() if reused else await self._connect()
            except (OSError, TimeoutError) as exc:
                raise HttpError(f"cannot connect: {exc.__class__.__name__}: {exc}") from None
            try:
                conn.writer.write(payload)
                response = await asyncio.wait_for(self._read(conn), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError, OSError) as exc:
                conn.close()
                # A keep-alive connection the server closed while it sat idle: try a new one.
                if reused and attempt == 0:
                    continue
                raise HttpError(f"{exc.__class__.__name__}: {exc}") from None
            except TimeoutError:
                conn.close()
                raise HttpError(f"timeout after {self.timeout} s") from None
            conn.used += 1
            if response.headers.get("connection", "").lower() == "close":
                conn.close()
            else:
                self._idle.append(conn)
            return response
        raise HttpError("unreachable")  # pragma: no cover

    async def _read(self, conn: Connection) -> Response:
        reader = conn.reader
        status_line = await reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HttpError(f"not HTTP: {status_line[:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        cookies: list[str] = []
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            if key == "set-cookie":
                cookies.append(value)
            headers[key] = value
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            body = b"".join(chunks)
        else:
            body = await reader.read()
            headers["connection"] = "close"
        return Response(status, headers, body, cookies)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class Session:
    """A browser-like session on one client: keeps cookies, sends forms."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _keep(self, response: Response) -> Response:
        for raw in response.cookies:
            pair = raw.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if value:
                self.cookies[name.strip()] = value.strip()
            else:
                self.cookies.pop(name.strip(), None)
        return response

    async def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self._keep(await self.client.request("GET", path, headers=self._headers(headers)))

    async def post(
        self, path: str, form: dict[str, str], headers: dict[str, str] | None = None
    ) -> Response:
        return self._keep(
            await self.client.request(
                "POST",
                path,
                body=urlencode(form).encode(),
                headers=self._headers(headers),
                content_type="application/x-www-form-urlencoded",
            )
        )
