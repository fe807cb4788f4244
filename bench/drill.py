"""Benchmark: `make drill`'s drill (aws-primary -> gcp-standby, 200 requests/s, default canary
steps) three times on one sandbox: RTO (configured holds + measured overhead), requests
scheduled vs accounted in the journal's rows (transitions included), failed, wrong answers
(every answer is checked against the package's reference answers), lost, generator lag, p99
per gated phase and wall time.

Targets: scheduled == accounted and 0 lost in every run; 0 failed (0 wrong answers) out of at
least 10,000; p99 during the canary and cutover at most 2x the baseline; overhead (RTO minus
the configured holds) at most 1 s. The RTO itself is mostly the configured holds: it is no
recovery time. Prints a table and writes bench/results/drill.json.
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
            gated = {p["name"]: p for p in report["phases"] if p.get("kind") == "phase"}
            load = report["load"]
            runs.append(
                {
                    "exit_code": result.returncode,
                    "verdict": report["verdict"]["summary"],
                    "wall_s": round(wall, 1),
                    "rto_s": report["rto_measured_s"],
                    "holds_s": report["cutover"]["holds_s"],
                    "overhead_s": report["cutover"]["overhead_s"],
                    "scheduled": load["scheduled"],
                    "accounted": sum(p["sent"] for p in report["phases"]),
                    "failed": load["failed"],
                    "wrong_answers": load["wrong_answers"],
                    "lost": load["lost"],
                    "lag_p99_ms": round(load["lag_p99_ms"], 2),
                    "p99_ms": {name: round(p["p99_ms"], 2) for name, p in gated.items()},
                }
            )
    finally:
        cli("sandbox", "down")
    names = list(runs[0]["p99_ms"])
    print(
        f"{'run':>3} {'exit':>4} {'wall s':>7} {'RTO s':>6} {'holds':>5} {'ovh s':>5} "
        f"{'sched':>6} {'acct':>6} {'failed':>6} {'wrong':>5} {'lost':>4} {'lag99':>6}  "
        + "  ".join(f"{n[:10]:>10}" for n in names)
    )
    for i, run in enumerate(runs, 1):
        print(
            f"{i:>3} {run['exit_code']:>4} {run['wall_s']:>7.1f} {run['rto_s']:>6.1f} "
            f"{run['holds_s']:>5g} {run['overhead_s']:>5.2f} {run['scheduled']:>6} "
            f"{run['accounted']:>6} {run['failed']:>6} {run['wrong_answers']:>5} "
            f"{run['lost']:>4} {run['lag_p99_ms']:>6.2f}  "
            + "  ".join(f"{run['p99_ms'][n]:>10.2f}" for n in names)
        )
    moving = [n for n in names if n.startswith("canary") or n == "cutover"]
    ok_counted = all(r["scheduled"] == r["accounted"] and r["lost"] == 0 for r in runs)
    ok_failed = sum(r["failed"] for r in runs) == 0 and sum(r["scheduled"] for r in runs) >= 10_000
    ok_p99 = all(r["p99_ms"][n] <= 2 * r["p99_ms"]["baseline"] for r in runs for n in moving)
    ok_overhead = all(r["overhead_s"] <= 1.0 for r in runs)
    print(
        f"scheduled == accounted, 0 lost: {ok_counted}; 0 failed (wrong answers included) of "
        f">= 10,000: {ok_failed}; canary/cutover p99 <= 2x baseline: {ok_p99}; cutover "
        f"overhead <= 1 s (RTO minus the {len(CANARY) * HOLD_S:g} s of configured holds): "
        f"{ok_overhead}"
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
                "targets": {
                    "every_request_counted": ok_counted,
                    "no_failures": ok_failed,
                    "p99_within_2x": ok_p99,
                    "overhead_within_1s": ok_overhead,
                },
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
