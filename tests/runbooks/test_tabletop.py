"""`exitplan tabletop` (issue 18 part 2): the three shipped scenarios run from their answers
files (score, gaps, minutes written and valid against the schema), facts read live from the
project (a changed stack, a drill journal, the inventory move them), judging (coverage, time to
decision, late and missing decisions, the Improvement Plan), one interactive run through a real
terminal (tmux), and bad scenario and answers files exiting 2 naming what is wrong."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from typer.testing import CliRunner

from components.cost.estimate import estimate_stacks
from components.cost.profile import HOURS_PER_MONTH, Profile
from components.stack_config import Project
from runbooks.cli import app, main
from runbooks.rehearsal.inventory import load_inventory
from runbooks.rehearsal.tabletop import clock, load_scenario, parse_clock
from runbooks.rehearsal.tabletop_answers import answers_from
from runbooks.rehearsal.tabletop_facts import FACTS, ProjectFacts, Where
from runbooks.rehearsal.tabletop_judge import judge
from tests.conftest import ROOT, copied_project, stack_config
from tests.runbooks.json_contract import validated

EXAMPLES = ROOT / "examples" / "tabletop"
INVENTORY = ROOT / "examples" / "inventory.csv"
# scenario -> (covered, expected, the gaps as (inject, words of the gap))
SHIPPED = {
    "vendor-distress": (
        9,
        10,
        [
            ("due-diligence", "data export path"),
            ("phased-migration", "decided in 35m by Dana Ortiz"),
        ],
    ),
    "partner-restriction": (
        8,
        10,
        [("access-restricted", "Escalate"), ("partner-returns", "concentration risk")],
    ),
    "leaked-store-key": (8, 9, [("rotate-redeploy", "digest"), ("post-incident", "no decision")]),
}


def cli(*args: str, code: int = 0) -> Any:
    """`exitplan ARGS` in-process (CliRunner); the result, its exit code checked."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def exits(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`exitplan ARGS` through the CLI's error handler: exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["exitplan", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().err


# --- the shipped scenarios, from their answers files ------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_shipped_scenario_runs_from_its_answers_file(name: str, tmp_path: Path) -> None:
    covered, expected, gaps = SHIPPED[name]
    out = tmp_path / "minutes"
    result = cli(
        "tabletop",
        "run",
        str(EXAMPLES / f"{name}.yaml"),
        "--answers",
        str(EXAMPLES / f"{name}.answers.yaml"),
        "--inventory",
        str(INVENTORY),
        "--journals",
        str(tmp_path),
        "--out",
        str(out),
        "--project",
        str(ROOT),
        "--json",
    )
    doc = validated(result.stdout)
    assert (doc["covered"], doc["expected"]) == (covered, expected)
    assert doc["score"] == pytest.approx(covered / expected, abs=1e-4)
    assert [g["inject"] for g in doc["gaps"]] == [inject for inject, _ in gaps]
    assert all(words in g["text"] for g, (_, words) in zip(doc["gaps"], gaps, strict=True))
    # Every gap has a corrective action with an owner and a due date 30 days on.
    from_gaps = [p for p in doc["improvement_plan"] if p["origin"] == "gap"]
    assert len(from_gaps) == len(gaps) and all(
        p["owner"] and p["due"] == "2026-12-30" for p in from_gaps
    )
    # The minutes: the same document on disk, Markdown and one self-contained page.
    assert validated((out / "minutes.json").read_text())["timeline"] == doc["timeline"]
    markdown, page = (out / "minutes.md").read_text(), (out / "minutes.html").read_text()
    for section in (
        "Timeline",
        "Answers by role",
        "Decisions and time to decision",
        "Strengths",
        "Gaps",
        "Improvement Plan",
    ):
        assert f"## {section}" in markdown and f"<h2>{section}</h2>" in page
    assert "{{" not in markdown and "<script" not in page and "src=" not in page
    # Facts are the project's: the inventory's exit clause, not text typed in the scenario.
    row = next(r for r in load_inventory(INVENTORY, Project(ROOT)) if r.service == "fraud-scoring")
    facts = {f["name"]: f["value"] for f in doc["facts"]}
    if "exit_clause" in facts:
        assert facts["exit_clause"] == row.exit_clause and row.exit_clause in markdown
    assert facts.get("last_drill_verdict", "no drill on record") == "no drill on record"
    # The answers written beside the minutes replay to the same score.
    replay = cli(
        "tabletop",
        "run",
        str(EXAMPLES / f"{name}.yaml"),
        "--answers",
        str(out / "answers.yaml"),
        "--inventory",
        str(INVENTORY),
        "--journals",
        str(tmp_path),
        "--out",
        str(tmp_path / "again"),
        "--project",
        str(ROOT),
        "--json",
    )
    assert json.loads(replay.stdout)["score"] == doc["score"]


def test_an_inject_runs_the_exit_plan_drill_dry_and_its_steps_reach_the_minutes(
    tmp_path: Path,
) -> None:
    from runbooks.drills.exit_options import ExitPlanOptions, planned_steps

    result = cli(
        "tabletop",
        "run",
        str(EXAMPLES / "vendor-distress.yaml"),
        "--answers",
        str(EXAMPLES / "vendor-distress.answers.yaml"),
        "--journals",
        str(tmp_path),
        "--out",
        str(tmp_path / "m"),
        "--project",
        str(ROOT),
        "--json",
    )
    step = next(i["step"] for i in validated(result.stdout)["timeline"] if i["step"])
    assert step["command"] == ("exitplan drill exit-plan --from aws-primary --to gcp-standby --dry")
    weights = {"aws-primary": 100, "gcp-standby": 0, "azure-standby": 0}  # the router's config
    assert step["figures"]["weights_before"] == weights
    assert step["steps"] == planned_steps(ExitPlanOptions("aws-primary", "gcp-standby"), weights)
    assert "not checked" in step["basis"]  # no sandbox here: the minutes say so
    assert step["steps"][-1] in (tmp_path / "m" / "minutes.md").read_text()


class RunningSandbox:
    """A stand-in for the running sandbox at its edge: its weights and what it cannot do."""

    kind = "sandbox"
    unsupported: ClassVar[dict[str, str]] = {
        "revoke_credentials:aws-primary": "the stand-in cannot revoke keys"
    }

    def weights(self) -> dict[str, int]:
        """The front door's weights now."""
        return {"aws-primary": 90, "gcp-standby": 10}


def test_on_a_running_sandbox_the_step_plans_from_its_weights_and_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from runbooks.drills.exit_options import ExitPlanOptions, planned_steps
    from runbooks.rehearsal.tabletop import Step
    from runbooks.rehearsal.tabletop_step import run_step
    from runbooks.targets import sandbox_setup

    monkeypatch.setattr(sandbox_setup, "running_sandbox", lambda _project: (RunningSandbox(), ""))
    run = run_step(Project(ROOT), "i", Step("exit-plan"), "aws-primary", "gcp-standby")
    assert run.basis.startswith("the running sandbox")
    assert run.figures["weights_before"] == RunningSandbox().weights()
    assert run.figures["vendor_exit"] == "skipped: the stand-in cannot revoke keys"
    options = ExitPlanOptions("aws-primary", "gcp-standby")
    reason = RunningSandbox.unsupported["revoke_credentials:aws-primary"]
    assert list(run.steps) == planned_steps(options, RunningSandbox().weights(), reason)
    assert any("NOT revoking aws-primary's credentials" in step for step in run.steps)


def test_template_prints_every_prompt_with_live_facts_and_empty_answers(tmp_path: Path) -> None:
    scenario = load_scenario(EXAMPLES / "leaked-store-key.yaml")
    text = cli(
        "tabletop",
        "template",
        str(scenario.path),
        "--journals",
        str(tmp_path),
        "--project",
        str(ROOT),
    ).stdout
    data = yaml.safe_load(text)
    assert data["scenario"] == "leaked-store-key"
    prompts = [(i["id"], a["role"]) for i in data["injects"] for a in i["answers"]]
    assert prompts == [(i.id, r) for i in scenario.injects for r in i.questions]
    assert all(
        a["answer"] == "" and a["covers"] == [] for i in data["injects"] for a in i["answers"]
    )
    assert "{{" not in text and "s3://fraud-scoring-models-use1" in text  # the situation's
    # The template is a valid answers file: it judges to 0 with every action a gap.
    values = dict.fromkeys(scenario.facts_used(), "x")
    result = judge(scenario, answers_from(data, scenario, "template"), values)
    assert result.score == 0 and len(result.gaps) == result.expected + len(scenario.injects)


# --- facts, live ------------------------------------------------------------------------------


def test_facts_lists_every_fact_with_value_and_source(tmp_path: Path) -> None:
    doc = validated(
        cli(
            "tabletop",
            "facts",
            "--inventory",
            str(INVENTORY),
            "--journals",
            str(tmp_path),
            "--project",
            str(ROOT),
            "--json",
        ).stdout
    )
    facts = {f["name"]: f for f in doc["facts"]}
    assert list(facts) == list(FACTS) and all(f["value"] and f["source"] for f in doc["facts"])
    standby = Project(ROOT).stack("gcp-standby")
    assert standby.rto is not None
    assert facts["standby_stack"]["value"].startswith("gcp-standby (gcp, ")
    assert facts["achievable_rto"]["value"].startswith(f"{standby.rto.total_s:.1f} s")
    cost = estimate_stacks(Project(ROOT), ["gcp-standby"], Profile())[0]
    assert facts["standby_cost_per_hour"]["value"].startswith(
        f"${cost.monthly / HOURS_PER_MONTH:,.2f}/h"
    )
    assert facts["rto_target"]["value"] == "15m" and "row 1" in facts["rto_target"]["source"]


def test_facts_follow_the_project_the_journals_and_the_inventory(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    project = copied_project(root)
    where = Where(project, "fraud-scoring", journals=tmp_path / "journals")
    before = ProjectFacts(where).values(["achievable_rto", "last_drill_verdict", "exit_clause"])
    assert before["last_drill_verdict"] == "no drill on record"
    assert before["exit_clause"].startswith("not recorded")
    # The standby goes hot: its achievable RTO is the catalog's for that level.
    config = stack_config("gcp-standby")
    config["config"]["exitplan:standby"]["level"] = "hot"
    (root / "stacks" / "Pulumi.gcp-standby.yaml").write_text(yaml.safe_dump(config))
    # A drill to the standby passed; an older one failed; a failover to another stack.
    drills = tmp_path / "journals" / "drills"
    for folder, start, passed, to in (
        ("a", "2026-11-20T10:00:00+00:00", True, "gcp-standby"),
        ("b", "2026-10-01T10:00:00+00:00", False, "gcp-standby"),
        ("c", "2026-11-29T10:00:00+00:00", False, "azure-standby"),
    ):
        (drills / folder).mkdir(parents=True)
        journal = {
            "start": start,
            "exitplan": {
                "from": "aws-primary",
                "to": to,
                "target": "sandbox",
                "rto_measured_s": 21.5,
                "verdict": {"passed": passed, "summary": f"summary {folder}"},
            },
        }
        (drills / folder / "journal.json").write_text(json.dumps(journal))
    (drills / "broken").mkdir()
    (drills / "broken" / "journal.json").write_text("{not json")
    inventory = tmp_path / "inventory.csv"
    shutil.copy(INVENTORY, inventory)
    facts = ProjectFacts(
        Where(Project(root), "fraud-scoring", inventory=inventory, journals=tmp_path / "journals")
    )
    hot = Project(root).stack("gcp-standby").rto
    assert hot is not None and hot.level == "hot"
    assert facts.get("achievable_rto").value.startswith(
        f"{hot.total_s:.1f} s (estimated at the hot"
    )
    assert facts.get("achievable_rto").value != before["achievable_rto"]
    verdict = facts.get("last_drill_verdict")
    assert verdict.value.startswith("PASSED (exit-plan aws-primary -> gcp-standby on the sandbox")
    assert "10 days ago" in verdict.value and verdict.value.endswith("summary a")
    assert facts.get("last_drill_cutover").value == "21.5 s (measured on the sandbox target)"
    row = load_inventory(inventory, Project(root))[0]
    assert facts.get("exit_clause").value == row.exit_clause
    assert facts.get("service_owner").value == row.owner


# --- judging ----------------------------------------------------------------------------------

SMALL = {
    "name": "small",
    "title": "A small drill of the room",
    "service": "fraud-scoring",
    "roles": {"incident-commander": "", "engineering": ""},
    "injects": [
        {
            "id": "first",
            "time": "T+10m",
            "title": "Something breaks",
            "situation": "The standby is {{ standby_stack }}.",
            "questions": {"incident-commander": "What now?", "engineering": "How?"},
            "expected_actions": [
                {"id": "declare", "role": "incident-commander", "action": "Declare an incident."},
                {
                    "id": "cutover",
                    "role": "engineering",
                    "action": "Cut over to {{ standby_stack }}.",
                },
            ],
            "decide_within": "5m",
        },
    ],
}


def write(path: Path, data: Any) -> Path:
    """`data` as YAML at `path`."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_judging_coverage_time_to_decision_and_the_improvement_plan(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path / "s.yaml", SMALL))
    answers: dict[str, Any] = {
        "scenario": "small",
        "participants": {"engineering": "Bo"},
        "injects": [
            {
                "id": "first",
                "answers": [
                    {
                        "role": "incident-commander",
                        "answer": "Declared.",
                        "covers": ["declare"],
                        "decided_at": "T+12m",
                    },
                    {"role": "engineering", "answer": "Hm."},
                ],
                "decision": "Wait.",
                "owner": "Ada",
                "decided_at": "T+18m",
                "action_items": [
                    {"action": "Write the runbook", "owner": "Bo", "due": "2026-12-15"}
                ],
            }
        ],
    }
    values = {"standby_stack": "gcp-standby (gcp, us-central1)"}
    result = judge(scenario, answers_from(answers, scenario, "a"), values)
    assert (result.covered, result.expected) == (1, 2) and result.score == 0.5
    only = result.injects[0]
    assert only.time_to_decision_s == 8 * 60 and only.within is False  # 8m > 5m
    assert [g.text for g in result.gaps] == [
        "not covered: Cut over to gcp-standby (gcp, us-central1).",
        "decided in 8m by Ada, expected within 5m",
    ]
    assert [(p.action, p.owner, p.due.isoformat(), p.origin) for p in result.plan] == [
        ("Write the runbook", "Bo", "2026-12-15", "agreed"),
        (
            "make it a runbook step and rehearse it: Cut over to gcp-standby (gcp, us-central1).",
            "Bo (engineering)",
            "2026-12-30",
            "gap",
        ),
        (
            f"pre-agree the trigger and the owner of the decision at {'Something breaks'!r} so it "
            "takes under 5m",
            "incident-commander",
            "2026-12-30",
            "gap",
        ),
    ]
    # Decided in time and everything covered: no gap, score 1.
    answers["injects"][0]["answers"][1]["covers"] = ["cutover"]
    answers["injects"][0]["answers"][1]["decided_at"] = "T+11m"
    answers["injects"][0]["decided_at"] = "T+15m"
    result = judge(scenario, answers_from(answers, scenario, "a"), values)
    assert result.score == 1 and not result.gaps and result.injects[0].within is True


def test_min_score_fails_the_run_below_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "tabletop",
        "run",
        str(EXAMPLES / "leaked-store-key.yaml"),
        "--answers",
        str(EXAMPLES / "leaked-store-key.answers.yaml"),
        "--journals",
        str(tmp_path),
        "--project",
        str(ROOT),
        "--out",
        str(tmp_path / "m"),
    ]
    assert exits([*args, "--min-score", "0.95"], monkeypatch, capsys)[0] == 1
    assert json.loads((tmp_path / "m" / "minutes.json").read_text())["passed"] is False
    assert exits([*args, "--min-score", "0.85"], monkeypatch, capsys)[0] == 0


def test_the_clock() -> None:
    assert [parse_clock(t, "f", "time") for t in ("T+0", "T+45s", "T+10m", "T+1h30m")] == [
        0,
        45,
        600,
        5400,
    ]
    assert [clock(s) for s in (0, 45, 600, 5400, 90)] == [
        "T+0",
        "T+45s",
        "T+10m",
        "T+1h30m",
        "T+1m30s",
    ]


# --- bad input: scenario files and answers files ----------------------------------------------


def _bad_scenario(change: str) -> dict[str, Any]:
    data = json.loads(json.dumps(SMALL))
    inject = data["injects"][0]
    if change == "unknown role":
        data["roles"]["janitor"] = ""
    elif change == "role not in the scenario":
        inject["questions"]["legal"] = "And?"
    elif change == "action role":
        inject["expected_actions"][0]["role"] = "ceo"
    elif change == "no time":
        del inject["time"]
    elif change == "bad time":
        inject["time"] = "10 minutes"
    elif change == "unknown fact":
        inject["situation"] = "Cost: {{ standby_price }}."
    elif change == "step without dry":
        inject["step"] = {"drill": "exit-plan"}
    elif change == "gate on a dry step":
        inject["step"] = {"drill": "exit-plan", "dry": True, "max_lag_ms": 50}
    elif change == "step rate":
        inject["step"] = {"drill": "exit-plan", "dry": False, "rate": 0}
    elif change == "step hold":
        inject["step"] = {"drill": "exit-plan", "dry": False, "hold": "soon"}
    elif change == "duplicate action":
        inject["expected_actions"][1]["id"] = "declare"
    elif change == "typo":
        inject["situaton"] = "x"
    return data


BAD_SCENARIOS = {
    "unknown role": ("roles.janitor", "unknown role 'janitor'"),
    "role not in the scenario": ("questions.legal", "not a role of the scenario role 'legal'"),
    "action role": ("expected_actions[0].role", "unknown role 'ceo'"),
    "no time": ("injects[0] (first).time", "the inject has no time"),
    "bad time": ("injects[0] (first).time", "'10 minutes' is not on the exercise clock"),
    "unknown fact": ("injects[0] (first).situation", "unknown fact {{ standby_price }}"),
    "step without dry": ("step.dry", "dry is None, not true or false"),
    "gate on a dry step": ("step.max_lag_ms", "max_lag_ms applies to a real step only"),
    "step rate": ("step.rate", "rate is 0"),
    "step hold": ("step.hold", "'soon' is not a duration"),
    "duplicate action": ("expected_actions", "action id 'declare' is used twice"),
    "typo": ("situaton", "unknown key 'situaton'"),
}


@pytest.mark.parametrize("change", sorted(BAD_SCENARIOS))
def test_a_bad_scenario_exits_2_naming_it(
    change: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write(tmp_path / "bad.yaml", _bad_scenario(change))
    code, err = exits(
        ["tabletop", "template", str(path), "--project", str(ROOT)], monkeypatch, capsys
    )
    field, problem = BAD_SCENARIOS[change]
    assert code == 2, err
    assert str(path) in err and field in err and problem in err and "fix:" in err


BAD_ANSWERS = {
    "other scenario": (lambda a: a.update(scenario="vendor-distress"), "scenario"),
    "unknown inject": (lambda a: a["injects"][0].update(id="second"), "no inject 'second'"),
    "unknown role": (
        lambda a: a["injects"][0]["answers"][0].update(role="legal"),
        "answers[0].role",
    ),
    "unknown action": (
        lambda a: a["injects"][0]["answers"][0].update(covers=["fly"]),
        "expects no action 'fly'",
    ),
    "covers without a time": (
        lambda a: a["injects"][0]["answers"][0].pop("decided_at"),
        "answers[0].decided_at",
    ),
    "before the inject": (
        lambda a: a["injects"][0]["answers"][0].update(decided_at="T+5m"),
        "T+5m is before the inject (T+10m)",
    ),
    "decision without owner": (lambda a: a["injects"][0].pop("owner"), "(first).owner"),
    "bad due date": (
        lambda a: a["injects"][0]["action_items"][0].update(due="soon"),
        "due 'soon' is not a date",
    ),
}


@pytest.mark.parametrize("change", sorted(BAD_ANSWERS))
def test_bad_answers_exit_2_naming_them(
    change: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = write(tmp_path / "s.yaml", SMALL)
    answers = {
        "scenario": "small",
        "injects": [
            {
                "id": "first",
                "answers": [
                    {
                        "role": "incident-commander",
                        "answer": "Declared.",
                        "covers": ["declare"],
                        "decided_at": "T+12m",
                    }
                ],
                "decision": "Wait.",
                "owner": "Ada",
                "decided_at": "T+18m",
                "action_items": [{"action": "Write it", "owner": "Bo", "due": "2026-12-15"}],
            }
        ],
    }
    mutate, expected = BAD_ANSWERS[change]
    mutate(answers)
    path = write(tmp_path / "answers.yaml", answers)
    code, err = exits(
        [
            "tabletop",
            "run",
            str(scenario),
            "--answers",
            str(path),
            "--project",
            str(ROOT),
            "--journals",
            str(tmp_path),
            "--out",
            str(tmp_path / "m"),
        ],
        monkeypatch,
        capsys,
    )
    assert code == 2, err
    assert str(path) in err and expected in err and "fix:" in err
    assert not (tmp_path / "m").exists()  # nothing written from bad answers


def test_without_answers_and_without_a_terminal_it_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path / "s.yaml", SMALL)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, err = exits(
        ["tabletop", "run", str(scenario), "--project", str(ROOT)], monkeypatch, capsys
    )
    assert code == 2 and "--answers" in err and "stdin is not a terminal" in err


# --- live, in a real terminal (tmux) ----------------------------------------------------------


class Terminal:
    """A command in a detached tmux session on a socket of its own."""

    def __init__(self, command: str, tmp: Path) -> None:
        self.socket = f"exitplan-test-{uuid.uuid4().hex[:8]}"
        self.tmp = tmp
        self.tmux(
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "160",
            "-y",
            "60",
            f"{command}; echo EXITCODE=$?; sleep 120",
        )

    def tmux(self, *args: str) -> str:
        """Run tmux on this terminal's socket; its stdout."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return done.stdout

    def screen(self) -> str:
        """The whole pane, scrollback included."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-2000", "-t", "t")

    def expect(self, text: str, timeout: float = 120) -> None:
        """Wait until the line the cursor is on (the prompt) contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = [line for line in self.screen().splitlines() if line.strip()]
            if lines and text in lines[-1]:
                return
            time.sleep(0.2)
        raise AssertionError(f"no prompt {text!r}; the screen:\n{self.screen()}")

    def answer(self, prompt: str, keys: str) -> None:
        """Wait for `prompt`, then type `keys` and Enter."""
        self.expect(prompt)
        if keys:
            self.tmux("send-keys", "-t", "t", "-l", keys)
        self.tmux("send-keys", "-t", "t", "Enter")
        time.sleep(0.3)  # the prompt line is replaced once read

    def close(self) -> None:
        """Stop this terminal's tmux server (only ours: its own socket)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], check=False, capture_output=True)


@pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (make bootstrap installs it with the other "
    "Debian packages: SYSTEM_PACKAGES in the Makefile)",
)
def test_an_interactive_rehearsal_in_a_real_terminal(tmp_path: Path) -> None:
    scenario = write(tmp_path / "s.yaml", SMALL)
    out = tmp_path / "minutes"
    exe = Path(sys.executable).with_name("exitplan")
    env = f"EXITPLAN_TODAY=2026-11-30 COLUMNS=160 PATH={shlex.quote(os.environ['PATH'])}"
    command = (
        f"cd {shlex.quote(str(ROOT))} && env {env} {exe} tabletop run {scenario} "
        f"--journals {tmp_path} --out {out}"
    )
    terminal = Terminal(command, tmp_path)
    try:
        terminal.answer("Who plays incident-commander?", "Ada")
        terminal.answer("Who plays engineering?", "Bo")
        screen = terminal.screen()
        assert "T+10m" in screen and "Something breaks" in screen
        assert "The standby is gcp-standby (gcp, us-central1)." in screen  # a live fact
        terminal.answer("incident-commander answers", "We declare an incident.")
        terminal.answer("covers which expected actions (declare, cutover)", "fly")
        terminal.expect("covers which expected actions")  # asked again
        assert "no expected action 'fly' here" in terminal.screen()
        terminal.answer("covers which expected actions", "declare")
        terminal.answer("decided at", "T+13m")
        terminal.answer("engineering answers", "")  # no answer
        terminal.answer("Decision (Enter: none)", "Cut over to the standby")
        terminal.answer("Owner of the decision", "Ada")
        terminal.answer("decided at (T+10m)", "")  # the clock's default: T+10m + 0 minutes
        terminal.answer("Action item (Enter: no more)", "Rehearse the cutover")
        terminal.answer("owner", "Bo")
        terminal.answer("due (2026-12-30)", "")
        terminal.answer("Action item (Enter: no more)", "")
        terminal.expect("EXITCODE=0")
        assert "score 1/2 (50%)" in terminal.screen()
    finally:
        terminal.close()
    doc = validated((out / "minutes.json").read_text())
    assert doc["answers"] == "interactive session"
    assert doc["participants"] == {"incident-commander": "Ada", "engineering": "Bo"}
    only = doc["timeline"][0]
    assert only["decision"] == {
        "text": "Cut over to the standby",
        "owner": "Ada",
        "decided_at": "T+10m",
    }
    assert only["time_to_decision_s"] == 0 and only["within"] is True
    assert [(a["role"], a["covers"], a["decided_at"]) for a in only["answers"]] == [
        ("incident-commander", ["declare"], "T+13m")
    ]
    assert [g["text"] for g in doc["gaps"]] == [
        "not covered: Cut over to gcp-standby (gcp, us-central1)."
    ]
    assert {
        "action": "Rehearse the cutover",
        "owner": "Bo",
        "due": "2026-12-30",
        "origin": "agreed",
        "inject": "first",
    } in doc["improvement_plan"]
    # What was typed is an answers file: replayed, it judges the same.
    replay = load_scenario(scenario)
    replayed = yaml.safe_load((out / "answers.yaml").read_text())
    assert judge(replay, answers_from(replayed, replay, "r"), {"standby_stack": "x"}).score == 0.5
