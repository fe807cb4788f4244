"""Benchmark: packaging the test models. Per model: export and validate time, ONNX size, the
largest parity error, and CPU inference latency of ONNX Runtime vs the original framework at
batch 1 and 8 (with the speed-up).

Targets: max error <= 1e-4 on every float model; ONNX Runtime at least 1.5x PyTorch eager at
batch 1 on the small models. Prints a table and writes bench/results/packaging.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the PyPI `packaging` module that torch imports: take the script's
# own folder off the path, and put the project root on it.
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench")]

from model_packaging.export import Exported, export  # noqa: E402
from model_packaging.validate import sample, validate  # noqa: E402
from tests.model_packaging import models  # noqa: E402

MODELS = ROOT / "tests" / "model_packaging" / "models.py"
SMALL = ("mlp", "cnn", "transformer")
TORCH = (*SMALL, "minilm")
ERROR_TARGET = 1e-4
SPEEDUP_TARGET = 1.5
REPEATS = 50


def median_ms(run: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of `run` in milliseconds, after a warm-up."""
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(name: str, source: str, workdir: Path, **options: Any) -> dict[str, Any]:
    """Export, validate and time one model."""
    start = time.perf_counter()
    exported: Exported = export(source, "auto", workdir, **options)
    export_s = time.perf_counter() - start
    start = time.perf_counter()
    report = validate(exported, max_batch=8)
    validate_s = time.perf_counter() - start
    session = ort.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    row: dict[str, Any] = {
        "model": name,
        "framework": exported.framework,
        "export_s": round(export_s, 2),
        "validate_s": round(validate_s, 2),
        "onnx_kib": round(exported.onnx_path.stat().st_size / 1024, 1),
        "max_abs_error": report.max_abs_error,
    }
    rng = np.random.default_rng(0)
    for batch in (1, 8):
        feed = sample(exported.examples, batch, rng)
        onnx_ms = median_ms(lambda f=feed: session.run(None, f))
        assert exported.reference is not None
        framework_ms = median_ms(lambda f=feed: exported.reference(f))  # type: ignore[misc]
        row[f"ort_ms_b{batch}"] = round(onnx_ms, 3)
        row[f"framework_ms_b{batch}"] = round(framework_ms, 3)
        row[f"speedup_b{batch}"] = round(framework_ms / onnx_ms, 2)
    return row


def main() -> None:
    """Run every model, print the table, write the JSON."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in TORCH:
            rows.append(measure(name, f"{MODELS}:{name}", work / name))
        for builder in (models.sklearn_classifier, models.sklearn_regressor):
            path = builder(work / f"{builder.__name__}.joblib")
            rows.append(
                measure(builder.__name__, str(path), work / builder.__name__, trust_pickle=True)
            )
    header = (
        f"{'model':<20}{'export s':>9}{'valid s':>8}{'ONNX KiB':>10}{'max err':>10}"
        f"{'ORT b1 ms':>10}{'fw b1 ms':>9}{'x b1':>6}{'ORT b8 ms':>10}{'fw b8 ms':>9}{'x b8':>6}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['model']:<20}{r['export_s']:>9.2f}{r['validate_s']:>8.2f}{r['onnx_kib']:>10.1f}"
            f"{r['max_abs_error']:>10.1e}{r['ort_ms_b1']:>10.3f}{r['framework_ms_b1']:>9.3f}"
            f"{r['speedup_b1']:>6.1f}{r['ort_ms_b8']:>10.3f}{r['framework_ms_b8']:>9.3f}"
            f"{r['speedup_b8']:>6.1f}"
        )
    error_ok = all(r["max_abs_error"] <= ERROR_TARGET for r in rows)
    small = [r for r in rows if r["model"] in SMALL]
    speed_ok = all(r["speedup_b1"] >= SPEEDUP_TARGET for r in small)
    verdict = "ok" if error_ok else "MISSED"
    print(f"max error <= {ERROR_TARGET:g} on every model's float outputs: {verdict}")
    print(
        f"ORT >= {SPEEDUP_TARGET}x PyTorch eager at batch 1 on {', '.join(SMALL)}: "
        f"{'ok' if speed_ok else 'MISSED'}"
    )
    out = ROOT / "bench" / "results" / "packaging.json"
    out.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "targets": {"max_abs_error": ERROR_TARGET, "speedup_b1": SPEEDUP_TARGET},
                "error_target_met": error_ok,
                "speedup_target_met": speed_ok,
                "models": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
