"""Plans kept on disk, so commands that read many plans (`exitplan cost`) answer in a second.

A plan is stored as `.exitplan/plans/<stack>-<key>.json` (or under `$EXITPLAN_PLAN_CACHE`),
where the key hashes everything that changes it: the stack's config, the configs of the
stacks it derives from or reads (its service, its stack references, theirs in turn), the
program and every file under components/ (code and catalog data), Pulumi.yaml and uv.lock.
Any change gives a new key, so a stale plan is never read; old files are left to be removed
with the folder. Only full plans are stored (a `preview` plan is never cached).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from components.planning.runner import Plan, PlannedResource, plan_stack
from components.stack_config import Project, Stack

CACHE_VARIABLE = "EXITPLAN_PLAN_CACHE"
COMPONENTS = Path(__file__).resolve().parents[1]
FORMAT = 1  # bump when the file layout below changes


def cache_dir(project: Project) -> Path:
    """Where plans are kept: `$EXITPLAN_PLAN_CACHE`, else the project's `.exitplan/plans`."""
    configured = os.environ.get(CACHE_VARIABLE, "").strip()
    return Path(configured) if configured else project.root / ".exitplan" / "plans"


def cached_plan(project: Project, stack: Stack, planned: dict[str, Plan]) -> Plan:
    """The stack's plan from the disk cache, or planned now (`plan_stack`) and stored; every
    plan made on the way (the stacks it references) is stored too. `planned` caches plans in
    memory, as `plan_stack`'s does."""
    if stack.name in planned:
        return planned[stack.name]
    path = cache_dir(project) / f"{stack.name}-{plan_key(project, stack)}.json"
    if path.is_file():
        plan = _load(path)
        planned[stack.name] = plan
        return plan
    before = set(planned)
    plan = plan_stack(project, stack, planned)
    for name in set(planned) - before:
        if name != stack.name:
            other = project.stack(name)
            _store(cache_dir(project) / f"{name}-{plan_key(project, other)}.json", planned[name])
    _store(path, plan)
    return plan


def plan_key(project: Project, stack: Stack) -> str:
    """The hash of everything the stack's plan depends on (see the module docstring)."""
    digest = hashlib.sha256(_code_digest(project.root).encode())
    for name, config in sorted(_configs(project, stack, {}).items()):
        digest.update(name.encode())
        digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def _configs(project: Project, stack: Stack, seen: dict[str, Any]) -> dict[str, Any]:
    """The configs of the stack and of every stack its plan reads, transitively."""
    if stack.name in seen:
        return seen
    seen[stack.name] = stack.config
    related = [*stack.references]
    if stack.source is not None:
        related.append(stack.source.name)
    for name in related:
        _configs(project, project.stack(name), seen)
    return seen


@cache
def _code_digest(root: Path) -> str:
    """One hash over the program, Pulumi.yaml, uv.lock and every file under components/."""
    digest = hashlib.sha256(f"format {FORMAT}".encode())
    own = [root / "Pulumi.yaml", root / "uv.lock", root / "stacks" / "__main__.py"]
    code = sorted(p for p in COMPONENTS.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for base, paths in ((root, own), (COMPONENTS.parent, code)):
        for path in paths:
            if path.is_file():
                digest.update(str(path.relative_to(base)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _store(path: Path, plan: Plan) -> None:
    """Write a plan atomically (a temp file renamed), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "stack": plan.stack,
        "resources": [r.__dict__ for r in plan.resources],
        "outputs": plan.outputs,
        "secret_outputs": sorted(plan.secret_outputs),
    }
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(data), encoding="utf-8")
    temp.chmod(0o600)
    os.replace(temp, path)


def _load(path: Path) -> Plan:
    data = json.loads(path.read_text(encoding="utf-8"))
    resources = [
        PlannedResource(
            **{
                **r,
                "key_paths": tuple(r["key_paths"]),
                "dependencies": tuple(r["dependencies"]),
                "ignore_changes": tuple(r["ignore_changes"]),
            }
        )
        for r in data["resources"]
    ]
    return Plan(data["stack"], resources, data["outputs"], set(data["secret_outputs"]))
