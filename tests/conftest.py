"""Shared fixtures: the project, offline plans of its stacks under Pulumi mocks
(`components.planning.mocks.PlanMocks`), and throw-away projects with edited stack files."""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from components.planning.runner import Plan, PlannedResource, plan_stack
from components.stack_config import Project

if TYPE_CHECKING:
    from sandbox.target import SandboxTarget

# Rules that compare with today's date read EXITPLAN_TODAY: the suite pins it (subprocesses
# inherit it), so no test changes verdict as the calendar moves.
os.environ["EXITPLAN_TODAY"] = "2026-11-30"
ROOT = Path(__file__).resolve().parents[1]
# Every shipped stack, by kind: read from stacks/, so a new cloud's stack is planned too.
ALL_STACKS = tuple(Project(ROOT).stack_names())
EDGE_STACKS = tuple(s for s in ALL_STACKS if Project(ROOT).stack(s).kind == "edge")
BASE_STACKS = tuple(s for s in ALL_STACKS if s not in EDGE_STACKS)


@pytest.fixture(scope="session")
def project() -> Project:
    """The repository's own Pulumi project."""
    return Project(ROOT)


@pytest.fixture(scope="session")
def plans(project: Project) -> dict[str, Plan]:
    """Offline plans of every shipped stack, computed once per test session (each stack's
    references planned before it, as a first deployment would)."""
    planned: dict[str, Plan] = {}
    return {name: plan_stack(project, project.stack(name), planned) for name in ALL_STACKS}


def stack_config(name: str) -> dict[str, Any]:
    """A deep copy of a shipped stack file's content."""
    return copy.deepcopy(yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text()))


def service_config() -> dict[str, Any]:
    """The primary's stack file without its router: a service that stands alone."""
    config = stack_config("aws-primary")
    del config["config"]["exitplan:traffic"]
    return config


MakeProject = Callable[[dict[str, Any]], Project]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """A project in tmp_path with the real program and the given stack files (name -> content
    as a mapping, or raw text)."""

    def make(stacks: dict[str, Any]) -> Project:
        shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
        (tmp_path / "stacks").mkdir(exist_ok=True)
        shutil.copy(ROOT / "stacks" / "__main__.py", tmp_path / "stacks" / "__main__.py")
        for name, content in stacks.items():
            text = content if isinstance(content, str) else yaml.safe_dump(content)
            (tmp_path / "stacks" / f"Pulumi.{name}.yaml").write_text(text)
        return Project(tmp_path)

    return make


def standby_config(level: str, provider: str = "gcp", **extra: Any) -> dict[str, Any]:
    """A standby of `aws-primary` at `level` on `provider` (shipped settings for that cloud)."""
    shipped = {"gcp": "gcp-standby", "azure": "azure-standby"}[provider]
    config = stack_config(shipped)
    config["config"]["exitplan:standby"].update(level=level, **extra)
    return config


def service(config: dict[str, Any]) -> dict[str, Any]:
    """The `exitplan:service` mapping of a stack file's content, for editing in place."""
    return config["config"]["exitplan:service"]


def one(plan: Plan, typ: str, suffix: str = "") -> PlannedResource:
    """The single planned resource of a type (whose name ends with `suffix`)."""
    found = [r for r in plan.of_type(typ) if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {typ} ending {suffix!r}, got {[r.name for r in found]}"
    return found[0]


def copied_project(root: Path) -> Project:
    """A copy of the repository's program and shipped stack files under `root`."""
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    return Project(root)


@contextlib.contextmanager
def running_sandbox(project: Project, stacks: list[str]) -> Iterator[SandboxTarget]:
    """A sandbox of `stacks`, stopped on exit even when the body fails; asserts that no
    component process outlives it."""
    from runbooks.targets.sandbox_setup import sandbox_for, start_sandbox
    from sandbox.processes import pid_alive
    from sandbox.target import SandboxTarget

    sandbox = sandbox_for(project)
    try:
        start_sandbox(project, stacks, lambda _message: None)
        yield SandboxTarget(sandbox)
    finally:
        state = sandbox.load_state()
        sandbox.down()
        if state is not None:
            assert not [c.name for c in state.components if pid_alive(c.pid)]


def sandbox_fixtures(
    label: str, stacks: list[str], edit: Callable[[Path], None] | None = None
) -> tuple[Any, Any]:
    """Module-scoped fixtures `project` (a copy of the project in a temp folder named after
    `label`, its stack files changed by `edit` when given) and `target` (its sandbox of
    `stacks`, stopped after the module), for a test module to bind at its top level."""

    @pytest.fixture(scope="module", name="project")
    def project_fixture(tmp_path_factory: pytest.TempPathFactory) -> Project:
        project = copied_project(tmp_path_factory.mktemp(label))
        if edit is not None:
            edit(project.root / "stacks")
        return project

    @pytest.fixture(scope="module", name="target")
    def target_fixture(project: Project) -> Iterator[SandboxTarget]:
        with running_sandbox(project, stacks) as target:
            yield target

    return project_fixture, target_fixture
