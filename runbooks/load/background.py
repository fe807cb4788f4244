"""Open-loop load in a worker process of its own (`runbooks.load.worker`), recording every
request to a file, with a clock aligned to the worker's schedule: drills and chaos experiments
measure the windows of their steps against it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from runbooks.errors import RunbookError
from runbooks.load import generator as loadgen
from runbooks.targets.target import Target

STRAGGLER_S = 0.05  # requests sent just before a window closes finish within this


class BackgroundLoad:
    """Open-loop load for a drill or an experiment, recording every request."""

    def __init__(
        self, target: Target, model: str, rate: float, duration_s: float, folder: Path
    ) -> None:
        inputs = loadgen.metadata_inputs(target.endpoint(), model)
        request = loadgen.infer_request(target.endpoint(), model, inputs)
        self.spec = folder / "load-request.json"
        self.records_file = folder / "load-records.jsonl"
        folder.mkdir(parents=True, exist_ok=True)
        self.spec.write_text(
            json.dumps(
                {
                    "url": request.url,
                    "body": request.body.decode(),
                    "headers": dict(request.headers),
                    "rate": rate,
                    "duration_s": duration_s,
                }
            )
        )
        self.records_file.unlink(missing_ok=True)
        self.rate, self.duration = rate, duration_s
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

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

    def stop(self) -> None:
        """End the load now (the drill is over, or was interrupted)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def now(self) -> float:
        """Seconds since the load started (the drill's clock)."""
        return time.monotonic() - self.started

    def records(self) -> list[loadgen.RequestRecord]:
        """Every request finished so far."""
        if not self.records_file.exists():
            return []
        lines = self.records_file.read_text().splitlines()
        return [loadgen.RequestRecord(**json.loads(line)) for line in lines if line.endswith("}")]

    def window(self, start: float, end: float) -> loadgen.LoadSummary:
        """The requests scheduled between `start` and `end` (waiting for those still out)."""
        time.sleep(max(0.0, end + STRAGGLER_S - self.now()))
        return window_summary(self.records(), start, end, self.rate)


def window_summary(
    records: list[loadgen.RequestRecord], start: float, end: float, rate: float
) -> loadgen.LoadSummary:
    """The summary of the requests scheduled between `start` and `end` (load-clock seconds)."""
    chosen = [r for r in records if start <= r.scheduled_s < end]
    return loadgen.summarize(chosen, rate=rate, duration_s=max(end - start, 1e-3))
