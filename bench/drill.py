"""Benchmark: `make drill`'s drill (aws-primary -> gcp-standby, 200 requests/s, default canary
steps) three times on one sandbox: RTO, failed requests, p99 per phase and wall time.

Targets: 0 failed requests out of at least 10,000; p99 during the canary and cutover at most
2x the baseline; RTO at most the sum of the canary holds plus 1 s. Prints a table and writes
bench/results/drill.json.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXITPLAN = str(Path(sys.executable).parent / "exitplan")
REPEATS = 3
RATE = 200
CANARY = (1, 10, 50, 100)
HOLD_S = 5.0


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the exitplan CLI in the project."""
    return subprocess.run([EXITPLAN, *args], cwd=ROOT, check=check, capture_output=True, text=True)


def main() -> None:
    """Three drills; print the table; write the JSON; always take the sandbox down."""
    cli("sandbox", "down")
    runs: list[dict[str, Any]] = []
    try:
        cli("sandbox", "up")
        for _ in range(REPEATS):
            start = time.perf_counter()
            result = cli(
                "drill",
                "exit-plan",
                "--from",
                "aws-primary",
                "--to",
                "gcp-standby",
                "--rate",
                str(RATE),
                "--json",
                check=False,
            )
            wall = time.perf_counter() - start
            report = json.loads(result.stdout)
            phases = {p["name"]: p for p in report["phases"]}
            runs.append(
                {
                    "exit_code": result.returncode,
                    "wall_s": round(wall, 1),
                    "rto_s": report["rto_measured_s"],
                    "sent": sum(p["sent"] for p in report["phases"]),
                    "failed": sum(p["failed"] for p in report["phases"]),
                    "p99_ms": {name: round(p["p99_ms"], 2) for name, p in phases.items()},
                }
            )
    finally:
        cli("sandbox", "down")
    names = list(runs[0]["p99_ms"])
    print(
        f"{'run':>3} {'exit':>4} {'wall s':>7} {'RTO s':>6} {'sent':>6} {'failed':>6}  "
        + "  ".join(f"{n[:10]:>10}" for n in names)
    )
    for i, run in enumerate(runs, 1):
        print(
            f"{i:>3} {run['exit_code']:>4} {run['wall_s']:>7.1f} {run['rto_s']:>6.1f} "
            f"{run['sent']:>6} {run['failed']:>6}  "
            + "  ".join(f"{run['p99_ms'][n]:>10.2f}" for n in names)
        )
    rto_limit = len(CANARY) * HOLD_S + 1
    moving = [n for n in names if n.startswith("canary") or n == "cutover"]
    ok_failed = sum(r["failed"] for r in runs) == 0 and sum(r["sent"] for r in runs) >= 10_000
    ok_p99 = all(r["p99_ms"][n] <= 2 * r["p99_ms"]["baseline"] for r in runs for n in moving)
    ok_rto = all(r["rto_s"] <= rto_limit for r in runs)
    print(
        f"0 failed of >= 10,000: {ok_failed}; canary/cutover p99 <= 2x baseline: {ok_p99}; "
        f"RTO <= {rto_limit:g} s (the canary holds + 1 s): {ok_rto}"
    )
    out = ROOT / "bench" / "results" / "drill.json"
    out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "rate": RATE,
                "canary": CANARY,
                "hold_s": HOLD_S,
                "runs": runs,
                "targets": {"no_failures": ok_failed, "p99_within_2x": ok_p99, "rto": ok_rto},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
