"""Tables that fit a terminal: `stacks list` and `parity` at 80 and 200 columns print every
stack name whole, keep table lines inside the width, and move long values to footnotes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.stack_config import Project

ROOT = Path(__file__).resolve().parents[2]
FOOTNOTE = re.compile(r"^\[\d+\] ")


def run(command: list[str], columns: int) -> list[str]:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    exe = Path(sys.executable).with_name("exitplan")
    done = subprocess.run(
        [str(exe), *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def table_lines(lines: list[str]) -> list[str]:
    """Lines that belong to a table or a listing (not footnotes or notes, which may wrap)."""
    prose = ("note ", "gap ")
    return [line for line in lines if not FOOTNOTE.match(line) and not line.startswith(prose)]


@pytest.mark.parametrize("columns", [80, 200])
def test_stacks_list_fits_the_terminal(columns: int) -> None:
    lines = run(["stacks", "list"], columns)
    assert max(len(line) for line in table_lines(lines)) <= columns
    names = Project(ROOT).stack_names()
    for name in names:
        assert any(line.split()[:1] == [name] for line in lines), f"{name} not shown whole"
    for line in lines:
        for ref in re.findall(r"\[(\d+)\]", line if not FOOTNOTE.match(line) else ""):
            assert any(other.startswith(f"[{ref}] ") for other in lines), f"footnote {ref}"


@pytest.mark.parametrize("columns", [80, 200])
def test_parity_reads_at_any_width(columns: int) -> None:
    lines = run(["parity"], columns)
    listing = [line for line in table_lines(lines) if not line.startswith("= ")]
    assert max(len(line) for line in listing) <= columns
    text = "\n".join(lines)
    for name in Project(ROOT).stack_names():
        assert re.search(rf"(^|[ ,:]){re.escape(name)}(,|$)", text, re.M), f"{name} broken"
    assert "parity ok" in text


def test_paths_print_whole_on_one_line_at_any_width(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from runbooks import render

    buffer = io.StringIO()
    monkeypatch.setattr(render, "out", render.terminal(width=40, file=buffer))
    folder = "/very/long/folder/of/a/drill/that/does/not/fit/in/forty/columns/20261130T0900"
    render.out.print(f"report: {folder}/report.html")
    assert f"report: {folder}/report.html\n" in buffer.getvalue()


def test_package_summary_prints_digests_and_paths_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from runbooks import render

    buffer = io.StringIO()
    monkeypatch.setattr(render, "out", render.terminal(width=80, file=buffer))
    sha = "6beaf4e7" * 8
    digest = "sha256:" + "e9d20c3b" * 8
    repository = "/home/someone/projects/fraud-scoring/packaging/output/of/today/repository"
    render.package_summary(
        {
            "name": "fraud-scorer",
            "version": 3,
            "framework": "torch",
            "reused": False,
            "inputs": ["x float32 [-1, 30]"],
            "outputs": ["y float32 [-1, 2]"],
            "onnx_bytes": 4096,
            "onnx_sha256": sha,
            "repository": repository,
            "image_layout": f"{repository}/../image",
            "image_digest": digest,
            "pushed": {"localhost:5000/fraud-scorer:3": digest},
            "published": {},
            "parity": {"framework": "torch", "atol": 1e-5, "rtol": 1e-4, "rows": []},
        }
    )
    lines = buffer.getvalue().splitlines()
    assert f"ONNX:         sha256:{sha}" in lines
    assert f"repository:   {repository}" in lines
    assert f"image digest: {digest}" in lines
    assert f"pushed:       localhost:5000/fraud-scorer:3@{digest}" in lines


def test_drill_verdict_splits_the_rto_and_accounts_for_every_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    from runbooks import render

    buffer = io.StringIO()
    monkeypatch.setattr(render, "out", render.terminal(width=80, file=buffer))
    phase = {"name": "cutover", "start_s": 0.0, "end_s": 5.0, "sent": 1000, "failed": 2,
             "p50_ms": 1.0, "p99_ms": 3.0, "share": {"gcp-standby": 1.0}}  # fmt: skip
    journal = {
        "exitplan": {
            "from": "aws-primary",
            "to": "gcp-standby",
            "verdict": {"passed": False, "summary": "2 wrong answers in cutover"},
            "rto_measured_s": 21.4,
            "cutover": {"measured_s": 21.4, "holds_s": 20, "overhead_s": 1.4},
            "load": {
                "scheduled": 4000,
                "accounted": 4000,
                "failed": 2,
                "lost": 0,
                "wrong_answers": 2,
                "lag_p99_ms": 1.25,
            },
            "phases": [phase],
        }
    }
    render.drill_verdict(journal, "/tmp/drills/20261130T0900")
    text = buffer.getvalue()
    first = text.splitlines()[0]
    assert first == "FAILED aws-primary -> gcp-standby: RTO 21.4 s, 2 of 4000 requests failed"
    assert "RTO       21.4 s = 20 s configured holds + 1.4 s measured\n" in text
    assert "target    none (--rto); estimate none" in text
    assert "requests  2 wrong answers, 0 lost, 4000 of 4000 accounted; lag p99 1.2" in text
    assert "verdict   2 wrong answers in cutover" in text
    assert text.count("2 of 4000") == 1, "U4: each figure said once"
    verdict = text.split("┏")[0]  # the verdict and its details (paths below print whole)
    assert all(len(line) <= 80 for line in verdict.splitlines()), verdict
    assert "report: /tmp/drills/20261130T0900/report.html\n" in text
