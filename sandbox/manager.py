"""`exitplan sandbox up | down | status`: start the sandbox's processes, remember them in
`.exitplan/sandbox/state.json` (pids, ports, logs) and stop them by pid, even after a crash of
the process that started them."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sandbox.errors import SandboxError
from sandbox.frontdoor import Backend, FrontDoor, FrontDoorSettings
from sandbox.triton import TritonServer, python_model, triton_install

STATE = "state.json"
STOP_GRACE_S = 10.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class StackPlan:
    """What the sandbox runs for one stack: its name, provider and front-door weight."""

    stack: str
    provider: str
    weight: int


@dataclass
class Component:
    """One process the sandbox started."""

    name: str
    kind: str  # "triton" or "frontdoor"
    pid: int
    port: int
    log: str
    stack: str = ""


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

    def as_dict(self) -> dict[str, Any]:
        """The state as JSON."""
        return asdict(self)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sandbox:
    """The sandbox of one project: its state folder and the processes it records."""

    def __init__(self, root: Path, triton_env: Path) -> None:
        self.root = root
        self.triton_env = triton_env
        self.state_file = root / STATE

    def load_state(self) -> SandboxState | None:
        """The recorded state, or None when nothing was started."""
        if not self.state_file.exists():
            return None
        data = json.loads(self.state_file.read_text())
        components = [Component(**c) for c in data.pop("components", [])]
        return SandboxState(**data, components=components)

    def save(self, state: SandboxState) -> None:
        """Write the state (atomically), so that `down` finds every started process."""
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.as_dict(), indent=2) + "\n")
        tmp.replace(self.state_file)

    def running(self) -> SandboxState | None:
        """The recorded state if any of its processes is still alive."""
        state = self.load_state()
        if state and any(pid_alive(c.pid) for c in state.components):
            return state
        return None

    def up(
        self,
        stacks: Sequence[StackPlan],
        packaged: Path,
        digest: str,
        settings: FrontDoorSettings,
        progress: Progress,
    ) -> SandboxState:
        """Start one Triton per stack serving the packaged model, and the front door.

        A second `up` is refused; a failed `up` stops what it started."""
        running = self.running()
        if running:
            raise SandboxError(
                f"a sandbox is already running ({len(running.components)} processes, "
                f"front door {running.endpoint})",
                fix="exitplan sandbox status, or exitplan sandbox down first",
            )
        self.root.mkdir(parents=True, exist_ok=True)
        version = next(p.name for p in packaged.iterdir() if p.name.isdigit())
        state = SandboxState(time.time(), packaged.name, version, digest)
        try:
            install = triton_install()
            backends = []
            for plan in stacks:
                progress(f"starting Triton for {plan.stack}")
                server = self._start_triton(plan, packaged, install, state)
                backends.append(Backend(plan.stack, f"127.0.0.1:{server.http_port}", plan.weight))
            progress("starting the front door (HAProxy)")
            door = FrontDoor(self.root / "frontdoor", free_port(), backends, settings)
            pid = door.start()
            state.endpoint = door.endpoint
            state.admin_socket = str(door.admin_socket)
            state.components.append(
                Component(
                    "frontdoor",
                    "frontdoor",
                    pid,
                    int(door.endpoint.rsplit(":", 1)[1]),
                    str(door.workdir / "haproxy.log"),
                )
            )
            self.save(state)
            progress("waiting until the front door routes to a ready stack")
            _wait_routes(door, timeout_s=15)
        except BaseException:
            self._stop_components(state.components)
            self.state_file.unlink(missing_ok=True)
            raise
        return state

    def _start_triton(
        self, plan: StackPlan, packaged: Path, install: Any, state: SandboxState
    ) -> TritonServer:
        workdir = self.root / "stacks" / plan.stack
        repository = workdir / "repository"
        repository.mkdir(parents=True, exist_ok=True)
        python_model(packaged, repository, self.triton_env)
        server = TritonServer(workdir, repository, free_port(), self.triton_env)
        pid = server.start(install)
        state.components.append(
            Component(
                f"triton-{plan.stack}", "triton", pid, server.http_port, str(server.log), plan.stack
            )
        )
        self.save(state)
        server.wait_live()
        server.load(packaged.name)
        return server

    def down(self) -> list[str]:
        """Stop every recorded process by pid; returns the names of those that were running."""
        state = self.load_state()
        if state is None:
            return []
        stopped = self._stop_components(state.components)
        self.state_file.unlink(missing_ok=True)
        return stopped

    @staticmethod
    def _stop_components(components: Sequence[Component]) -> list[str]:
        alive = [c for c in components if pid_alive(c.pid)]
        for component in alive:
            _signal(component.pid, signal.SIGCONT)  # a paused (hung) process cannot stop
            _signal(component.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(pid_alive(c.pid) for c in alive):
            time.sleep(0.1)
        for component in alive:
            if pid_alive(component.pid):
                _signal(component.pid, signal.SIGKILL)
        for component in alive:
            _reap(component.pid)
        return [c.name for c in alive]


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect our own exited children so that no zombie stays behind."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _wait_routes(door: FrontDoor, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "UP" in door.server_status().values():
            return
        time.sleep(0.2)
    raise SandboxError(
        f"the front door marks no stack UP after {timeout_s:g} s: {door.server_status()}",
        fix="check the Triton logs in .exitplan/sandbox/stacks/*/tritonserver.log",
    )


def stack_weights(weights: Mapping[str, int], stacks: Sequence[str]) -> dict[str, int]:
    """The router's weights for the sandbox's stacks; stacks it does not route get 0, and if
    none of them has weight the first gets 100."""
    chosen = {s: int(weights.get(s, 0)) for s in stacks}
    if not any(chosen.values()) and stacks:
        chosen[stacks[0]] = 100
    return chosen
