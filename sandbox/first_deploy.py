"""`sandbox up --first-deploy`: the stacks' first deploy rehearsed from empty stores, in the
order `exitplan stacks order` prints (review B7/J3).

Each deploy step starts the stack's Tritons as planned against a store that may still be empty
(poll mode leaves Triton live and not ready; a model-sync sidecar holds Triton until its first
copy finds the model; a one-shot copy copies what is there then); each publish step publishes
the model's stand-in to the stack's store; a standby whose store gets the service's models by a
managed copy (Storage Transfer from S3) is copied at its deploy step, as the job's first run.
Then every stack has until its deadline (the planned poll interval and sidecar wait, plus a
margin) to turn ready, and its answer is checked against ONNX Runtime on the packaged file.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from model_packaging.errors import PublishError
from model_packaging.publish import fetch, publish
from sandbox.aws import AwsControlPlane
from sandbox.errors import SandboxError
from sandbox.frontdoor import Backend
from sandbox.levels import at_rest
from sandbox.planned import flag_value
from sandbox.processes import process_start
from sandbox.triton import TritonServer, checked_answer, log_tail

if TYPE_CHECKING:
    from sandbox.manager import Sandbox, StackPlan
    from sandbox.state import SandboxState

READY_MARGIN_S = 30.0  # beyond the planned poll interval and sidecar wait
DEFAULT_POLL_S = 15.0  # Triton's --repository-poll-secs default


@dataclass(frozen=True)
class Step:
    """One step of the first deploy: `pulumi up` of a stack (`copies_from`: the stack whose
    store its managed copy reads), or publishing the model to a stack's store."""

    action: Literal["deploy", "publish"]
    stack: str
    copies_from: str = ""


@dataclass
class Outcome:
    """How one stack came up: when its deploy step ran, how long after it the stack was
    ready (None: never, within its deadline), and its checked answer or why it has none."""

    stack: str
    deployed_at_s: float
    ready_after_s: float | None = None
    answer: str = ""

    @property
    def passed(self) -> bool:
        """Ready and answering as the packaged model does."""
        return self.ready_after_s is not None and self.answer == "checked"

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (`sandbox up --json`'s `first_deploy`)."""
        return {**asdict(self), "passed": self.passed}


def rehearse(
    sandbox: Sandbox,
    plans: Sequence[StackPlan],
    steps: Sequence[Step],
    state: SandboxState,
    control: AwsControlPlane,
    onnx_path: Path,
    progress: Callable[[str], None],
) -> tuple[list[Outcome], list[Backend]]:
    """Run `steps` over the sandbox's stacks (steps of other stacks are skipped), then wait
    for every stack; the outcome per stack, in deploy order, and the front-door backends."""
    run = _Rehearsal(sandbox, {p.stack: p for p in plans}, state, control, onnx_path, progress)
    for number, step in enumerate(steps, 1):
        if step.stack not in run.plans:
            continue
        if step.action == "publish":
            progress(f"step {number}: publish to {step.stack}")
            sandbox.publish_standin(step.stack, state, control, progress)
        elif step.stack not in run.outcomes:
            progress(f"step {number}: deploy {step.stack}")
            if step.copies_from in run.plans:
                run.managed_copy(step.copies_from, step.stack)
            run.deploy(step.stack)
        run.observe(run.outcomes)
    for plan in plans:  # a stack the order does not name deploys last
        if plan.stack not in run.outcomes:
            run.deploy(plan.stack)
    run.wait_ready()
    return list(run.outcomes.values()), run.backends


def deadline_s(plan: StackPlan) -> float:
    """How long after its deploy a stack may take to turn ready: the planned poll interval,
    the sidecar's wait between copies, and a margin."""
    poll = flag_value(plan.planned.args, "--repository-poll-secs")
    wait = plan.planned.copy.sync_wait_s if plan.planned.copy else 0.0
    return float(poll or DEFAULT_POLL_S) + wait + READY_MARGIN_S


@dataclass
class _Rehearsal:
    """One first-deploy rehearsal: the sandbox it runs on, the stacks' plans, and what it has
    found so far (each deployed stack's outcome, the front-door backends)."""

    sandbox: Sandbox
    plans: Mapping[str, StackPlan]
    state: SandboxState
    control: AwsControlPlane
    onnx_path: Path
    progress: Callable[[str], None]
    began: float = field(default_factory=time.monotonic)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    backends: list[Backend] = field(default_factory=list)

    def now(self) -> float:
        """Seconds since the rehearsal began."""
        return time.monotonic() - self.began

    def deploy(self, stack: str) -> None:
        """The stack's deploy step: its Tritons started as planned, not waited for."""
        plan = self.plans[stack]
        self.backends += self.sandbox.deploy_stack(
            plan, self.state, self.control, self.progress, wait=False
        )[0]
        self.outcomes[stack] = Outcome(stack, round(self.now(), 2))

    def managed_copy(self, source: str, stack: str) -> None:
        """The managed copy's first run: what `source`'s store holds now, into `stack`'s."""
        sandbox, state = self.sandbox, self.state
        with tempfile.TemporaryDirectory() as folder:
            try:
                fetch(state.stores[source]["uri"], state.model, Path(folder),
                      env=sandbox.admin_env(source, state, self.control))  # fmt: skip
            except PublishError:
                self.progress(
                    f"  the managed copy from {source} finds no model: {stack}'s store stays empty"
                )
                return
            self.progress(f"  the managed copy from {source}'s store to {stack}'s runs")
            admin = sandbox.admin_env(stack, state, self.control)
            publish(Path(folder), state.stores[stack]["uri"], name=state.model,
                    version=state.version, env=admin)  # fmt: skip

    def wait_ready(self) -> None:
        """Until every deployed stack serves, or its deadline (`deadline_s`) has passed."""
        self.progress("waiting for every stack to serve its model (the planned poll and probes)")
        pending = {name for name, o in self.outcomes.items() if o.ready_after_s is None}
        while pending:
            self.observe(pending)
            for name in sorted(pending):
                outcome = self.outcomes[name]
                if outcome.ready_after_s is not None:
                    pending.discard(name)
                elif self.now() - outcome.deployed_at_s > deadline_s(self.plans[name]):
                    outcome.answer = why_not_ready(self.sandbox, name, self.state)
                    self.progress(f"  {name}: not ready: {outcome.answer}")
                    pending.discard(name)
            time.sleep(0.5)

    def observe(self, stacks: Iterable[str]) -> None:
        """Start held Tritons whose sidecar found the model, and record each of `stacks` that
        serves now (those that already did are skipped). A stack whose level runs no Triton at
        rest (pilot-light) is tried as a failover would: one replica started, checked,
        stopped."""
        sandbox, state = self.sandbox, self.state
        for name in list(stacks):
            outcome = self.outcomes[name]
            if outcome.ready_after_s is not None:
                continue
            sandbox.start_when_synced(name, state, self.control)
            paths = sandbox.planned(name, state).readiness_paths(state.model)
            trial = not at_rest(self.plans[name].level, self.plans[name].replicas)
            server = self.trial_start(name) if trial else _first_replica(sandbox, name, state)
            if server is not None and server.answers(paths):
                outcome.ready_after_s = round(self.now() - outcome.deployed_at_s, 2)
                outcome.answer = checked_answer(server.endpoint, state.model, self.onnx_path)
                self.progress(f"  {name}: ready {outcome.ready_after_s:.1f} s after its deploy")
            if trial and server is not None:
                sandbox.stop_trial(name, state)

    def trial_start(self, stack: str) -> TritonServer | None:
        """A pilot-light stack's first replica, started as a failover starts it, once its
        store holds the model (else None: nothing to start yet); not ready is judged (and the
        replica stopped) by the caller."""
        sandbox, state = self.sandbox, self.state
        try:
            sandbox.read_store(stack, state, self.control)
        except PublishError:
            return None
        component = next(
            c
            for c in state.components
            if c.kind == "triton" and c.stack == stack and c.replica == 1
        )
        server, component.pid = sandbox.start_replica(stack, 1, component.port, state,
                                                      self.control)  # fmt: skip
        component.started = process_start(component.pid)
        sandbox.save(state)
        with contextlib.suppress(SandboxError):
            sandbox.wait_ready(stack, server, state)
        return server


def _first_replica(sandbox: Sandbox, stack: str, state: SandboxState) -> TritonServer | None:
    for c in state.components:
        if c.kind == "triton" and c.stack == stack and c.replica == 1 and c.running():
            return sandbox.triton_server(stack, 1, c.port)
    return None


def why_not_ready(sandbox: Sandbox, stack: str, state: SandboxState) -> str:
    """Why the stack is not serving: its copy step, or what its Triton's log ends with."""
    planned = sandbox.planned(stack, state)
    store = state.stores[stack]["uri"]
    models = sandbox.served_folder(stack, state) / state.model
    if planned.copy is not None and planned.copy.sync_every_s is not None:
        if not sandbox.synced(stack):
            return (
                f"its model-sync sidecar found no {state.model} in {store}, so its Triton was "
                "held (the planned startup probe)"
            )
    elif planned.copy is not None and not models.is_dir():
        return (
            f"its one-shot copy ran at pod start, before {state.model} was in {store}, and "
            "Triton watches only that copy: it serves an empty repository until the pod "
            "restarts (review J3)"
        )
    if _first_replica(sandbox, stack, state) is None:
        return "its Triton is not running"
    server = sandbox.triton_server(stack, 1, 0)
    return (
        f"Triton did not load {state.model} from {store}; its log ends: {log_tail(server.log, 2)}"
    )
