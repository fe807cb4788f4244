"""Open-loop load generation for KServe v2 / Triton HTTP inference.

Requests go out on a fixed schedule (request i is due `i / rate` seconds after the start) whether
or not earlier ones have returned, so a slow or failing backend cannot slow the generator down and
hide itself (no coordinated omission). Latency is measured from the *scheduled* time; the actual
send time is recorded too, and its lag behind the schedule is reported (p50, p99, max).

Every scheduled request ends as exactly one record: an answer, an HTTP error, a timeout, a
connection error, `wrong_answer` (a 2xx whose body is not the reference answer, when the
requests carry one), or `error:<Type>` for anything unexpected. `account` adds a `lost` record
for a request a worker scheduled but never reported, so totals always equal the schedule.

Plain `http://` requests go out through `runbooks.load.http` (keep-alive connections, each
request's bytes built once: a fraction of aiohttp's CPU per request, so the generator keeps its
schedule at thousands of requests per second); any other URL (https) through aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from runbooks.load import http
from runbooks.load.kserve import DATATYPES, ExpectedAnswer, infer_body, read_reference

BUCKET_S = 0.1
WRONG_ANSWER = "wrong_answer"
LOST = "lost"  # scheduled, yet no record came back (a worker killed, a record not written)
ACCEPTED_BODIES = 16  # right answers remembered byte for byte, per request


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it was due and sent (seconds since the run started) and its outcome."""

    scheduled_s: float
    sent_s: float
    latency_ms: float
    status: int
    error: str
    served_by: str


@dataclass(frozen=True)
class LoadSummary:
    """Aggregates of a run; latency percentiles are over successful requests only."""

    rate: float
    duration_s: float
    sent: int
    ok: int
    failed: int
    achieved_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    share: dict[str, float]
    timeline: list[dict[str, Any]]
    # how late requests went out behind their schedule (the generator's own lag), ms
    lag_p50_ms: float = 0.0
    lag_p99_ms: float = 0.0
    lag_max_ms: float = 0.0
    wrong_answers: int = 0
    lost: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of the summary."""
        return asdict(self)


@dataclass(frozen=True)
class InferRequest:
    """A ready-to-send inference request: the same body bytes are reused for every send; with
    `expected`, every 2xx answer is checked against it (else it is a `wrong_answer`)."""

    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    expected: ExpectedAnswer | None = None


def infer_request(base_url: str, model: str, inputs: Mapping[str, np.ndarray]) -> InferRequest:
    """A KServe v2 JSON infer request for `model` at `base_url` with the named input arrays."""
    url = f"{base_url.rstrip('/')}/v2/models/{model}/infer"
    return InferRequest(url, infer_body(inputs), {"Content-Type": "application/json"})


def reference_requests(base_url: str, reference: Path) -> list[InferRequest]:
    """One request per reference answer in `reference` (a package's reference.json), each
    checked against its answer: `run_load` sends them in turn."""
    model, cases = read_reference(reference)
    url = f"{base_url.rstrip('/')}/v2/models/{model}/infer"
    headers = {"Content-Type": "application/json"}
    return [InferRequest(url, case.body, headers, case.expected) for case in cases]


@dataclass(frozen=True)
class _Send:
    """One request as `run_load` sends it: its prepared bytes and pool (plain http), else
    aiohttp's arguments; `accepted` holds response bodies already checked right."""

    request: InferRequest
    prepared: http.PreparedRequest | None
    pool: http.Pool | None
    headers: dict[str, str] | None
    accepted: set[bytes]


def _check(rate: float, duration_s: float) -> None:
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a finite number of requests per second > 0, got {rate!r}")
    if not (isinstance(duration_s, int | float) and math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a finite number of seconds > 0, got {duration_s!r}")


async def run_load(
    request: InferRequest | Sequence[InferRequest],
    *,
    rate: float,
    duration_s: float,
    timeout_s: float = 2.0,
    served_by_header: str = "x-served-by",
    max_connections: int = 256,
    on_record: Callable[[RequestRecord], None] | None = None,
    on_start: Callable[[float], object] | None = None,
    stop: asyncio.Event | None = None,
) -> tuple[LoadSummary, list[RequestRecord]]:
    """Send `request` (or each of several in turn) at a constant `rate` for `duration_s` (open
    loop) and wait for the replies.

    Each request may take at most `timeout_s` from its send; records come back by scheduled time.
    `on_start` gets the wall-clock time the schedule starts from, taken with the loop's clock;
    setting `stop` ends the schedule early (what was sent is still waited for and recorded).
    """
    _check(rate, duration_s)
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    if max_connections < 1:
        raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
    requests = [request] if isinstance(request, InferRequest) else list(request)
    if not requests:
        raise ValueError("no request to send")
    loop = asyncio.get_running_loop()
    count = max(1, math.ceil(rate * duration_s - 1e-9))
    pools: dict[http.Endpoint, http.Pool] = {}
    sends: list[_Send] = []
    for r in requests:
        try:
            prepared: http.PreparedRequest | None = http.prepare(r.url, r.body, r.headers)
        except ValueError:  # not plain http: aiohttp's
            prepared = None
        pool = None
        if prepared is not None:
            pool = pools.get(prepared.endpoint)
            if pool is None:
                pool = http.Pool(prepared.endpoint, limit=max_connections, header=served_by_header)
                pools[prepared.endpoint] = pool
        sends.append(_Send(r, prepared, pool, dict(r.headers) or None, set()))
    records: list[RequestRecord] = []
    outstanding: set[asyncio.Task[None]] = set()
    session = None
    if any(send.pool is None for send in sends):
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=30.0),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            # Answers are read to be checked: ask for them uncompressed (aiohttp asks for gzip
            # by default, and Triton then compresses every response) rather than decompress
            # each one.
            headers={"Content-Type": "application/json", "Accept-Encoding": "identity"},
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
        )
    start = loop.time()
    if on_start is not None:
        on_start(time.time() - (loop.time() - start))

    async def one(index: int, scheduled: float) -> None:
        sent = loop.time() - start
        send = sends[index % len(sends)]
        expected = send.request.expected
        status, error, served, payload = 0, "", "", b""
        done = 0.0
        try:
            if send.pool is not None and send.prepared is not None:
                status, served, payload = await send.pool.post(send.prepared, timeout_s)
            else:
                assert session is not None
                url, body = send.request.url, send.request.body
                async with session.post(url, data=body, headers=send.headers) as response:
                    status = response.status
                    served = response.headers.get(served_by_header, "")
                    payload = await response.read()
            done = loop.time()
            if status >= 400:
                error = f"http-{status}"
            elif expected is not None and payload not in send.accepted:
                # the bytes of an answer already checked are that answer: no JSON parse
                if not expected.matches(payload):
                    error = WRONG_ANSWER
                elif len(send.accepted) < ACCEPTED_BODIES:
                    send.accepted.add(payload)
        except TimeoutError:
            error = "timeout"
        except (aiohttp.ClientConnectionError, OSError):  # OSError: http.Pool's connections
            error = "connection"
        except (aiohttp.ClientError, http.ResponseError):
            error = "client"
        except asyncio.CancelledError:  # still outstanding when the run's final wait ran out
            error = "timeout"
        except Exception as exc:  # anything else is a failed request too, never a lost one
            error = f"error:{type(exc).__name__}"
        latency_ms = ((done or loop.time()) - start - scheduled) * 1000.0
        record = RequestRecord(scheduled, sent, latency_ms, status, error, served)
        records.append(record)
        if on_record is not None:
            on_record(record)

    try:
        i = 0
        while i < count and not (stop is not None and stop.is_set()):
            now = loop.time()
            while i < count and start + i / rate <= now:  # launch everything that is due
                task = loop.create_task(one(i, i / rate))
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)
                i += 1
            wait = start + i / rate - loop.time() if i < count else 0.0
            # always yield so launched requests can start; at most 1/rate, so `stop` is seen soon
            await asyncio.sleep(max(0.0, wait))
        if outstanding:
            await asyncio.wait(set(outstanding), timeout=timeout_s + 0.5)
    finally:
        pending = set(outstanding)
        for task in pending:
            task.cancel()  # recorded as "timeout"
        if pending:
            await asyncio.wait(pending)
        for pool in pools.values():
            pool.close()
        if pools:
            await asyncio.sleep(0)  # let the aborted connections close their sockets
        if session is not None:
            await session.close()
    records.sort(key=lambda r: r.scheduled_s)
    return summarize(records, rate=rate, duration_s=duration_s), records


def account(records: Sequence[RequestRecord], rate: float, scheduled: int) -> list[RequestRecord]:
    """`records` plus a `lost` record for each of the first `scheduled` requests of a run at
    `rate` that has none (request i is due at i / rate), by scheduled time."""
    seen = {round(r.scheduled_s * rate) for r in records}
    lost = [
        RequestRecord(i / rate, i / rate, 0.0, 0, LOST, "")
        for i in range(scheduled)
        if i not in seen
    ]
    return sorted([*records, *lost], key=lambda r: r.scheduled_s)


def load(
    request: InferRequest | Sequence[InferRequest], *, rate: float, duration_s: float, **kwargs: Any
) -> tuple[LoadSummary, list[RequestRecord]]:
    """`run_load` in a fresh event loop (`asyncio.run`), for synchronous callers."""
    return asyncio.run(run_load(request, rate=rate, duration_s=duration_s, **kwargs))


def _percentiles(latencies: Sequence[float], qs: Sequence[float]) -> list[float]:
    if not latencies:
        return [0.0] * len(qs)
    return [float(v) for v in np.percentile(np.asarray(latencies), qs, method="linear")]


def _share(served_by: Iterable[str]) -> dict[str, float]:
    counts = Counter(served_by)
    total = sum(counts.values())
    return {key: n / total for key, n in sorted(counts.items())} if total else {}


def summarize(records: Sequence[RequestRecord], *, rate: float, duration_s: float) -> LoadSummary:
    """Aggregate records of a run at `rate` for `duration_s` into a `LoadSummary`.

    `lag_*_ms` is how late requests were sent behind their schedule (lost ones excluded).
    `achieved_rate` is successful completions per second over the run: `ok / max(duration_s,
    time of the last completion)`, so a generator or backend that falls behind shows a lower rate.
    The timeline buckets requests by scheduled time (100 ms buckets) and sums to the totals.
    """
    _check(rate, duration_s)
    good = [r for r in records if not r.error]
    latencies = [r.latency_ms for r in good]
    p50, p90, p99 = _percentiles(latencies, (50, 90, 99))
    lags = [(r.sent_s - r.scheduled_s) * 1000.0 for r in records if r.error != LOST]
    lag50, lag99 = _percentiles(lags, (50, 99))
    errors = Counter(r.error for r in records if r.error)
    last_done = max((r.scheduled_s + r.latency_ms / 1000.0 for r in records), default=0.0)
    buckets: list[list[RequestRecord]] = [
        [] for _ in range(max(1, math.ceil(duration_s / BUCKET_S - 1e-9)))
    ]
    for r in records:
        index = int(r.scheduled_s / BUCKET_S + 1e-6)
        buckets[min(max(index, 0), len(buckets) - 1)].append(r)
    timeline: list[dict[str, Any]] = []
    for k, bucket in enumerate(buckets):
        bucket_good = [r for r in bucket if not r.error]
        b50, b99 = _percentiles([r.latency_ms for r in bucket_good], (50, 99))
        timeline.append(
            {
                "t_s": round(k * BUCKET_S, 6),
                "sent": len(bucket),
                "ok": len(bucket_good),
                "failed": len(bucket) - len(bucket_good),
                "p50_ms": b50,
                "p99_ms": b99,
                "share": _share(r.served_by for r in bucket_good),
            }
        )
    return LoadSummary(
        rate=float(rate),
        duration_s=float(duration_s),
        sent=len(records),
        ok=len(good),
        failed=len(records) - len(good),
        achieved_rate=len(good) / max(duration_s, last_done),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        max_ms=max(latencies, default=0.0),
        errors=dict(sorted(errors.items())),
        share=_share(r.served_by for r in good),
        timeline=timeline,
        lag_p50_ms=lag50,
        lag_p99_ms=lag99,
        lag_max_ms=max(lags, default=0.0),
        wrong_answers=errors[WRONG_ANSWER],
        lost=errors[LOST],
    )


def metadata_inputs(base_url: str, model: str, timeout_s: float = 5.0) -> dict[str, np.ndarray]:
    """One row of valid inputs for `model`, from Triton's model metadata (`GET
    /v2/models/<model>`): random floats, zero integers, variable axes of size 1."""
    import json as json_module
    import urllib.request

    url = f"{base_url.rstrip('/')}/v2/models/{model}"
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        metadata = json_module.loads(response.read())
    numpy_types = {v: k for k, v in DATATYPES.items()}
    rng = np.random.default_rng(0)
    inputs = {}
    for tensor in metadata["inputs"]:
        dtype = np.dtype(numpy_types[tensor["datatype"]])
        shape = [1, *(d if d > 0 else 1 for d in tensor["shape"][1:])]
        inputs[tensor["name"]] = (
            rng.standard_normal(shape).astype(dtype)
            if dtype.kind == "f"
            else np.zeros(shape, dtype)
        )
    return inputs


# The worker writes each record as its request ends, so the file is in completion order; a
# backwards read stops this far before the window (slack for records written out of order).
ORDER_SLACK_S = 1.0


def recent_error_rate(records_file: Path, window_s: float) -> float | None:
    """The failed share of the requests a background load (`runbooks.load.worker`) finished
    in the last `window_s` seconds, or None when it finished none. Reads the file from its end,
    only as far back as the window (plus ORDER_SLACK_S): a stop-condition check after each
    step of a long run costs the same at its end as at its start."""
    epoch = float(records_file.with_suffix(".start").read_text())
    now = time.time() - epoch
    statuses = []
    for line in _lines_backwards(records_file):
        if not line.endswith(b"}"):
            continue  # a record still being written
        record = json.loads(line)
        done = record["scheduled_s"] + record["latency_ms"] / 1000.0
        if done < now - window_s - ORDER_SLACK_S:
            break
        if now - window_s <= done <= now:
            statuses.append(bool(record["error"]))
    return sum(statuses) / len(statuses) if statuses else None


def _lines_backwards(path: Path, block: int = 1 << 16) -> Iterator[bytes]:
    """The lines of `path`, last first, read in blocks from the end."""
    with path.open("rb") as data:
        position = data.seek(0, os.SEEK_END)
        pending = b""  # the start of a line cut by the block boundary
        while position > 0:
            step = min(block, position)
            position -= step
            data.seek(position)
            lines = (data.read(step) + pending).split(b"\n")
            pending = lines.pop(0) if position > 0 else b""
            yield from reversed(lines)
