"""Open-loop load in a worker process of its own (`runbooks.load.worker`), recording every
request to a file, with a clock aligned to the worker's schedule: drills and chaos experiments
measure the windows of their steps against it. The worker dies with the process that started it
(`runbooks.load.worker`: parent-death signal and watchdog), SIGKILL included."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runbooks.errors import RunbookError
from runbooks.load import generator as loadgen
from runbooks.targets.target import Target

STRAGGLER_S = 0.05  # a record reaches the file within this after its request ends
CLIENT_TIMEOUT_S = 2.0  # the worker's per-request timeout (`run_load`'s default)


class BackgroundLoad:
    """Open-loop load for a drill or an experiment, recording every request."""

    def __init__(
        self,
        target: Target,
        model: str,
        rate: float,
        duration_s: float,
        folder: Path,
        reference: Path | None = None,
    ) -> None:
        """Load at `rate` for at most `duration_s` (`stop` ends it sooner); with `reference`
        (else the target's reference answers) every answer is checked against it."""
        self.reference = reference or target.reference_answers()
        self.spec = folder / "load-request.json"
        self.records_file = folder / "load-records.jsonl"
        folder.mkdir(parents=True, exist_ok=True)
        self.spec.write_text(
            json.dumps(
                {
                    **_requests(target, model, self.reference),
                    "rate": rate,
                    "duration_s": duration_s,
                    "parent_pid": os.getpid(),
                }
            )
        )
        for suffix in (".jsonl", ".done"):
            self.records_file.with_suffix(suffix).unlink(missing_ok=True)
        self.rate, self.duration = rate, duration_s
        self.count = max(1, math.ceil(rate * duration_s - 1e-9))  # the worker's schedule
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.scheduled: int | None = None  # known once stopped
        self._records: list[loadgen.RequestRecord] = []
        self._offset = 0

    def start(self, timeout_s: float = 30) -> None:
        """Start the worker and align the drill's clock with its schedule."""
        started_file = self.records_file.with_suffix(".start")
        started_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runbooks.load.worker", str(self.spec), str(self.records_file)]
        )
        deadline = time.monotonic() + timeout_s
        while not started_file.exists() or not started_file.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RunbookError(
                    "the load generator did not start", fix="run exitplan load to see why"
                )
            time.sleep(0.02)
        epoch = float(started_file.read_text())
        self.started = time.monotonic() - (time.time() - epoch)

    def stop(self) -> int:
        """End the load now (the drill is over, or was interrupted): the schedule stops, what
        was sent is waited for (at most the client timeout) and recorded. Returns how many
        requests were scheduled (the worker's count; from the schedule if it had to be killed)."""
        if self.scheduled is not None:
            return self.scheduled
        if self.process is None:  # never started
            self.scheduled = 0
            return 0
        stopped_at = self.now()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)
            try:
                self.process.wait(timeout=CLIENT_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        done = self.records_file.with_suffix(".done")
        if done.is_file():
            self.scheduled = int(json.loads(done.read_text())["scheduled"])
        else:  # killed: every request due by the time it was asked to stop
            self.scheduled = min(self.count, math.floor(stopped_at * self.rate) + 1)
        return self.scheduled

    def now(self) -> float:
        """Seconds since the load started (the drill's clock)."""
        return time.monotonic() - self.started

    def records(self) -> list[loadgen.RequestRecord]:
        """Every request finished so far (the file is read from where the last call ended)."""
        if not self.records_file.exists():
            return list(self._records)
        with self.records_file.open("rb") as data:
            data.seek(self._offset)
            chunk = data.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a record still being written waits
        self._offset += len(complete)
        for line in complete.splitlines():
            self._records.append(loadgen.RequestRecord(**json.loads(line)))
        return list(self._records)

    def accounted(self) -> list[loadgen.RequestRecord]:
        """Every scheduled request, once stopped: its record, or a `lost` one."""
        return loadgen.account(self.records(), self.rate, self.stop())

    def window(self, start: float, end: float) -> loadgen.LoadSummary:
        """The requests scheduled between `start` and `end`: waits until every one of them
        has finished (at most the client timeout after `end`); one still missing then is
        counted as `lost`."""
        wanted = _due(start, end, self.rate, self.count)
        deadline = self.started + end + CLIENT_TIMEOUT_S + STRAGGLER_S
        while True:
            records = [r for r in self.records() if start <= r.scheduled_s < end]
            alive = self.process is not None and self.process.poll() is None
            if len(records) >= len(wanted) or not alive or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        seen = {round(r.scheduled_s * self.rate) for r in records}
        lost = [
            loadgen.RequestRecord(i / self.rate, i / self.rate, 0.0, 0, loadgen.LOST, "")
            for i in wanted
            if i not in seen and i / self.rate + CLIENT_TIMEOUT_S < self.now()
        ]
        return window_summary([*records, *lost], start, end, self.rate)


def _due(start: float, end: float, rate: float, count: int) -> list[int]:
    """The indices of the requests of a schedule (i due at i / rate, i < count) due between
    `start` and `end`, by the same float arithmetic as the records' `scheduled_s`."""
    around = range(max(0, math.floor(start * rate) - 1), min(count, math.ceil(end * rate) + 1))
    return [i for i in around if start <= i / rate < end]


def _requests(target: Target, model: str, reference: Path | None) -> dict[str, object]:
    """What the worker sends: the reference requests (answers checked), else one request
    built from the model's metadata."""
    if reference is not None:
        return {"reference": str(reference), "base_url": target.endpoint()}
    inputs = loadgen.metadata_inputs(target.endpoint(), model)
    request = loadgen.infer_request(target.endpoint(), model, inputs)
    return {"url": request.url, "body": request.body.decode(), "headers": dict(request.headers)}


def window_summary(
    records: list[loadgen.RequestRecord], start: float, end: float, rate: float
) -> loadgen.LoadSummary:
    """The summary of the requests scheduled between `start` and `end` (load-clock seconds)."""
    chosen = [r for r in records if start <= r.scheduled_s < end]
    return loadgen.summarize(chosen, rate=rate, duration_s=max(end - start, 1e-3))
