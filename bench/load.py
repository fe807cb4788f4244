"""Benchmark: `exitplan load` beside Triton's own perf_analyzer, on the same endpoint, with the
same KServe v2 JSON requests, at the same constant rate: 800/s and 3,200/s, then a search for
the highest rate each one sustains.

The endpoint is the sandbox's front door (what drills and chaos runs measure), or one stack's
Triton with `--stack`. The requests are the sandbox model's reference inputs
(`.exitplan/sandbox-model/reference.json`) in turn, or, for a package made before reference
answers existed, the seeded row `exitplan load` makes from the model's metadata.

perf_analyzer comes from its own environment, `.exitplan/bench-env` (`make bench-env`): the
manylinux wheel of tritonclient 2.51.0 ships the binary, which loads libcudart.so.12 (the CUDA
runtime wheel; no GPU needed) and Debian's libb64.so.0d. The project's lock holds a newer,
pure-Python tritonclient without it.

What the two measure differs, and the table says so: `exitplan load` times each request from
when it was due (a late send counts as latency) and checks every answer; perf_analyzer times
from its own send and reports how many requests it sent late ("delayed"). A rate is sustained
when every request is answered (no failed, wrong or lost request; perf_analyzer: exit 0),
the achieved rate is at least 98 % of the rate asked, and the generator keeps its schedule
(exitplan: lag p99 <= 5 ms; perf_analyzer: at most 1 % of requests delayed).

Goal (reported, not a test): exitplan's p50 and p99 within 1.5x of perf_analyzer's at 800 and
3,200/s. Prints a table and writes bench/results/load.json; exits 2 when perf_analyzer cannot
start, saying why.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXITPLAN = str(Path(sys.executable).parent / "exitplan")
BENCH_ENV = ROOT / ".exitplan" / "bench-env"
REFERENCE = ROOT / ".exitplan" / "sandbox-model" / "reference.json"
RESULTS = ROOT / "bench" / "results" / "load.json"
RATES = (800, 3200)
DURATION_S = 10.0
REPEATS = 3
GOAL_RATIO = 1.5
SUSTAINED_SHARE = 0.98
MAX_LAG_MS = 5.0
MAX_DELAYED_PCT = 1.0
SEARCH_FROM = 3200  # the search doubles from here until a rate fails, then bisects
SEARCH_STEP = 200
SEARCH_DURATION_S = 5.0
# perf_analyzer 2.51's warnings when it sends requests later than their schedule
_DELAYED = re.compile(r"([\d.]+)% of the requests were delayed")
_BEHIND = "not able to keep up with the desired load"


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the exitplan CLI in the project."""
    return subprocess.run([EXITPLAN, *args], cwd=ROOT, check=check, capture_output=True, text=True)


def perf_analyzer() -> tuple[Path, dict[str, str]]:
    """perf_analyzer and the environment it starts in; exits 2 saying why it cannot start."""
    binary = BENCH_ENV / "bin" / "perf_analyzer"
    if not binary.exists():
        sys.exit(f"bench/load.py: {binary} is missing: run make bench-env")
    libs = sorted(BENCH_ENV.glob("lib/python*/site-packages/nvidia/cuda_runtime/lib"))
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join(str(p) for p in libs)}
    probe = subprocess.run([binary, "--version"], env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        why = (probe.stderr or probe.stdout).strip()
        print(f"bench/load.py: perf_analyzer cannot start: {why}", file=sys.stderr)
        print("  fix: make bench-env (as root it installs libb64-0d)", file=sys.stderr)
        sys.exit(2)
    return binary, env


def request_inputs(endpoint: str, model: str) -> list[dict[str, Any]]:
    """The KServe v2 input tensors of every request `exitplan load` sends, in turn."""
    if REFERENCE.exists():
        pairs = json.loads(REFERENCE.read_text())["pairs"]
        return [tensor for pair in pairs for tensor in pair["request"]["inputs"]]
    sys.path.insert(0, str(ROOT))
    from runbooks.load.generator import metadata_inputs
    from runbooks.load.kserve import infer_body

    inputs = metadata_inputs(endpoint, model)
    return list(json.loads(infer_body(inputs))["inputs"])


def input_data(tensors: list[dict[str, Any]], folder: Path) -> Path:
    """perf_analyzer's --input-data file: one entry per request, the batch axis left out (it
    sends batch 1, `-b 1`)."""
    streams = [{t["name"]: {"content": t["data"], "shape": t["shape"][1:]}} for t in tensors]
    path = folder / "input-data.json"
    path.write_text(json.dumps({"data": streams}))
    return path


def run_exitplan(rate: float, duration_s: float, url: str | None) -> dict[str, Any]:
    """`exitplan load` at `rate` for `duration_s`: its figures, in the table's terms."""
    args = ["load", "--rate", str(rate), "--duration", str(duration_s), "--json"]
    if url is not None:
        args += ["--url", url, "--reference", str(REFERENCE)]
    result = cli(*args, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"exitplan load failed ({result.returncode}): {result.stderr[-2000:]}")
    summary = json.loads(result.stdout)
    lag = summary.get("lag_p99_ms")
    failed = int(summary["failed"])
    return {
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "achieved_rate": summary["achieved_rate"],
        "lag_p99_ms": lag,
        "sent": summary["sent"],
        "failed": failed,
        "wrong_answers": summary.get("wrong_answers"),
        "errors": summary["errors"],
        "answers_checked": "wrong_answers" in summary,
        "sustained": failed == 0
        and summary["achieved_rate"] >= SUSTAINED_SHARE * rate
        and lag is not None
        and lag <= MAX_LAG_MS,
    }


def run_perf_analyzer(
    pa: tuple[Path, dict[str, str]],
    target: str,
    model: str,
    data: Path,
    rate: float,
    duration_s: float,
) -> dict[str, Any]:
    """perf_analyzer at `rate` (constant intervals, async, JSON tensors like exitplan's) for
    one measurement of `rate * duration_s` requests: its figures, in the table's terms."""
    binary, env = pa
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.csv"
        result = subprocess.run(
            [
                str(binary),
                "-m",
                model,
                "-u",
                target,
                "-i",
                "http",
                "-a",
                "-b",
                "1",
                f"--request-rate-range={rate:g}",
                "--request-distribution=constant",
                f"--request-count={int(rate * duration_s)}",
                "--input-tensor-format=json",
                "--output-tensor-format=json",
                f"--input-data={data}",
                "--percentile=99",
                "-f",
                str(report),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=duration_s * 10 + 60,
        )
        row = next(csv.DictReader(report.open())) if report.exists() else {}
    if result.returncode != 0 or not row:
        return {"error": (result.stdout + result.stderr).strip()[-2000:], "sustained": False}
    output = result.stdout + result.stderr
    delayed = _DELAYED.search(output)
    # its other warning, "not able to keep up with the desired load", gives no share: 100 %
    delayed_pct = float(delayed.group(1)) if delayed else 100.0 * (_BEHIND in output)
    achieved = float(row["Inferences/Second"])
    return {
        "p50_ms": float(row["p50 latency"]) / 1000,
        "p99_ms": float(row["p99 latency"]) / 1000,
        "achieved_rate": achieved,
        "delayed_pct": delayed_pct,
        "sustained": achieved >= SUSTAINED_SHARE * rate and delayed_pct <= MAX_DELAYED_PCT,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeats of one tool at one rate: the median of each figure, every run kept."""
    numbers = [
        k for k, v in runs[0].items() if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    merged: dict[str, Any] = {
        k: statistics.median(r[k] for r in runs if r.get(k) is not None)
        for k in numbers
        if any(r.get(k) is not None for r in runs)
    }
    merged["sustained"] = all(r["sustained"] for r in runs)
    merged["runs"] = runs
    return merged


def highest_sustained(probe: Callable[[float], dict[str, Any]]) -> dict[str, Any]:
    """The highest rate `probe` sustains: doubling from SEARCH_FROM until a rate fails, then
    bisecting to SEARCH_STEP; every probe is kept."""
    probes: list[dict[str, Any]] = []

    def sustained(rate: float) -> bool:
        result = probe(rate)
        probes.append({"rate": rate, **result})
        return bool(result["sustained"])

    low, high = 0.0, float(SEARCH_FROM)
    while sustained(high):
        low, high = high, high * 2
    while high - low > SEARCH_STEP:
        middle = round((low + high) / 2 / SEARCH_STEP) * SEARCH_STEP
        if sustained(middle):
            low = middle
        else:
            high = middle
    return {"rate": low, "probes": probes}


def ratio(ours: float | None, theirs: float | None) -> float | None:
    """exitplan's figure over perf_analyzer's."""
    return round(ours / theirs, 2) if ours is not None and theirs else None


def print_table(results: dict[str, Any]) -> None:
    """The side-by-side table."""
    print(f"endpoint {results['endpoint']}  ({results['requests']})")
    print(
        f"{'rate/s':>7} {'tool':<14} {'p50 ms':>7} {'p99 ms':>7} {'achieved/s':>10} "
        f"{'lag p99 ms':>10} {'delayed %':>9} {'failed':>6} {'sustained':>9}"
    )
    for row in results["rates"]:
        for tool in ("exitplan", "perf_analyzer"):
            r = row[tool]
            if "error" in r:
                print(f"{row['rate']:>7} {tool:<14} error: {r['error'][:80]}")
                continue
            print(
                f"{row['rate']:>7} {tool:<14} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
                f"{r['achieved_rate']:>10.0f} {figure(r.get('lag_p99_ms')):>10} "
                f"{figure(r.get('delayed_pct'), 1):>9} {figure(r.get('failed'), 0):>6} "
                f"{'yes' if r['sustained'] else 'NO':>9}"
            )
        goal = "met" if row["goal_met"] else "NOT met"
        print(
            f"{'':>7} {'ratio':<14} {row['p50_ratio']!s:>7} {row['p99_ratio']!s:>7}   "
            f"goal <= {GOAL_RATIO}x: {goal}"
        )
    for tool, found in results["highest_sustained"].items():
        print(f"highest sustained rate, {tool}: {figure(found['rate'], 0)}/s")


def figure(value: float | None, decimals: int = 2) -> str:
    """A number for the table, '-' when the tool does not report it."""
    return "-" if value is None else f"{value:.{decimals}f}"


def main() -> None:
    """Start the sandbox, measure both tools, print the table, write the JSON; always take the
    sandbox down."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="drive this stack's Triton instead of the front door")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--no-search", action="store_true", help="skip the highest-rate search")
    options = parser.parse_args()
    pa = perf_analyzer()
    cli("sandbox", "down")
    try:
        state = json.loads(cli("sandbox", "up", "--json").stdout)
        results = measure(pa, state, options)
    finally:
        cli("sandbox", "down")
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def measure(pa: tuple[Path, dict[str, str]], state: dict[str, Any], options: Any) -> dict[str, Any]:
    """Both tools at each rate (alternating, `repeats` times), then each one's search."""
    model = state["model"]
    if options.stack:
        port = next(c["port"] for c in state["components"] if c["stack"] == options.stack)
        endpoint, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    else:
        endpoint, url = state["endpoint"], None
    tensors = request_inputs(endpoint, model)
    with tempfile.TemporaryDirectory() as tmp:
        data = input_data(tensors, Path(tmp))
        target = endpoint.removeprefix("http://")

        def ours(rate: float, duration_s: float = DURATION_S) -> dict[str, Any]:
            return run_exitplan(rate, duration_s, url)

        def theirs(rate: float, duration_s: float = DURATION_S) -> dict[str, Any]:
            return run_perf_analyzer(pa, target, model, data, rate, duration_s)

        rows = []
        for rate in RATES:
            runs: dict[str, list[dict[str, Any]]] = {"exitplan": [], "perf_analyzer": []}
            for _ in range(options.repeats):
                runs["perf_analyzer"].append(theirs(rate))
                runs["exitplan"].append(ours(rate))
            row: dict[str, Any] = {"rate": rate}
            for tool, tool_runs in runs.items():
                failed = [r for r in tool_runs if "error" in r]
                row[tool] = failed[0] if failed else median_run(tool_runs)
            row["p50_ratio"] = ratio(
                row["exitplan"].get("p50_ms"), row["perf_analyzer"].get("p50_ms")
            )
            row["p99_ratio"] = ratio(
                row["exitplan"].get("p99_ms"), row["perf_analyzer"].get("p99_ms")
            )
            row["goal_met"] = all(
                r is not None and r <= GOAL_RATIO for r in (row["p50_ratio"], row["p99_ratio"])
            )
            rows.append(row)
        search: dict[str, dict[str, Any]] = {}
        if not options.no_search:
            search["perf_analyzer"] = highest_sustained(lambda r: theirs(r, SEARCH_DURATION_S))
            search["exitplan"] = highest_sustained(lambda r: ours(r, SEARCH_DURATION_S))
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "endpoint": options.stack or "front door",
        "requests": f"{len(tensors)} reference inputs in turn"
        if REFERENCE.exists()
        else "one seeded row from the model's metadata",
        "duration_s": DURATION_S,
        "repeats": options.repeats,
        "goal": f"exitplan p50 and p99 within {GOAL_RATIO}x of perf_analyzer's",
        "sustained_means": (
            f"no failed request, achieved >= {SUSTAINED_SHARE:.0%} of the rate, exitplan lag p99 "
            f"<= {MAX_LAG_MS:g} ms, perf_analyzer delayed <= {MAX_DELAYED_PCT:g} %"
        ),
        "rates": rows,
        "highest_sustained": search,
    }


if __name__ == "__main__":
    main()
