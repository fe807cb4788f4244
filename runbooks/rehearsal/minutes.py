"""A rehearsal's minutes as an After-Action Report (HSEEP): the timeline of injects, every
answer by role, decisions with owners, time to decision per inject, strengths, gaps against
the expected actions, the Improvement Plan and the score; one document (`minutes_data`) written
as minutes.json, minutes.md and a self-contained minutes.html (`runbooks.reports.kit`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runbooks.rehearsal.tabletop import Scenario, clock, duration_text, fill
from runbooks.rehearsal.tabletop_answers import Answers
from runbooks.rehearsal.tabletop_facts import Fact
from runbooks.rehearsal.tabletop_judge import Finding, Judgement
from runbooks.rehearsal.tabletop_step import StepRun, lines
from runbooks.reports.files import write_atomic
from runbooks.reports.kit import Table, html_page, md_cell
from runbooks.schemas import schema_name

FILES = {
    "markdown": "minutes.md",
    "html": "minutes.html",
    "json": "minutes.json",
    "answers": "answers.yaml",
}


def minutes_data(
    scenario: Scenario,
    answers: Answers,
    result: Judgement,
    facts: list[Fact],
    steps: dict[str, StepRun],
    min_score: float | None,
) -> dict[str, Any]:
    """The minutes as one document (the `tabletop run --json` output, less its files)."""
    values = {f.name: f.value for f in facts}
    people = answers.participants
    timeline = []
    for r in result.injects:
        inject, given = r.inject, r.given
        timeline.append(
            {
                "id": inject.id,
                "time": inject.clock,
                "time_s": inject.time_s,
                "title": inject.title,
                "situation": fill(inject.situation, values),
                "answers": [
                    {
                        "role": a.role,
                        "player": people.get(a.role, ""),
                        "prompt": fill(inject.questions.get(a.role, ""), values),
                        "answer": a.text,
                        "covers": list(a.covers),
                        "decided_at": None if a.decided_at_s is None else clock(a.decided_at_s),
                    }
                    for a in given.answers
                ],
                "decision": {
                    "text": given.decision,
                    "owner": given.owner,
                    "decided_at": clock(given.decided_at_s),
                }
                if given.decision and given.decided_at_s is not None
                else None,
                "time_to_decision_s": r.time_to_decision_s,
                "decide_within_s": inject.decide_within_s,
                "within": r.within,
                "expected_actions": [
                    {
                        "id": c.action.id,
                        "role": c.action.role,
                        "action": fill(c.action.action, values),
                        "covered": c.covered,
                        "covered_by": [
                            {"role": role, "decided_at": None if t is None else clock(t)}
                            for role, t in c.covered_by
                        ],
                    }
                    for c in r.coverage
                ],
                "step": steps[inject.id].as_dict() if inject.id in steps else None,
            }
        )
    return {
        "scenario": {
            "name": scenario.name,
            "title": scenario.title,
            "file": str(scenario.path),
            "service": scenario.service,
            "summary": fill(scenario.summary, values),
            "objectives": [fill(o, values) for o in scenario.objectives],
        },
        "answers": answers.source,
        "participants": {role: people.get(role, "") for role in scenario.roles},
        "score": round(result.score, 4),
        "covered": result.covered,
        "expected": result.expected,
        "min_score": min_score,
        "passed": None if min_score is None else result.score >= min_score,
        "facts": [f.as_dict() for f in facts],
        "timeline": timeline,
        "strengths": [_finding(g) for g in result.strengths],
        "gaps": [_finding(g) for g in result.gaps],
        "improvement_plan": [{**p.__dict__, "due": p.due.isoformat()} for p in result.plan],
    }


def _finding(finding: Finding) -> dict[str, str]:
    return {"inject": finding.inject, "text": finding.text, "role": finding.role}


def tables(data: dict[str, Any]) -> list[Table]:
    """The minutes' sections as tables (the same in Markdown and HTML)."""
    timeline = data["timeline"]
    ttd = [
        [
            i["time"],
            i["title"],
            i["decision"]["text"] if i["decision"] else "no decision",
            i["decision"]["owner"] if i["decision"] else "-",
            _ttd(i),
        ]
        for i in timeline
    ]
    answers = [
        [
            i["time"],
            i["id"],
            a["role"],
            a["player"] or "-",
            a["answer"] or "(no answer)",
            ", ".join(a["covers"]) or "-",
            a["decided_at"] or "-",
        ]
        for i in timeline
        for a in i["answers"]
    ]
    expected = [
        [
            i["id"],
            e["id"],
            e["role"],
            e["action"],
            ", ".join(f"{c['role']} at {c['decided_at']}" for c in e["covered_by"]) or "GAP",
        ]
        for i in timeline
        for e in i["expected_actions"]
    ]
    steps = [
        [i["id"], label, text] for i in timeline if i["step"] for label, text in lines(i["step"])
    ]
    return [
        (
            "Timeline",
            ["time", "inject", "situation"],
            [[i["time"], i["title"], i["situation"]] for i in timeline],
        ),
        (
            "Decisions and time to decision",
            ["time", "inject", "decision", "owner", "time to decision"],
            ttd,
        ),
        (
            "Answers by role",
            ["time", "inject", "role", "player", "answer", "covers", "decided at"],
            answers,
        ),
        ("Expected actions", ["inject", "id", "role", "action", "covered by"], expected),
        ("Drill steps run", ["inject", "#", "step or figure"], steps),
        (
            "Strengths",
            ["inject", "strength"],
            [[s["inject"], s["text"]] for s in data["strengths"]],
        ),
        (
            "Gaps",
            ["inject", "role", "gap"],
            [[g["inject"], g["role"] or "-", g["text"]] for g in data["gaps"]],
        ),
        (
            "Improvement Plan",
            ["inject", "corrective action", "owner", "due", "from"],
            [
                [p["inject"], p["action"], p["owner"], p["due"], p["origin"]]
                for p in data["improvement_plan"]
            ],
        ),
        (
            "Facts (live from the project)",
            ["fact", "value", "source"],
            [[f["name"], f["value"], f["source"]] for f in data["facts"]],
        ),
    ]


def _ttd(inject: dict[str, Any]) -> str:
    seconds = inject["time_to_decision_s"]
    if seconds is None:
        return "-"
    limit = inject["decide_within_s"]
    shown = duration_text(seconds)
    return (
        shown
        if limit is None
        else f"{shown} ({'met' if inject['within'] else 'missed'} {duration_text(limit)})"
    )


def headline(data: dict[str, Any]) -> str:
    """Score line: covered of expected, the share, the threshold when one was set."""
    line = f"score {data['covered']}/{data['expected']} ({data['score']:.0%})"
    if data["min_score"] is not None:
        line += f", {'at or above' if data['passed'] else 'below'} {data['min_score']:.0%}"
    gaps = len(data["gaps"])
    return line + f", {gaps} gap{'' if gaps == 1 else 's'}"


def markdown(data: dict[str, Any]) -> str:
    """The minutes as Markdown."""
    s = data["scenario"]
    lines = [
        f"# After-Action Report: {md_cell(s['title'])}",
        "",
        f"**{headline(data)}** · service {s['service']} · scenario {s['file']} · "
        f"answers {data['answers']}",
        "",
    ]
    if s["summary"]:
        lines += [s["summary"], ""]
    if s["objectives"]:
        lines += ["## Objectives", "", *(f"- {o}" for o in s["objectives"]), ""]
    lines += [
        "## Participants",
        "",
        *(f"- {role}: {who or '(not named)'}" for role, who in data["participants"].items()),
        "",
    ]
    for title, headers, rows in tables(data):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["None recorded.", ""]
            continue
        lines.append("| " + " | ".join(map(md_cell, headers)) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(map(md_cell, row)) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def html(data: dict[str, Any]) -> str:
    """The minutes as one self-contained HTML page."""
    s = data["scenario"]
    people = [[role, who or "(not named)"] for role, who in data["participants"].items()]
    meta = (
        f"{headline(data)} · service {s['service']} · scenario {s['file']} · "
        f"answers {data['answers']}" + (f" · {s['summary']}" if s["summary"] else "")
    )
    sections: list[Table] = [
        ("Objectives", ["objective"], [[o] for o in s["objectives"]]),
        ("Participants", ["role", "player"], people),
        *tables(data),
    ]
    return html_page(
        data["passed"],
        [headline(data)],
        f"After-Action Report: {s['title']}",
        meta,
        [],
        sections,
        plots_title="",
    )


def write_minutes(out: Path, data: dict[str, Any], answers_yaml: str) -> dict[str, str]:
    """Write minutes.md, minutes.html, minutes.json (the `tabletop.run` document) and the
    answers (answers.yaml: replay with --answers) into `out`; their paths by kind."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: str(out / name) for kind, name in FILES.items()}
    document = {"schema": schema_name("tabletop.run"), **data, "files": paths}
    write_atomic(out / FILES["json"], json.dumps(document, indent=2) + "\n")
    write_atomic(out / FILES["markdown"], markdown(data))
    write_atomic(out / FILES["html"], html(data))
    write_atomic(out / FILES["answers"], answers_yaml)
    return paths
