"""What the sandbox records of what it started (`.exitplan/sandbox/state.json`): each process
(`Component`: pid, port, log, its start time so that a reused pid is never taken for it) and
the sandbox's facts (`SandboxState`), enough for `down` and `status` after a crash of the
process that started them; and the kubelet's hold marker of a replica stopped on purpose."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sandbox.processes import pid_alive, process_start


@dataclass
class Component:
    """One process the sandbox started."""

    name: str
    kind: str  # "triton" or "frontdoor"
    pid: int
    port: int
    log: str
    stack: str = ""
    # the process's start time (/proc): with it a reused pid is never taken for this process
    started: int = 0
    # which of the stack's Triton replicas (1..replicas); pid 0: not started (its level)
    replica: int = 1
    restarts: int = 0  # how often a running replica's process was replaced

    def running(self) -> bool:
        """Whether this very process still runs (not merely a process with its pid)."""
        return self.pid > 0 and pid_alive(self.pid) and self.started in (0, process_start(self.pid))


def hold_marker(component: Component) -> Path:
    """The file whose existence keeps the sandbox's kubelet from restarting the replica: it was
    stopped on purpose (`sandbox.kubelet`)."""
    return Path(component.log).with_suffix(".held")


@dataclass
class SandboxState:
    """Everything `down` and `status` need, written to disk as soon as a process starts."""

    started_at: float
    model: str
    version: str
    digest: str
    endpoint: str = ""
    admin_socket: str = ""
    components: list[Component] = field(default_factory=list)
    stores: dict[str, dict[str, str]] = field(default_factory=dict)  # stack -> uri, scheme
    baseline_p99_ms: float = 0.0
    server_timeout_ms: int = 0
    image: str = ""  # the demo model's image in the sandbox registry (ref@digest)
    reference: str = ""  # the package's reference.json: the answers the model must give
    hosted_zone: str = ""
    # stack -> {"level", "replicas"}: its standby level and the primary's minimum replicas
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the front door without L7 retries or redispatch: what a DNS router's clients see
    dns_endpoint: str = ""
    # stack -> its planned Triton (`PlannedTriton.as_dict`): what each start runs
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)
    # stack -> the substitutions of its last start (`Substitution.as_dict`)
    substitutions: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # `up --first-deploy`: how each stack came up (`sandbox.first_deploy.Outcome.as_dict`)
    first_deploy: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The state as JSON."""
        return asdict(self)

    def gate(self, stack: str) -> Component | None:
        """The permission gate of the stack's identity (None: its store needs none)."""
        return next((c for c in self.components if c.kind == "gate" and c.stack == stack), None)
