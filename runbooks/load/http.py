"""A small HTTP/1.1 client for the load generator: plain `http://` POSTs over a pool of
keep-alive connections (asyncio.Protocol), each request's bytes built once.

aiohttp's `ClientSession.post` costs a few hundred µs of CPU per request, which is what held
the open-loop generator back at a few thousand requests per second; this costs a fraction of
that. It does only what the generator needs: one request at a time per connection (no
pipelining), Content-Length request bodies, responses framed by Content-Length, chunked
transfer-encoding or the connection's end, no compression (it asks for `identity`).

Failures raise `ConnectionError` (or another `OSError`) when the connection could not be made
or ended before a response's headers, `ResponseError` for a malformed or cut-short response,
and `TimeoutError` when no answer came within the request's timeout (the connection it was
waiting on is dropped).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

IDLE_S = 30.0  # an idle connection older than this is closed rather than reused
MAX_HEAD = 64 * 1024


class ResponseError(Exception):
    """A response that is not HTTP/1.x, or one cut short in its body."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: a plain-HTTP host and port."""

    host: str
    port: int


@dataclass(frozen=True)
class PreparedRequest:
    """A POST's bytes (request line, headers and body), built once, and where it goes."""

    endpoint: Endpoint
    data: bytes


def prepare(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> PreparedRequest:
    """The bytes of a POST of `body` to an `http://` `url` with `headers` (Content-Type is
    application/json unless given; Host, Content-Length and Accept-Encoding: identity are
    set here). ValueError for a URL that is not plain http (https, or with credentials)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username is not None:
        raise ValueError(f"not a plain http:// URL: {url!r}")
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    fields = {
        "Host": host if port == 80 else f"{host}:{port}",
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
    }
    names = {name.lower(): name for name in fields}
    for name, value in (headers or {}).items():
        if name.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        fields.pop(names.get(name.lower(), name), None)
        fields[name] = value
    fields["Content-Length"] = str(len(body))
    head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    return PreparedRequest(Endpoint(parts.hostname, port), (head + "\r\n").encode("latin-1") + body)


Answer = tuple[int, str, bytes]  # status, the wanted header's value ("" when absent), body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request and parses its response."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[Answer] | None = None
        self._buffer = bytearray()
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._served = ""
        self._length = -1  # body bytes expected; -1: headers not read yet
        self._chunked = False
        self._until_close = False
        self._keep_alive = True
        self._body = bytearray()  # a chunked body, decoded so far

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing asked: a server talking out of turn
            self.abort()
            return
        self._buffer += data
        try:
            self._parse()
        except ResponseError as exc:
            self._fail(exc)
            self.abort()

    def eof_received(self) -> bool:
        self.closed = True
        if self._waiter is not None and self._until_close and self._length >= 0:
            self._finish(bytes(self._buffer))
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._transport = None
        if self._waiter is not None:
            if self._until_close and self._length >= 0:
                self._finish(bytes(self._buffer))
            elif self._length >= 0:
                self._fail(ResponseError("the connection closed in the response's body"))
            else:
                self._fail(exc or ConnectionResetError("the server closed the connection"))
        self._pool._lost(self)

    # the pool's side
    def send(self, data: bytes, waiter: asyncio.Future[Answer]) -> None:
        """Send a prepared request; `waiter` gets its answer."""
        assert self._transport is not None
        self._waiter = waiter
        self._transport.write(data)

    def owns(self, waiter: asyncio.Future[Answer]) -> bool:
        """Whether `waiter`'s response is still awaited on this connection."""
        return self._waiter is waiter

    def expire(self, waiter: asyncio.Future[Answer]) -> None:
        """The request's timeout: fail it (the connection is dropped by `Pool.post`)."""
        if self._waiter is waiter and not waiter.done():
            waiter.set_exception(TimeoutError())

    def abort(self) -> None:
        """Drop the connection now (`connection_lost` follows)."""
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Close the connection gracefully."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    # parsing
    def _parse(self) -> None:
        buf = self._buffer
        if self._length < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise ResponseError("response headers too long")
                return
            self._head(bytes(buf[:end]))
            del buf[: end + 4]
            if 100 <= self._status < 200:  # an interim response: the real one follows
                self._reset()
                self._parse()
                return
        if self._chunked:
            self._dechunk()
        elif not self._until_close and len(buf) >= self._length:
            if len(buf) > self._length:
                raise ResponseError("more bytes than the response's Content-Length")
            body = bytes(buf)
            buf.clear()
            self._finish(body)

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        status_line = lines[0].split(None, 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise ResponseError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        try:
            self._status = int(status_line[1])
        except ValueError:
            raise ResponseError(f"bad status: {lines[0][:80]!r}") from None
        self._keep_alive = status_line[0] != b"HTTP/1.0"
        length = -1
        wanted = self._pool.header
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise ResponseError(f"bad header line: {line[:80]!r}")
            key = name.strip().lower()
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ResponseError(f"bad Content-Length: {value[:40]!r}") from None
                if length < 0:
                    raise ResponseError(f"bad Content-Length: {value[:40]!r}")
            elif key == wanted:
                self._served = value.strip().decode("latin-1")
            elif key == b"transfer-encoding":
                self._chunked = b"chunked" in value.lower()
            elif key == b"connection":
                token = value.strip().lower()
                if token == b"close":
                    self._keep_alive = False
                elif token == b"keep-alive":
                    self._keep_alive = True
        if self._status in (204, 304):
            length = 0
        if self._chunked:
            self._length = 0
        elif length >= 0:
            self._length = length
        else:  # no framing: the body runs to the connection's end
            self._length = 0
            self._until_close = True
            self._keep_alive = False

    def _dechunk(self) -> None:
        buf = self._buffer
        while True:
            end = buf.find(b"\r\n")
            if end < 0:
                return
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ResponseError(f"bad chunk size: {size_text[:20]!r}") from None
            if size == 0:  # the last chunk, then trailers up to an empty line
                trailer_end = buf.find(b"\r\n\r\n", end)  # no trailers: right at `end`
                if trailer_end < 0:
                    return
                del buf[: trailer_end + 4]
                if buf:
                    raise ResponseError("bytes after the response's last chunk")
                body = bytes(self._body)
                self._finish(body)
                return
            if len(buf) < end + 2 + size + 2:
                return
            self._body += buf[end + 2 : end + 2 + size]
            del buf[: end + 2 + size + 2]

    def _finish(self, body: bytes) -> None:
        waiter, answer = self._waiter, (self._status, self._served, body)
        keep = self._keep_alive and not self.closed
        self._waiter = None
        self._reset()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)
        if keep:
            self._pool._release(self)
        else:
            self.close()

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        self._waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Pool:
    """Keep-alive connections to one endpoint, at most `limit` open; a request waits for one
    when all are busy. `header`: the response header whose value each answer carries."""

    def __init__(self, endpoint: Endpoint, *, limit: int, header: str) -> None:
        self.endpoint = endpoint
        self.limit = limit
        self.header = header.lower().encode("latin-1")
        self._loop = asyncio.get_running_loop()
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def post(self, request: PreparedRequest, timeout_s: float) -> Answer:
        """Send `request` and return its answer: (status, the header's value, body)."""
        loop = self._loop
        deadline = loop.time() + timeout_s
        conn = self._take()
        if conn is None:
            async with asyncio.timeout_at(deadline):
                conn = await self._connect()
        waiter: asyncio.Future[Answer] = loop.create_future()
        conn.send(request.data, waiter)
        timer = loop.call_at(deadline, conn.expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            if conn.owns(waiter):  # timed out or cancelled: its answer may still come
                conn.abort()

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()  # the most recently used: the least likely to be stale
            if not conn.closed and now - conn.idle_since < IDLE_S:
                return conn
            conn.close()
        return None

    async def _connect(self) -> _Connection:
        while True:
            conn = self._take()
            if conn is not None:
                return conn
            if len(self._open) + self._opening < self.limit:
                break
            wake: asyncio.Future[None] = self._loop.create_future()
            self._waiters.append(wake)
            try:
                await wake
            except BaseException:  # timed out or cancelled: pass a wake-up it got on
                if wake.done() and not wake.cancelled():
                    self._wake()
                wake.cancel()
                raise
        self._opening += 1
        try:
            _transport, conn = await self._loop.create_connection(
                lambda: _Connection(self), self.endpoint.host, self.endpoint.port
            )
        except BaseException:
            self._wake()
            raise
        finally:
            self._opening -= 1
        if conn.closed:  # lost already
            raise ConnectionResetError("the server closed the connection")
        self._open.add(conn)
        return conn

    def _wake(self) -> None:
        while self._waiters:
            wake = self._waiters.popleft()
            if not wake.done():
                wake.set_result(None)
                return

    def _release(self, conn: _Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._wake()

    def _lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        self._wake()

    def close(self) -> None:
        """Close every connection."""
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()
