"""Benchmark: wall time of `exitplan cost` over every shipped stack (the standby trade-off
included), cold (an empty plan cache: every stack and every standby level planned) and warm
(every plan read from `.exitplan/plans`-style files). Each run is the real CLI in a fresh
process, with `--json` so the terminal's speed is not measured.

Target: warm under 3 s. Prints a table and writes bench/results/cost.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXITPLAN = str(Path(sys.executable).parent / "exitplan")
REPEATS = 3
WARM_TARGET_S = 3.0


def timed(cache: Path) -> float:
    """Seconds one `exitplan cost --json` takes with plans cached in `cache`."""
    env = {**os.environ, "EXITPLAN_PLAN_CACHE": str(cache)}
    start = time.perf_counter()
    subprocess.run(
        [EXITPLAN, "cost", "--json", "--project", str(ROOT)],
        check=True,
        capture_output=True,
        env=env,
    )
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            cold.append(timed(Path(tmp)))
            plans = len(list(Path(tmp).glob("*.json")))
            warm += [timed(Path(tmp)) for _ in range(REPEATS)]
    verdict = "ok" if statistics.median(warm) < WARM_TARGET_S else "MISSED"
    print(f"{'exitplan cost, every stack':<30}{'median s':>10}{'min s':>9}{'max s':>9}  target")
    for label, runs, target in (
        ("cold (empty plan cache)", cold, "-"),
        ("warm (plans from the cache)", warm, f"<{WARM_TARGET_S:g}s {verdict}"),
    ):
        print(
            f"{label:<30}{statistics.median(runs):>10.2f}{min(runs):>9.2f}{max(runs):>9.2f}"
            f"  {target}"
        )
    print(f"plans cached per cold run: {plans} (stacks and the standbys' other levels)")
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "repeats": REPEATS,
        "plans_cached": plans,
        "cold": {"median_s": statistics.median(cold), "runs_s": cold},
        "warm": {"median_s": statistics.median(warm), "runs_s": warm},
        "warm_target_s": WARM_TARGET_S,
        "warm_target_met": verdict == "ok",
    }
    out = ROOT / "bench" / "results" / "cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
