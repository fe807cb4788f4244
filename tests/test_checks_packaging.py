"""exitplan's checks where teams run them (issue 27 item 4): `.pre-commit-hooks.yaml` is valid
under pre-commit's own manifest schema and its hooks run under pre-commit in a temporary git
repository; `action.yml`'s steps run, as a GitHub runner would run them, against a temporary
repository, posting the cost diff and each check's verdict as the job summary."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pre_commit.clientlib import InvalidManifestError, load_manifest

from tests.conftest import ROOT
from tests.cost import pulumi_files as pf

HOOKS = ROOT / ".pre-commit-hooks.yaml"
ACTION = ROOT / "action.yml"
BIN = Path(sys.executable).parent  # where this environment's `exitplan` is
STACK = "aws-primary"
# The only expressions action.yml may use outside `if:`; a test fails on any other.
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# How a GitHub runner runs a `shell: bash` step.
RUNNER_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A temporary git repository holding a Pulumi project (this project's Pulumi.yaml and
    stacks/ folder), the example inventory, and two previews of a program that is not exitplan's:
    the head grows the GPU node group from 2 to 4 nodes."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "stacks", root / "stacks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Pulumi.yaml", root)
    shutil.copy(ROOT / "examples" / "inventory.csv", root)
    base = pf.aws_program()
    head = copy.deepcopy(base)
    next(s for s in head if s["urn"].endswith("::gpu-nodes"))["inputs"]["scalingConfig"][
        "minSize"
    ] = 4
    pf.write(root / "base.json", pf.preview(base))
    pf.write(root / "head.json", pf.preview(head))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def environment(**extra: str) -> dict[str, str]:
    """This process's environment with this environment's `exitplan` first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}


def hooks() -> dict[str, dict[str, Any]]:
    """The hooks of `.pre-commit-hooks.yaml`, validated by pre-commit, by id."""
    return {h["id"]: h for h in load_manifest(str(HOOKS))}


def test_the_hooks_file_is_valid_under_pre_commits_schema() -> None:
    assert set(hooks()) == {
        "exitplan-policy",
        "exitplan-parity",
        "exitplan-inventory",
        "exitplan-cost-budget",
    }
    for hook in hooks().values():
        assert hook["language"] == "python"  # pre-commit installs exitplan from this repo
        assert hook["entry"].startswith("exitplan ")
        assert hook["pass_filenames"] is False  # each command reads the project, not files


def test_pre_commits_schema_refuses_a_broken_hooks_file(tmp_path: Path) -> None:
    """The validation can fail: a hook without an entry, and one in an unknown language."""
    raw = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    no_entry = {k: v for k, v in raw[0].items() if k != "entry"}
    cobol = {**raw[0], "language": "cobol"}
    for hook, complaint in ((no_entry, "Missing required key: entry"), (cobol, "cobol")):
        path = tmp_path / "hooks.yaml"
        path.write_text(yaml.safe_dump([hook, *raw[1:]]), encoding="utf-8")
        with pytest.raises(InvalidManifestError, match=complaint):
            load_manifest(str(path))


def pre_commit_run(repo: Path, args: dict[str, list[str]]) -> subprocess.CompletedProcess[str]:
    """`pre-commit run --all-files` in `repo` with every hook of the manifest as a local hook,
    given `args`. The hooks run as `language: system` (the exitplan on PATH): pre-commit's
    `python` language would pip-install this repository into an environment of its own, which
    needs the network."""
    local = [
        {**hook, "language": "system", "args": args[hook_id]} for hook_id, hook in hooks().items()
    ]
    config = {"repos": [{"repo": "local", "hooks": local}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return subprocess.run(
        [str(BIN / "pre-commit"), "run", "--all-files", "--verbose"],
        cwd=repo,
        env=environment(PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home")),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def hook_verdicts(output: str) -> dict[str, str]:
    """Each hook's name and its verdict (Passed, Failed) as pre-commit prints them."""
    found = re.findall(r"^(exitplan [^.\n]+?)\.{3,}(Passed|Failed)$", output, re.MULTILINE)
    return dict(found)


def test_the_hooks_run_under_pre_commit(repo: Path) -> None:
    result = pre_commit_run(
        repo,
        {
            "exitplan-policy": [STACK],
            "exitplan-parity": [STACK, "gcp-standby"],
            "exitplan-inventory": ["inventory.csv"],
            "exitplan-cost-budget": ["base.json", "head.json", "--budget", "1"],
        },
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert hook_verdicts(result.stdout) == {
        "exitplan policy check": "Passed",
        "exitplan parity": "Passed",
        # the example inventory has services that are not exit-ready
        "exitplan inventory check": "Failed",
        "exitplan cost diff (budget gate)": "Failed",
    }, result.stdout
    assert "**Budget check failed**: budget:" in result.stdout
    assert "caused by gpu-nodes" in result.stdout


def evaluate(text: str, inputs: dict[str, str]) -> str:
    """`${{ inputs.NAME }}` replaced as GitHub does; any other expression fails the test."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name.startswith("inputs."), f"action.yml uses an expression the test lacks: {name}"
        return inputs[name.removeprefix("inputs.")]

    return EXPRESSION.sub(value, text)


def run_action(repo: Path, given: dict[str, str]) -> tuple[int, str, str]:
    """action.yml's steps, in order, in `repo` as a runner runs a composite action's bash
    steps: its inputs' defaults overridden by `given`, `GITHUB_ACTION_PATH` this checkout,
    a job summary file. `uses:` steps (actions/setup-python) are not run here: the Python
    running this test stands in. Returns the exit code, the output, and the summary."""
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    unknown = set(given) - set(action["inputs"])
    assert not unknown, f"not inputs of action.yml: {unknown}"
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs |= given
    summary = repo.parent / "summary.md"
    summary.write_text("", encoding="utf-8")
    env = environment(
        GITHUB_ACTION_PATH=str(ROOT),
        GITHUB_STEP_SUMMARY=str(summary),
        RUNNER_TEMP=str(repo.parent),
    )
    output = ""
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@"), step
            continue
        assert step["shell"] == "bash", step
        assert not EXPRESSION.search(step["run"]), "a script must read inputs from env"
        step_env = {k: evaluate(str(v), inputs) for k, v in step.get("env", {}).items()}
        cwd = repo / evaluate(step.get("working-directory", "."), inputs)
        result = subprocess.run(
            [*RUNNER_BASH, "-c", step["run"]],
            cwd=cwd,
            env={**env, **step_env},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        output += result.stdout + result.stderr
        if result.returncode:
            return result.returncode, output, summary.read_text(encoding="utf-8")
    return 0, output, summary.read_text(encoding="utf-8")


def test_the_action_runs_the_checks_and_posts_the_cost_diff(repo: Path) -> None:
    code, output, summary = run_action(
        repo,
        {
            "install": "none",
            "checks": "policy parity cost",
            "stacks": STACK,
            "base": "base.json",
            "head": "head.json",
            "max-increase": "5000",
        },
    )
    assert code == 0, output
    assert summary.startswith("### exitplan cost diff\n"), summary
    assert "| `gpu-nodes` | `aws:eks/nodeGroup:NodeGroup` | changed |" in summary
    assert "**Budget check passed.**" in summary
    assert summary.endswith("| policy | passed |\n| parity | passed |\n| cost | passed |\n")


def test_the_action_fails_a_budget_and_names_the_resources(repo: Path) -> None:
    code, output, summary = run_action(
        repo,
        {
            "install": "none",
            "checks": "cost",
            "base": "base.json",
            "head": "head.json",
            "budget": "1",
        },
    )
    assert code == 1, output
    assert "**Budget check failed**: budget:" in summary and "caused by gpu-nodes" in summary
    assert summary.endswith("| cost | failed |\n")


def test_the_action_in_a_subfolder_with_an_inventory(repo: Path, tmp_path: Path) -> None:
    """working-directory reaches the checks; a failed inventory check fails the job."""
    project = repo / "infra"
    project.mkdir()
    for name in ("Pulumi.yaml", "stacks", "inventory.csv"):
        (repo / name).rename(project / name)
    code, output, summary = run_action(
        repo,
        {
            "install": "none",
            "checks": "inventory",
            "working-directory": "infra",
            "inventory": "inventory.csv",
        },
    )
    assert code == 1, output
    assert "critical rule(s) failed" in output
    assert summary.endswith("| inventory | failed |\n")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"checks": "policy lint"}, "unknown check 'lint': use policy, parity, inventory or cost"),
        ({"checks": "cost", "base": "base.json"}, "the cost check needs the base and head inputs"),
        ({"checks": "inventory"}, "the inventory check needs the inventory input"),
        ({"checks": "cost", "base": "base.json", "head": "head.json", "budget": "-1"}, "--budget"),
    ],
)
def test_the_action_refuses_bad_input_with_exit_2(
    repo: Path, given: dict[str, str], message: str
) -> None:
    code, output, _summary = run_action(repo, {"install": "none", "stacks": STACK, **given})
    assert code == 2, output
    assert message in output
