"""Benchmark: `exitplan sandbox up` with 2 and 3 stacks, with every sandboxable stack (the
default: edges too), and `up --first-deploy` of every stack from empty stores; then open-loop
load on one Triton directly and through the HAProxy front door at 200, 400 and 800 requests/s.

Targets: `up` of the three drilled stacks within 10 s after the first model build (issue 22);
the others are reported (a first deploy waits for Triton's planned 30 s poll); 800 requests/s
through the front door with p99 under 5 ms and no failure; front-door p99 overhead under 1 ms
at 200 requests/s. Prints a table and writes bench/results/sandbox.json.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EXITPLAN = str(Path(sys.executable).parent / "exitplan")
RATES = (200, 400, 800)
DURATION_S = 5.0
UP_TARGET_S = 10.0
P99_TARGET_MS = 5.0
OVERHEAD_TARGET_MS = 1.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the exitplan CLI in the project; fail loudly."""
    return subprocess.run([EXITPLAN, *args], cwd=ROOT, check=True, capture_output=True, text=True)


def timed_up(stacks: list[str], *flags: str) -> float:
    """Seconds `sandbox up` takes for these stacks (none: the default; the sandbox is then
    left running)."""
    start = time.perf_counter()
    cli("sandbox", "up", *flags, *(arg for s in stacks for arg in ("--stacks", s)))
    return time.perf_counter() - start


def run_load(base_url: str, model: str, rate: float) -> dict[str, Any]:
    """One open-loop run; the summary as a dict."""
    sys.path.insert(0, str(ROOT))
    from runbooks.load import generator as loadgen

    features = np.random.default_rng(0).standard_normal((1, 16)).astype(np.float32)
    request = loadgen.infer_request(base_url, model, {"input": features})
    summary, _ = loadgen.load(request, rate=rate, duration_s=DURATION_S)
    return summary.as_dict()


def main() -> None:
    """Measure, print, write JSON; always take the sandbox down."""
    cli("sandbox", "down")
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "duration_s": DURATION_S,
    }
    try:
        cli("package", "sandbox/demo_model.py:build", "--out", ".exitplan/bench-warmup")
        results["up_s"] = {"2": timed_up(["aws-primary", "gcp-standby"])}
        cli("sandbox", "down")
        results["up_s"]["all"] = timed_up([])
        cli("sandbox", "down")
        results["up_s"]["first_deploy_all"] = timed_up([], "--first-deploy")
        cli("sandbox", "down")
        # azure-standby is pilot-light: its store, credentials and config, no Triton at rest
        results["up_s"]["3"] = timed_up(["aws-primary", "gcp-standby", "azure-standby"])
        status = json.loads(cli("sandbox", "status", "--json").stdout)
        triton = next(c for c in status["components"] if c["name"] == "triton-aws-primary")
        direct = f"http://127.0.0.1:{triton['port']}"
        runs = []
        for rate in RATES:
            for path, url in (("direct", direct), ("front door", status["endpoint"])):
                summary = run_load(url, status["model"], rate)
                runs.append({"path": path, **{k: v for k, v in summary.items() if k != "timeline"}})
        results["runs"] = runs
    finally:
        cli("sandbox", "down")
    up = results["up_s"]
    print(
        f"sandbox up: 2 stacks {up['2']:.1f} s, 3 stacks {up['3']:.1f} s (target < "
        f"{UP_TARGET_S:g} s), every stack {up['all']:.1f} s, --first-deploy of every stack "
        f"{up['first_deploy_all']:.1f} s"
    )
    print(f"{'rate':>6} {'path':<11}{'achieved':>9}{'failed':>7}{'p50 ms':>8}{'p99 ms':>8}")
    for run in results["runs"]:
        print(
            f"{run['rate']:>6.0f} {run['path']:<11}{run['achieved_rate']:>9.1f}{run['failed']:>7}"
            f"{run['p50_ms']:>8.2f}{run['p99_ms']:>8.2f}"
        )
    by = {(r["rate"], r["path"]): r for r in results["runs"]}
    overhead = by[(200.0, "front door")]["p99_ms"] - by[(200.0, "direct")]["p99_ms"]
    door_800 = by[(800.0, "front door")]
    results["targets"] = {
        "up_3_stacks_s": results["up_s"]["3"] < UP_TARGET_S,
        "front_door_800_p99_ms": door_800["p99_ms"] < P99_TARGET_MS and door_800["failed"] == 0,
        "front_door_overhead_p99_ms_at_200": overhead,
        "overhead_met": overhead < OVERHEAD_TARGET_MS,
    }
    print(f"front door p99 overhead at 200/s: {overhead:.2f} ms (target < {OVERHEAD_TARGET_MS} ms)")
    out = ROOT / "bench" / "results" / "sandbox.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
