"""Benchmark: wall time of `exitplan plan` per stack and of `exitplan parity` over 3, 6 and 12
stacks. Each measurement runs the real CLI in a fresh process, as a user would.

Targets (2-core machine): plan of one stack under 3 s; parity growing linearly with stacks.
Prints a table and writes bench/results/plan.json.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXITPLAN = str(Path(sys.executable).parent / "exitplan")
SHIPPED = (
    "aws-primary",
    "gcp-standby",
    "azure-standby",
    "aws-wavelength",
    "azure-edge",
    "gcp-edge",
)
REPEATS = 3
PLAN_TARGET_S = 3.0


def timed(args: list[str], project: Path) -> float:
    """Seconds one CLI run takes; fails loudly if the command fails."""
    start = time.perf_counter()
    subprocess.run([EXITPLAN, *args, "--project", str(project)], check=True, capture_output=True)
    return time.perf_counter() - start


def project_with_copies(count: int, folder: Path) -> Path:
    """A project holding `count` stacks: the shipped ones (the primary and its standbys
    first, which the router needs), then copies of the standbys and edges, round robin."""
    shutil.copy(ROOT / "Pulumi.yaml", folder / "Pulumi.yaml")
    (folder / "stacks").mkdir()
    shutil.copy(ROOT / "stacks" / "__main__.py", folder / "stacks" / "__main__.py")
    names = list(SHIPPED[:count])
    copies = SHIPPED[1:]
    names += [f"{copies[i % len(copies)]}@{i}" for i in range(count - len(names))]
    for name in names:
        base = name.split("@")[0]
        text = (ROOT / "stacks" / f"Pulumi.{base}.yaml").read_text()
        (folder / "stacks" / f"Pulumi.{name.replace('@', '-copy-')}.yaml").write_text(text)
    return folder


def main() -> None:
    """Run the benchmark, print the table, write the JSON."""
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "repeats": REPEATS,
        "plan": {},
        "parity": {},
    }
    print(f"{'measurement':<28}{'median s':>10}{'min s':>9}{'per stack s':>13}  target")
    for stack in SHIPPED:
        runs = [timed(["plan", stack], ROOT) for _ in range(REPEATS)]
        median = statistics.median(runs)
        results["plan"][stack] = {"median_s": median, "runs_s": runs}  # type: ignore[index]
        verdict = "ok" if median < PLAN_TARGET_S else "MISSED"
        label = f"plan {stack}"
        target = f"<{PLAN_TARGET_S:g}s {verdict}"
        print(f"{label:<28}{median:>10.2f}{min(runs):>9.2f}{median:>13.2f}  {target}")
    per_stack = []
    for count in (3, 6, 12):
        with tempfile.TemporaryDirectory() as tmp:
            project = project_with_copies(count, Path(tmp))
            runs = [timed(["parity"], project) for _ in range(REPEATS)]
        median = statistics.median(runs)
        per_stack.append(median / count)
        results["parity"][str(count)] = {
            "median_s": median,
            "runs_s": runs,
            "per_stack_s": median / count,
        }  # type: ignore[index]
        label = f"parity x{count} stacks"
        print(f"{label:<28}{median:>10.2f}{min(runs):>9.2f}{median / count:>13.2f}  linear")
    # Linear growth: the time per stack must not grow with the number of stacks.
    growth = per_stack[-1] / per_stack[0]
    results["parity_per_stack_growth_3_to_12"] = growth
    print(f"per-stack time, 12 vs 3 stacks: x{growth:.2f} (<= 1.0 means no worse than linear)")
    out = ROOT / "bench" / "results" / "plan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
