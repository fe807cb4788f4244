"""Validate: ONNX Runtime against the original framework on seeded inputs at several batch sizes.

Per output: the largest absolute and relative error, checked against `atol + rtol * |ref|`, and
for classifiers the share of equal labels. An ONNX file passed through has no original
framework: its batched run is checked against the same rows run one at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from model_packaging.errors import ParityError, ShapeError
from model_packaging.export import Arrays, Exported
from model_packaging.progress import Progress, reporter

DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3
BASE_BATCHES = (1, 2, 7)


@dataclass(frozen=True)
class OutputParity:
    """One output at one batch size."""

    batch: int
    output: str
    max_abs_error: float
    max_rel_error: float
    label_agreement: float | None
    passed: bool


@dataclass(frozen=True)
class ParityReport:
    """Every output at every batch size, with the tolerances used."""

    framework: str
    atol: float
    rtol: float
    batches: tuple[int, ...]
    rows: tuple[OutputParity, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Whether every row passed."""
        return all(r.passed for r in self.rows)

    @property
    def max_abs_error(self) -> float:
        """The worst absolute error over float outputs."""
        return max((r.max_abs_error for r in self.rows if r.label_agreement is None), default=0.0)

    def as_dict(self) -> dict[str, Any]:
        """`parity.json`."""
        return {**asdict(self), "passed": self.passed, "max_abs_error": self.max_abs_error}

    def table(self) -> str:
        """A plain-text table of the rows, for error messages."""
        lines = [f"{'batch':>5}  {'output':<20} {'max abs':>10} {'max rel':>10}  labels  ok"]
        for r in self.rows:
            labels = f"{r.label_agreement:.0%}" if r.label_agreement is not None else "-"
            lines.append(
                f"{r.batch:>5}  {r.output:<20} {r.max_abs_error:>10.2e} {r.max_rel_error:>10.2e}"
                f"  {labels:>6}  {'yes' if r.passed else 'NO'}"
            )
        return "\n".join(lines)


def batch_sizes(max_batch: int) -> tuple[int, ...]:
    """1, 2, 7 and the max batch (those not above it)."""
    return tuple(sorted({b for b in BASE_BATCHES if b <= max_batch} | {max_batch}))


def validate(
    exported: Exported,
    *,
    max_batch: int,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    seed: int = 0,
    progress: Progress | Callable[[str], None] | None = None,
) -> ParityReport:
    """Compare ONNX Runtime with the original at each batch size (a `progress` stage with a
    step per batch size); raise `ParityError` on failure."""
    batches = batch_sizes(max_batch)
    progress = reporter(progress)
    original = exported.framework if exported.reference else "the same rows one at a time"
    progress.stage(
        "validate", f"ONNX Runtime vs {original}", total=len(batches), unit="batch sizes"
    )
    session = ort.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in exported.outputs]
    rows: list[OutputParity] = []
    rng = np.random.default_rng(seed)
    for batch in batches:
        feed = sample(exported.examples, batch, rng)
        got = _run(session, feed, batch)
        expected = original_outputs(exported, feed, session)
        if len(expected) != len(got):
            raise ShapeError(f"the original model returns {len(expected)} outputs, ONNX {len(got)}")
        for name, ours, theirs in zip(names, got, expected, strict=True):
            rows.append(_compare(batch, name, ours, np.asarray(theirs), atol, rtol))
        progress.advance()
    report = ParityReport(exported.framework, atol, rtol, batches, tuple(rows))
    if not report.passed:
        failed = sorted({f"{r.output} at batch {r.batch}" for r in report.rows if not r.passed})
        raise ParityError(
            f"ONNX Runtime differs from {exported.framework} beyond atol={atol:g}, rtol={rtol:g} "
            f"({'; '.join(failed)})\n{report.table()}",
            fix="look for non-deterministic or unsupported layers; loosen --atol only if the "
            "difference is understood",
        )
    progress.done()
    return report


def write_report(report: ParityReport, path: Path) -> None:
    """Write `parity.json`."""
    path.write_text(json.dumps(report.as_dict(), indent=2) + "\n")


def sample(examples: Arrays, batch: int, rng: np.random.Generator) -> Arrays:
    """Seeded inputs of `batch` rows shaped like the examples: floats drawn from a normal
    distribution, integers (token ids, masks) resampled from the examples' rows."""
    rows = rng.integers(0, len(next(iter(examples.values()))), batch)
    feed = {}
    for name, example in examples.items():
        if example.dtype.kind == "f":
            shape = (batch, *example.shape[1:])
            feed[name] = rng.standard_normal(shape).astype(example.dtype)
        else:
            feed[name] = example[rows]
    return feed


def original_outputs(
    exported: Exported, feed: Arrays, session: ort.InferenceSession | None = None
) -> list[np.ndarray]:
    """What the original model answers for `feed`; an ONNX file passed through has no
    original: ONNX Runtime's answers to the same rows run one at a time."""
    if exported.reference is not None:
        return [np.asarray(v) for v in exported.reference(feed)]
    if session is None:
        session = ort.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    return _row_by_row(session, feed)


def _run(session: ort.InferenceSession, feed: Arrays, batch: int) -> list[np.ndarray]:
    try:
        return [np.asarray(o) for o in session.run(None, feed)]
    except Exception as exc:  # ORT raises its own types
        raise ShapeError(
            f"ONNX Runtime cannot run a batch of {batch}: {str(exc).splitlines()[0][:300]}",
            fix="the exporter may have fixed a shape; export with dynamic axes",
        ) from exc


def _row_by_row(session: ort.InferenceSession, feed: Arrays) -> list[np.ndarray]:
    batch = len(next(iter(feed.values())))
    singles = [_run(session, {k: v[i : i + 1] for k, v in feed.items()}, 1) for i in range(batch)]
    return [np.concatenate([s[j] for s in singles]) for j in range(len(singles[0]))]


def _compare(
    batch: int, name: str, ours: np.ndarray, theirs: np.ndarray, atol: float, rtol: float
) -> OutputParity:
    if ours.size != theirs.size:
        raise ShapeError(f"output {name} at batch {batch}: ONNX {ours.shape} vs {theirs.shape}")
    theirs = theirs.reshape(ours.shape)
    if ours.dtype.kind in "iub" or theirs.dtype.kind in "iubUO":
        agreement = float(np.mean(ours.astype(str) == theirs.astype(str)))
        return OutputParity(batch, name, 0.0, 0.0, agreement, agreement == 1.0)
    ours64, theirs64 = ours.astype(np.float64), theirs.astype(np.float64)
    diff = np.abs(ours64 - theirs64)
    rel = diff / np.maximum(np.abs(theirs64), np.finfo(np.float32).tiny)
    passed = bool(np.all(diff <= atol + rtol * np.abs(theirs64))) and bool(
        np.all(np.isfinite(ours64))
    )
    return OutputParity(
        batch, name, float(diff.max(initial=0.0)), float(rel.max(initial=0.0)), None, passed
    )
