"""The drill report: Markdown and one self-contained HTML page rendered from a journal."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from runbooks.reports.drill import render_html, render_markdown, write_report
from runbooks.reports.kit import svg_line_chart

FROM, TO = "aws-primary", "gcp-standby"
PHASES = [  # name, start_s, end_s, share on TO
    ("preflight", 0.0, 1.5, 0.0),
    ("baseline", 1.5, 4.0, 0.0),
    ("canary-10", 4.0, 7.0, 0.1),
    ("canary-50", 7.0, 10.0, 0.5),
    ("cutover", 10.0, 13.0, 1.0),
    ("vendor-exit", 13.0, 16.0, 1.0),
    ("verify", 16.0, 18.5, 1.0),
    ("rollback", 18.5, 20.0, 0.0),
]
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


def phase_at(t: float) -> tuple[str, float]:
    return next((n, s) for n, start, end, s in PHASES if start <= t < end)


def activity(name: str, kind: str, start: str, end: str) -> dict[str, Any]:
    """One Chaos Toolkit activity run on the drill's day."""
    day = "2026-11-26T"
    return {
        "activity": {"name": name, "type": kind},
        "status": "succeeded",
        "start": day + start,
        "end": day + end,
        "output": None,
    }


def journal() -> dict[str, Any]:
    """A realistic journal of a passed sandbox drill: 8 phases, 200 timeline buckets."""
    timeline = []
    for i in range(200):
        t = round(i * 0.1, 1)
        name, share = phase_at(t)
        failed = 3 if name == "cutover" and i % 10 == 0 else 0
        timeline.append(
            {
                "t_s": t,
                "sent": 20,
                "ok": 20 - failed,
                "failed": failed,
                "p50_ms": 4.2 + share,
                "p99_ms": 11.5 + 6 * share + (i % 7),
                "share": {FROM: round(1 - share, 3), TO: share},
            }
        )
    phases = []
    for name, start, end, share in PHASES:
        rows = [b for b in timeline if start <= b["t_s"] < end]
        phases.append(
            {
                "name": name,
                "start_s": start,
                "end_s": end,
                "sent": sum(b["sent"] for b in rows),
                "failed": sum(b["failed"] for b in rows),
                "p50_ms": 4.2 + share,
                "p99_ms": 12.75 + 6 * share,
                "share": {FROM: 1 - share, TO: share},
            }
        )
    gate = {"error_rate": 0.0, "p99_ms": 14.1, "slo_p99_ms": 50.0, "baseline_p99_ms": 12.8}
    digest = "sha256:abc123"
    return {
        "title": "Exit aws-primary to gcp-standby",
        "status": "completed",
        "deviated": False,
        "start": "2026-11-26T10:00:00",
        "end": "2026-11-26T10:00:20",
        "duration": 20.0,
        "steady_states": {"before": {"steady_state_met": True}, "after": {}},
        "run": [
            activity("shift-10", "action", "10:00:04", "10:00:04.5"),
            activity("probe-p99", "probe", "10:00:06", "10:00:06.2"),
        ],
        "rollbacks": [activity("restore-dns", "action", "10:00:18.5", "10:00:19.9")],
        "exitplan": {
            "from": FROM,
            "to": TO,
            "target": "sandbox",
            "rate": 200.0,
            "rto_target_s": 60.0,
            "rto_estimate_s": 45.0,
            "rto_measured_s": 9.4,
            "rpo": {"from_digest": digest, "to_digest": digest, "lag_versions": 0},
            "phases": phases,
            "gates": [{**gate, "step": s, "passed": True, "reason": "in SLO"} for s in (10, 50)],
            "changes": [
                {"what": "dns weight", "detail": "api.example: 100/0 -> 0/100", "restored": True},
                {"what": "bucket policy", "detail": "deny writes on s3", "restored": False},
                {"what": "note", "detail": "nothing to restore", "restored": None},
            ],
            "timeline": timeline,
            "verdict": {"passed": True, "summary": "cut over within the RTO target"},
            "cost_per_hour": {"before": 12.5, "after": 10.25},
        },
    }


class Checker(HTMLParser):
    """Collects parse problems (unbalanced tags) and every attribute seen."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def parse(page: str) -> Checker:
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.problems == []
    assert checker.stack == []
    return checker


def test_markdown_starts_with_the_verdict_and_has_the_phase_rows() -> None:
    md = render_markdown(journal())
    first = md.splitlines()[0]
    assert first.startswith("**PASSED**")
    assert "aws-primary -> gcp-standby" in first
    assert "RTO 9.4 s vs target 60.0 s (met), standby estimate 45.0 s" in first
    assert "9 / 4,000 requests failed (0.22%)" in first
    assert "gates 2/2 passed" in first and "cut over within the RTO target" in first
    assert "| canary-50 | 3.0 s | 600 | 0 | 0.0% | 4.70 ms | 15.8 ms | 50.0% | 50.0% |" in md
    assert "| cutover | 3.0 s | 600 | 9 | 1.5% | 5.20 ms | 18.8 ms | 0.0% | 100.0% |" in md
    assert "| 10% | pass |" in md
    assert "| dns weight | api.example: 100/0 -> 0/100 | yes |" in md
    assert "| bucket policy | deny writes on s3 | no |" in md and "| nothing to restore | - |" in md
    assert "| RPO | 0 (digests equal) |" in md
    assert "| change | -$2.25/h |" in md
    assert "| rollback | restore-dns | succeeded | +18.5 s | 1.4 s |" in md


def test_html_is_self_contained_with_three_plots_and_the_tables() -> None:
    page = render_html(journal())
    checker = parse(page)
    assert checker.tags.count("svg") == 3 and page.count("<svg") == 3
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        assert "<polyline" in svg and "points=" in svg
        labels = re.findall(r'<text class="band-label"[^>]*>([^<]*)</text>', svg)
        assert labels == [p[0] for p in PHASES]
    assert page.index("PASSED") < page.index("<svg") < page.index("<table")
    assert "aws-primary -&gt; gcp-standby" in page and "cut over within the RTO target" in page
    assert "<td>canary-50</td>" in page and "<th>share gcp-standby</th>" in page
    assert ">Traffic share per stack<" in page and ">Latency p50 / p99<" in page
    for tag, name, value in checker.attrs:
        if name in ("src", "href"):
            assert not re.match(r"\s*(https?:)?//", value or ""), (tag, value)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "<style>" in page


def test_user_strings_are_escaped() -> None:
    j = journal()
    j["title"] = "<script>alert(1)</script>"
    j["exitplan"]["changes"][0]["detail"] = '<img src=x onerror="alert(2)">'
    j["exitplan"]["phases"][0]["name"] = "<script>pre</script>"
    j["exitplan"]["verdict"]["summary"] = "a & b <b>"
    page = render_html(j)
    parse(page)
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;script&gt;pre&lt;/script&gt;" in page  # in the table and as a band label
    assert "a &amp; b &lt;b&gt;" in page
    assert "| Exit" not in render_markdown(j).splitlines()[0]


def test_a_failed_drill_shows_failed_and_the_failing_gate() -> None:
    j = journal()
    j["status"] = "failed"
    j["exitplan"]["gates"][1].update(
        passed=False, p99_ms=212.0, reason="p99 212.0 ms over SLO 50.0 ms"
    )
    j["exitplan"]["verdict"] = {"passed": False, "summary": "rolled back at canary-50"}
    j["exitplan"]["rto_measured_s"] = None
    md, page = render_markdown(j), render_html(j)
    assert md.startswith("**FAILED**")
    assert "RTO not measured vs target 60.0 s (missed)" in md.splitlines()[0]
    assert "gates 1/2 passed" in md and "gate at 50% failed: p99 212.0 ms over SLO 50.0 ms" in md
    assert "| 50% | FAIL |" in md
    assert '<div class="verdict fail"><strong>FAILED</strong>' in page
    assert "p99 212.0 ms over SLO 50.0 ms" in page and "PASSED" not in page
    parse(page)


def test_an_empty_timeline_renders_the_tables_without_plots() -> None:
    j = journal()
    j["exitplan"]["timeline"] = []
    del j["exitplan"]["cost_per_hour"]
    page = render_html(j)
    parse(page)
    assert "<svg" not in page and "plots skipped" in page
    assert "<td>cutover</td>" in page and "<h2>Gates</h2>" in page
    assert "<h2>Activity log</h2>" in page and "restore-dns" in page
    assert "Cost per hour" not in page and "Cost per hour" not in render_markdown(j)


def test_a_bare_journal_still_renders() -> None:
    bare = {"title": "aborted early", "status": "aborted", "run": []}
    md, page = render_markdown(bare), render_html(bare)
    assert md.startswith("**FAILED**") and "run aborted" in md and "None recorded." in md
    assert "<svg" not in page
    parse(page)


def test_svg_line_chart_has_axes_bands_and_legend() -> None:
    svg = svg_line_chart(
        {"p50": [(0, 1.0), (1, 2.0)], "<p99>": [(0, 3.0), (1, 12.0)]},
        title="t",
        y_label="ms",
        bands=[(0.0, 0.5, "a"), (0.5, 1.0, "b")],
    )
    assert svg.count("<polyline") == 2 and svg.count('class="band"') == 2
    assert "&lt;p99&gt;" in svg and "<p99>" not in svg
    assert re.findall(r'text-anchor="end">([^<]*)<', svg) == ["0", "2.5", "5", "7.5", "10", "12.5"]
    assert ">seconds since drill start<" in svg and ">ms<" in svg


def test_write_report_writes_both_files_atomically(tmp_path: Path) -> None:
    out = tmp_path / "drill" / "reports"
    md, page = write_report(journal(), out)
    assert (md, page) == (out / "report.md", out / "report.html")
    assert md.read_text().startswith("**PASSED**")
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]
    j = copy.deepcopy(journal())
    j["exitplan"]["verdict"]["passed"] = False
    write_report(j, out)
    assert md.read_text().startswith("**FAILED**")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md"]


def test_the_report_separates_holds_from_overhead_and_accounts_for_every_request() -> None:
    j = journal()
    ex = j["exitplan"]
    ex["phases"].insert(2, {**ex["phases"][1], "name": "to canary-10", "kind": "transition"})
    ex["cutover"] = {"measured_s": 9.4, "holds_s": 9.0, "overhead_s": 0.4}
    ex["load"] = {
        "scheduled": 4100, "accounted": 4100, "failed": 12, "lost": 0, "wrong_answers": 3,
        "errors": {"wrong_answer": 3, "http-503": 9}, "lag_p50_ms": 0.4, "lag_p99_ms": 2.5,
        "lag_max_ms": 7.0, "max_lag_ms": 5.0, "reference": "/pkg/reference.json",
    }  # fmt: skip
    ex["gates"][0].update(phase="canary-10", share=None)
    ex["gates"][1].update(phase="cutover", share={TO: 0.995, FROM: 0.005})
    ex["rpo"].update(store_lag_s=None, store_unread="gcp-standby: cannot read its store")
    md = render_markdown(j)
    first = md.splitlines()[0]
    assert "RTO 9.4 s (9.0 s configured holds + 0.4 s measured overhead) vs target" in first
    assert "12 / 4,100 requests failed (0.29%), 3 wrong answers, 0 lost" in first
    assert "| to canary-10 (transition) |" in md
    assert "| unmeasurable |" in md and "| cutover | 99.5% |" in md
    assert "| scheduled | 4,100 |" in md and "| accounted in the rows above | 4,100 |" in md
    assert "| answers checked against | /pkg/reference.json |" in md
    assert "not measured: gcp-standby: cannot read its store" in md
    parse(render_html(j))
