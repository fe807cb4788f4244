"""The load generator in a process of its own, so that a drill's other work (API calls, journal
writes) cannot delay its requests: `python -m runbooks.load.worker REQUEST.json RECORDS.jsonl`.

REQUEST.json: {"url", "body" (text), "headers", "rate", "duration_s"}. Each finished request is
appended to RECORDS.jsonl as one JSON object (the fields of `RequestRecord`); RECORDS.start
holds the wall-clock time the run's schedule starts from."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from runbooks.load.generator import InferRequest, RequestRecord, load


def main(argv: list[str]) -> int:
    """Run one load as described by the request file; stream the records."""
    spec = json.loads(Path(argv[0]).read_text())
    request = InferRequest(spec["url"], spec["body"].encode(), spec.get("headers", {}))
    records = Path(argv[1])
    with records.open("a", buffering=1) as out:

        def write(record: RequestRecord) -> None:
            out.write(json.dumps(asdict(record)) + "\n")

        # The run's clock starts now: the drill aligns its own clock on this file.
        records.with_suffix(".start").write_text(str(time.time()))
        load(request, rate=spec["rate"], duration_s=spec["duration_s"], on_record=write)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
