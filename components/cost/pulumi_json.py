"""Any Pulumi program's resources, read from what the Pulumi CLI writes: `pulumi preview --json`
(a preview digest: `steps`, each with an `op` and the resource's `newState`/`oldState`) or
`pulumi stack export` (a deployment: `{"version": 3, "deployment": {"resources": [...]}}`).

Each resource state is Pulumi's `ResourceV3` (`urn`, `custom`, `type`, `inputs`, `outputs`,
`parent`, `provider` ("<provider urn>::<id>"), `dependencies`, `external`). What a preview
leaves in the stack is every step's new state except the steps that delete, discard or only
read a resource (a replacement is kept once); a state holds the stack as deployed (resources
read with `get` are `external`, not the program's, and are left out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from components.errors import InputError
from components.planning.runner import Plan, PlannedResource

Source = Literal["preview", "state"]
# Preview step ops (Pulumi's `display.StepOp`) after which the resource is not the program's:
# deleted, or only read (`get`). The steps that remove a replaced resource's old copy
# (delete-replaced, discard-replaced, remove-pending-replace) leave its new copy in place.
NOT_KEPT = frozenset({"delete", "discard", "read", "read-replacement"})
OLD_COPY = frozenset({"delete-replaced", "discard-replaced", "remove-pending-replace"})
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
FIX = "give the output of `pulumi preview --json` (--preview) or `pulumi stack export` (--state)"


@dataclass(frozen=True)
class Program:
    """A Pulumi program's resources as a plan (named by the file's stack and project), the
    inputs of its provider resources by name, and the stack's config."""

    path: Path
    source: Source
    plan: Plan
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The program's stack and project, as its URNs name them ("my-project/dev")."""
        return self.plan.stack


def read_program(path: Path, source: Source | None = None) -> Program:
    """The program in a preview or state file (`source` says which; None: whichever the
    document is). Anything else is an InputError naming the file."""
    document = _load(path)
    found = _kind(document)
    if found is None or (source is not None and found != source):
        expected = source or "preview or state"
        got = f"a Pulumi {found}" if found else "not Pulumi's JSON"
        raise InputError(f"{got}, a {expected} was expected", file=str(path), fix=FIX)
    states = _preview_states(document) if found == "preview" else _deployed_states(document)
    return _program(path, found, states, _config(document))


def is_pulumi_json(path: Path) -> bool:
    """Whether the file holds a Pulumi preview or state (a stack name is not a file)."""
    if not path.is_file():
        return False
    try:
        return _kind(json.loads(path.read_text(encoding="utf-8"))) is not None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no such file", file=str(path), fix=FIX) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read it: {exc}", file=str(path), fix=FIX) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", file=str(path), fix=FIX) from None


def _kind(document: Any) -> Source | None:
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("steps"), list):
        return "preview"
    deployment = document.get("deployment")
    if isinstance(deployment, dict) and isinstance(deployment.get("resources", []), list):
        return "state"
    return None


def _preview_states(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The new state of every resource the preview keeps, once per URN (a replacement's
    steps name it more than once)."""
    kept: dict[str, dict[str, Any]] = {}
    for step in document["steps"]:
        urn = str(step.get("urn", "")) if isinstance(step, dict) else ""
        state = step.get("newState") if isinstance(step, dict) else None
        op = step.get("op") if isinstance(step, dict) else None
        if op in NOT_KEPT:
            kept.pop(urn, None)
        elif op not in OLD_COPY and isinstance(state, dict):
            kept[urn] = state
    return list(kept.values())


def _deployed_states(document: dict[str, Any]) -> list[dict[str, Any]]:
    resources = document["deployment"].get("resources") or []
    return [r for r in resources if isinstance(r, dict) and not r.get("external")]


def _config(document: dict[str, Any]) -> dict[str, Any]:
    config = document.get("config")
    if not isinstance(config, dict):
        config = (document.get("deployment") or {}).get("config") or {}
    return dict(config)


def _program(
    path: Path, source: Source, states: list[dict[str, Any]], config: dict[str, Any]
) -> Program:
    names = {str(s.get("urn", "")): urn_name(str(s.get("urn", ""))) for s in states}
    resources: list[PlannedResource] = []
    providers: dict[str, dict[str, Any]] = {}
    stack = ""
    for number, state in enumerate(states):
        urn, typ = str(state.get("urn", "")), state.get("type")
        if not urn.startswith("urn:pulumi:") or not isinstance(typ, str):
            raise InputError(
                "a resource without a Pulumi URN and type",
                file=str(path),
                field=f"resource {number}",
                fix=FIX,
            )
        stack = stack or urn_stack(urn)
        inputs = _inputs(state, source)
        if typ == STACK_TYPE:
            continue
        if typ.startswith(PROVIDER_PREFIX):
            providers[names[urn]] = inputs
            continue
        resources.append(
            PlannedResource(
                type=typ,
                name=names[urn],
                parent=names.get(str(state.get("parent", "")), ""),
                custom=bool(state.get("custom")),
                inputs=inputs,
                dependencies=tuple(names[u] for u in state.get("dependencies") or () if u in names),
                provider=names.get(str(state.get("provider", "")).rsplit("::", 1)[0], ""),
            )
        )
    return Program(path, source, Plan(stack or path.stem, resources, {}), providers, config)


def _inputs(state: dict[str, Any], source: Source) -> dict[str, Any]:
    """A resource's inputs; in a state, its outputs fill what the inputs leave out (defaults
    the provider applied)."""
    inputs = state.get("inputs") or {}
    outputs = state.get("outputs") or {} if source == "state" else {}
    if not isinstance(inputs, dict) or not isinstance(outputs, dict):
        return {}
    return {**outputs, **inputs}


def urn_name(urn: str) -> str:
    """A URN's resource name: `urn:pulumi:<stack>::<project>::<type path>::<name>`."""
    return urn.split("::", 3)[-1] if urn.count("::") >= 3 else urn


def urn_stack(urn: str) -> str:
    """A URN's project and stack, "<project>/<stack>"."""
    parts = urn.removeprefix("urn:pulumi:").split("::")
    return f"{parts[1]}/{parts[0]}" if len(parts) > 1 else parts[0]
