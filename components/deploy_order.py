"""The first deploy of a project's stacks, in order, derived from the stack files.

What forces the order (review B7):
- a stack reads other stacks' outputs only once they are deployed: an edge that joins its
  service's cluster reads `edge_attachment` and `kubeconfig`, a router the `endpoint` of every
  stack it routes to;
- a standby gets the service's models from the service's store (a managed copy, e.g. Storage
  Transfer from S3) or by publishing, so the service's store exists and holds the models first;
- a stack whose cloud has no managed copy from the service's (a catalog gap) gets the models
  published to its own store once it exists.

The service that owns the router is the cycle: its store must come before the standbys, whose
endpoints its router reads. It deploys twice: first with `exitplan:traffic.enabled: false` (no
router), then with the router once the stacks it routes to are deployed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from components.catalog.clouds import facts
from components.spec import TRAFFIC_KEY
from components.stack_config import Project, Stack

Action = Literal["deploy", "publish"]


@dataclass(frozen=True)
class DeployStep:
    """One step of a first deploy: `pulumi up` of a stack (its router on or off), or publishing
    the models to a stack's store; what it needs from earlier steps and what it provides."""

    action: Action
    stack: str
    router: bool
    needs: tuple[str, ...]
    provides: str
    command: str
    why: str

    def as_dict(self) -> dict[str, object]:
        """The step as `exitplan stacks order --json` prints it."""
        return {
            "action": self.action,
            "stack": self.stack,
            "router": self.router,
            "needs": list(self.needs),
            "provides": self.provides,
            "command": self.command,
            "why": self.why,
        }


def deployed(stack: str) -> str:
    """What a deploy step provides: the stack's resources and outputs."""
    return stack


def published(stack: str) -> str:
    """What a publish step provides: the models in the stack's store."""
    return f"{stack}:models"


def stack_for(project: Project, step: DeployStep) -> Stack:
    """The stack as a deploy step runs it: its router switched off on a first pass."""
    stack = project.stack(step.stack)
    if stack.traffic is None or step.router:
        return stack
    config = copy.deepcopy(stack.config)
    config[TRAFFIC_KEY]["enabled"] = False
    return Stack(project, stack.name, stack.relative, config)


def deploy_order(project: Project) -> list[DeployStep]:
    """Every stack's first deploy, in an order that meets the constraints above."""
    stacks = [project.stack(name) for name in project.stack_names()]
    steps: list[DeployStep] = []
    for service in (s for s in stacks if s.kind == "service"):
        dependents = [s for s in stacks if s.source is not None and s.source.name == service.name]
        routed = set(service.traffic.stacks) - {service.name} if service.traffic else set()
        two_pass = bool(routed & {s.name for s in dependents})
        steps.append(_deploy(service, router=not two_pass))
        steps.append(_publish(service, "the service's store, which its standbys copy from"))
        for standby in (s for s in dependents if s.kind == "standby"):
            steps.append(_deploy(standby))
            if _publishes(standby):
                steps.append(_publish(standby, _gap(standby)))
        if two_pass:
            steps.append(_deploy(service, router=True))
        for edge in (s for s in dependents if s.kind == "edge"):
            steps.append(_deploy(edge))
            if _publishes(edge):
                steps.append(_publish(edge, "an edge cluster of its own has its own store"))
    return steps


def unmet_needs(steps: list[DeployStep]) -> list[str]:
    """Each step's needs that no earlier step provides (empty for a valid order)."""
    provided: set[str] = set()
    unmet: list[str] = []
    for number, step in enumerate(steps, 1):
        unmet += [
            f"step {number} ({step.command}) needs {n}" for n in step.needs if n not in provided
        ]
        provided.add(step.provides)
    return unmet


def _deploy(stack: Stack, *, router: bool = True) -> DeployStep:
    references = _references(stack, router)
    needs = [deployed(name) for name in references]
    if reads_source_store(stack):
        assert stack.source is not None
        needs.append(published(stack.source.name))
    flag = f"pulumi config set -s {stack.name} --path '{TRAFFIC_KEY}.enabled' "
    command = f"pulumi up -s {stack.name}"
    if stack.traffic:
        command = f"{flag}{'true' if router else 'false'} && {command}"
    return DeployStep(
        "deploy",
        stack.name,
        router and stack.traffic is not None,
        tuple(needs),
        deployed(stack.name),
        command,
        _why(stack, router, references),
    )


def _why(stack: Stack, router: bool, references: tuple[str, ...]) -> str:
    source = stack.source.name if stack.source else ""
    if stack.traffic and not router:
        return "its store and cluster first: the router waits for the stacks it routes to"
    if stack.traffic and references:
        return f"the router reads the endpoints of {', '.join(references)}"
    if stack.standby and reads_source_store(stack):
        return f"its managed copy reads {source}'s store, which holds the models by now"
    if stack.standby:
        return f"a standby of {source}; the models are published to its own store next"
    if references:
        return f"joins {source}'s cluster (reads its outputs) and serves from its store"
    if stack.edge:
        return f"an edge of {source} with a cluster and store of its own"
    return "a service with no router"


def reads_source_store(stack: Stack) -> bool:
    """Whether the stack's models come from its service's store: a standby's managed copy, or
    edge nodes that serve from the service's store."""
    if stack.source is None:
        return False
    if stack.edge:
        return not stack.edge.model_repository
    return not _publishes(stack)


def _references(stack: Stack, router: bool) -> tuple[str, ...]:
    if router or stack.traffic is None:
        return stack.references
    return tuple(name for name in stack.references if name not in stack.traffic.stacks)


def _publish(stack: Stack, why: str) -> DeployStep:
    return DeployStep(
        "publish",
        stack.name,
        False,
        (deployed(stack.name),),
        published(stack.name),
        f"exitplan package MODEL --out DIR --publish {stack.name}",
        why,
    )


def _publishes(stack: Stack) -> bool:
    """Whether the models reach this stack's store only by publishing to it."""
    if stack.edge:
        return bool(stack.edge.model_repository)
    return bool(_gap(stack))


def _gap(stack: Stack) -> str:
    assert stack.source is not None
    provider = stack.spec.provider
    return facts(provider).lacks(f"replication-from-{stack.source.spec.provider}") or ""
