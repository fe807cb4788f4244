"""The running sandbox as a `Target` (the protocol in `runbooks/targets/target.py`, met here
by structure: the sandbox imports nothing from runbooks).

A drill never calls a cloud SDK or a process directly; it calls a `Target`. `SandboxTarget`
drives the processes `exitplan sandbox up` started, through their pids and HAProxy's runtime
API. What it cannot do is data (`unsupported`), checked before a drill or experiment starts.
Every call is logged, with its time, to `.exitplan/sandbox/target.log`.
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from model_packaging.errors import PublishError
from model_packaging.publish import newest
from sandbox.aws import AwsControlPlane
from sandbox.errors import SandboxError
from sandbox.frontdoor import FrontDoor
from sandbox.gate import revocation_marker
from sandbox.levels import at_rest, level_of, server_name, stack_of
from sandbox.manager import Sandbox
from sandbox.processes import STOPPED, signal_and_wait, thread_states
from sandbox.state import Component, SandboxState
from sandbox.triton import log_tail

TARGET_LOG = "target.log"
# What a stack with no Triton running cannot do (a pilot-light standby before a failover).
STOPPED_OPERATIONS = ("health", "kill", "hang", "resume", "restart", "redeploy", "model_digest")


class SandboxTarget:
    """The running sandbox as a `Target`."""

    kind = "sandbox"

    def __init__(self, sandbox: Sandbox) -> None:
        state = sandbox.running()
        if state is None:
            raise SandboxError("no sandbox is running", fix="exitplan sandbox up")
        self.sandbox = sandbox
        self.state: SandboxState = state
        self.log_file = sandbox.root / TARGET_LOG

    @property
    def unsupported(self) -> Mapping[str, str]:
        """`operation:stack` -> why: what a pilot-light standby with no Triton running cannot
        do. Credentials can be revoked on every store: S3 keys in moto's IAM, the other
        stores' identities at their permission gates."""
        gaps = {}
        for stack in self.stacks():
            if not self._component(stack).running() and self.level(stack)["at_rest"] == 0:
                why = (
                    f"{stack} is a pilot-light standby: no Triton runs until a failover starts "
                    f"it (exitplan drill failover --to {stack}, or scale it first)"
                )
                gaps.update({f"{op}:{stack}": why for op in STOPPED_OPERATIONS})
        return gaps

    def _log(self, action: str, **details: Any) -> None:
        entry = {"time": time.time(), "action": action, **details}
        with self.log_file.open("a") as log:
            log.write(json.dumps(entry) + "\n")

    def _refresh(self) -> None:
        """Each Triton replica's process as recorded now: the kubelet may have restarted one
        since this target read the state."""
        recorded = self.sandbox.load_state()
        if recorded is None:
            return
        now = {c.name: c for c in recorded.components if c.kind == "triton"}
        for component in self.state.components:
            if component.name in now:
                latest = now[component.name]
                component.pid, component.started = latest.pid, latest.started
                component.restarts = latest.restarts

    def _component(self, stack: str) -> Component:
        """The stack's first replica; its process re-read from the state file when the one
        this target knows has exited (the kubelet may have restarted it)."""
        for component in self.state.components:
            if component.kind == "triton" and component.stack == stack:
                if component.pid and not component.running():
                    self._refresh()
                return component
        raise SandboxError(
            f"no stack {stack!r} in the sandbox", fix=f"use one of {', '.join(self.stacks())}"
        )

    def _door(self) -> FrontDoor:
        door_info = next(c for c in self.state.components if c.kind == "frontdoor")
        dns_port = int(self.state.dns_endpoint.rpartition(":")[2] or 0) or None
        door = FrontDoor(Path(door_info.log).parent, door_info.port, [], dns_port=dns_port)
        door.admin_socket = Path(self.state.admin_socket)
        return door

    def stacks(self) -> list[str]:
        """The stacks behind the front door."""
        return [c.stack for c in self.state.components if c.kind == "triton" and c.replica == 1]

    def endpoint(self) -> str:
        """The front door's URL."""
        return self.state.endpoint

    def health(self, stack: str) -> bool:
        """Whether the stack's Triton passes its planned readiness probe (each model it
        must serve answers ready) within a second."""
        port = self._component(stack).port
        planned = self.sandbox.planned(stack, self.state)
        try:
            for path in planned.readiness_paths(self.state.model):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
                    if int(r.status) != 200:
                        return False
        except (urllib.error.URLError, OSError):
            return False
        return True

    def store_uri(self, stack: str) -> str:
        """The store the stack's Triton downloaded its model from."""
        self._component(stack)
        return self.state.stores[stack]["uri"]

    def model_file(self, stack: str) -> Path:
        """The ONNX file the stack serves: as its copy step copied it, or (Triton reading the
        store itself) as the stack's identity reads it from the store now."""
        self._component(stack)
        if self.sandbox.planned(stack, self.state).reads_store:
            folder = self.sandbox.read_store(stack, self.state, self._control())
        else:
            folder = self.sandbox.served_folder(stack, self.state)
        return folder / self.state.model / self.state.version / "model.onnx"

    def model_digest(self, stack: str) -> str:
        """sha256 of the ONNX file the stack serves."""
        return "sha256:" + hashlib.sha256(self.model_file(stack).read_bytes()).hexdigest()

    def weights(self) -> dict[str, int]:
        """The front door's weight per stack (its first replica's: all of them share it)."""
        return {s: w for s, w in self._door().weights().items() if stack_of(s) == s}

    def set_weights(self, weights: dict[str, int]) -> None:
        """Set every given stack's weight through HAProxy's runtime API (no reload)."""
        door = self._door()
        for stack, weight in weights.items():
            for replica in self._replicas(stack):
                door.set_weight(server_name(stack, replica.replica), weight)
        self._log("set_weights", weights=weights)

    def in_rotation(self, stack: str) -> bool:
        """Whether HAProxy has the stack UP (health checks pass; weight 0 still counts)."""
        self._component(stack)
        return self._door().server_status().get(stack) == "UP"

    def kill(self, stack: str) -> None:
        """The stack's node lost: SIGKILL its Triton and its python-backend stubs (killing the
        server alone would leave an orphan stub behind), held, so that the kubelet does not
        restart it (a lost node's kubelet is gone with it) until `restart`; returns once every
        process of the group is gone."""
        self.sandbox.hold(self._replicas(stack))
        self._signal(stack, signal.SIGKILL, group=True)
        for replica in self._replicas(stack)[1:]:  # a hot stack's other replicas die with it
            if replica.running():
                signal_and_wait(replica.pid, signal.SIGKILL, group=True)
        self._log("kill", stack=stack)

    def hang(self, stack: str) -> None:
        """SIGSTOP the stack's Triton server; returns once every one of its threads has stopped
        (so it answers nothing from then on). Its backend stub keeps running: freezing the stub
        too made Triton 2.51 abort on SIGCONT (boost::interprocess::lock_exception in the
        python backend) in about one run in eight."""
        self._signal(stack, signal.SIGSTOP)
        self._log("hang", stack=stack)

    def resume(self, stack: str) -> None:
        """SIGCONT the stack's Triton server; returns once none of its threads is stopped."""
        self._signal(stack, signal.SIGCONT)
        self._log("resume", stack=stack)

    def _signal(self, stack: str, sig: signal.Signals, group: bool = False) -> None:
        component = self._component(stack)
        if not component.running():
            raise SandboxError(
                f"{stack}'s Triton (pid {component.pid}) is not running",
                fix=f"restart it: the target's restart({stack!r})",
            )
        signal_and_wait(component.pid, sig, group=group)

    def _control(self) -> AwsControlPlane:
        return self.sandbox.control(self.state)

    def _revocation(self, stack: str) -> Path | None:
        """The revocation marker of the stack's permission gate (None: its store is S3 on
        moto, whose IAM keys are revoked instead)."""
        gate = self.state.gate(stack)
        return None if gate is None else revocation_marker(Path(gate.log))

    def revoke_credentials(self, stack: str) -> None:
        """Revoke what the stack reads its store with: its S3 access key deleted in moto's IAM
        (the vault keeps the dead key), or its identity's every permission refused at its
        permission gate (a GCP deny policy, an Azure role assignment deleted)."""
        self._component(stack)
        marker = self._revocation(stack)
        if marker is None:
            self._log("revoke_credentials", stack=stack, key_id=self._control().revoke(stack))
            return
        marker.touch()
        self._log("revoke_credentials", stack=stack, principal=self._principal(stack))

    def rotate_credentials(self, stack: str) -> None:
        """Undo a revocation without reinstating a revoked key: a new S3 key into the vault and
        the old one deleted, or the gate's revocation lifted (a workload identity has no key:
        the deny policy goes, the role assignment comes back)."""
        self._component(stack)
        marker = self._revocation(stack)
        if marker is None:
            key = self._control().rotate(stack)
            self._log("rotate_credentials", stack=stack, key_id=key.access_key_id)
            return
        marker.unlink(missing_ok=True)
        self._log("rotate_credentials", stack=stack, principal=self._principal(stack))

    def credential_state(self, stack: str) -> dict[str, str]:
        """`{"status": "active" | "revoked", ...}`: for S3, whether moto's IAM still holds the
        vault's `key_id`; for a gated identity (`principal`), what its store answers now: a
        read of the model's objects through its gate, refused while revoked (`refused`: refused
        with no revocation, the planned grants do not reach it)."""
        self._component(stack)
        marker = self._revocation(stack)
        if marker is None:
            return self._control().credential_state(stack)
        try:
            self.store_newest(stack)
            status = "active"
        except PublishError as exc:
            if "refused the credentials" not in exc.cause:  # model_packaging's auth refusal
                raise
            status = "revoked" if marker.exists() else "refused"
        return {"status": status, "principal": self._principal(stack)}

    def _principal(self, stack: str) -> str:
        return self.sandbox.planned(stack, self.state).identity.get("principal", stack)

    def redeploy(self, stack: str) -> None:
        """A rolling restart with the stack's current credentials: the new pod's store read
        comes first (the read its copy step or Triton's client would make), so a refused key
        fails it while the running server keeps serving, as a rolling update keeps the old
        pod; then the new pod's copy step runs and its Triton restarts as planned."""
        self._component(stack)
        control = self._control()
        self.sandbox.read_store(stack, self.state, control)
        if not self.sandbox.planned(stack, self.state).reads_store:
            self.sandbox.start_copy(stack, self.state, control)
        # A rolling update (maxUnavailable 0) never leaves the Service without a ready pod:
        # the front door keeps requests off the replica while it is replaced.
        door, server = self._door(), server_name(stack, 1)
        door.maintain(server)
        try:
            self._start_again(stack)
        finally:
            door.ready(server)
        _wait_until(lambda: door.server_status().get(server) == "UP", REDEPLOY_UP_S)
        self._log("redeploy", stack=stack)

    def reference_answers(self) -> Path | None:
        """The demo package's reference.json (None when the sandbox was started without one)."""
        return Path(self.state.reference) if self.state.reference else None

    def served_counts(self) -> dict[str, int] | None:
        """Each stack's successful inference requests so far, from its Triton's statistics
        API (`inference_stats.success.count`, what `nv_inference_request_success` counts; the
        sandbox runs Triton without its metrics port); a stack that does not answer within a
        second makes the whole count None."""
        counts = dict.fromkeys(self.stacks(), 0)
        for replica in (c for c in self.state.components if c.kind == "triton" and c.running()):
            url = f"http://127.0.0.1:{replica.port}/v2/models/{self.state.model}/stats"
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    stats = json.loads(response.read())["model_stats"]
            except (urllib.error.URLError, OSError, ValueError, KeyError):
                return None
            counts[replica.stack] += sum(
                int(m["inference_stats"]["success"]["count"]) for m in stats
            )
        return counts

    def store_newest(self, stack: str) -> float | None:
        """When the newest object of the model in the stack's store was written, read from
        the store's emulator with the stack's own credentials from the vault."""
        store = self.state.stores[stack]
        env = self.sandbox.stack_env(stack, self.state, self._control())
        return newest(store["uri"], self.state.model, env=env)

    def restart(self, stack: str) -> None:
        """Start the stack's Triton again on the same port and repository, and load the model.
        A hung one (stopped by `hang`) is killed first, as a supervisor restarts a frozen
        server; one that still runs is refused."""
        component = self._component(stack)
        if component.running() and STOPPED & set(thread_states(component.pid)):
            self.sandbox.hold([component])  # this restart, not the kubelet's
            signal_and_wait(component.pid, signal.SIGKILL, group=True)
            self._log("kill", stack=stack, why="restart of a hung server")
        if component.running():
            raise SandboxError(f"{stack}'s Triton is still running", fix="kill it first")
        self._start_again(stack)
        self._log("restart", stack=stack, pid=component.pid)

    def _start_again(self, stack: str) -> None:
        """Stop the stack's first replica if it runs, start it as planned on the same port,
        record it and wait until its planned readiness probe passes. (Triton keeps listening
        until it has unloaded its models, ~2 s, longer while it drains connections: the new
        one cannot bind the port before the old one is gone.)"""
        component = self._component(stack)
        self.sandbox.hold([component])  # the kubelet's restart is not wanted meanwhile
        if component.running():
            self.sandbox.stop_components([component])
        server, pid = self.sandbox.start_replica(
            stack, component.replica, component.port, self.state, self._control()
        )
        recorded = self.sandbox.replace_process(stack, pid, component.replica)
        component.pid, component.started = recorded.pid, recorded.started
        self.sandbox.wait_ready(stack, server, self.state)

    def _replicas(self, stack: str) -> list[Component]:
        """The stack's Triton replicas, first to last (stopped ones included)."""
        self._component(stack)
        found = [c for c in self.state.components if c.kind == "triton" and c.stack == stack]
        if any(c.pid and not c.running() for c in found):
            self._refresh()
        return sorted(found, key=lambda c: c.replica)

    def restarts(self, stack: str) -> int:
        """How often the stack's Triton replicas were restarted."""
        return sum(c.restarts for c in self._replicas(stack))

    def log_tail(self, stack: str) -> list[str]:
        """The last lines of the stack's first replica's log (what a not-ready server last
        said)."""
        return log_tail(Path(self._replicas(stack)[0].log), LOG_TAIL_LINES).splitlines()

    def level(self, stack: str) -> dict[str, Any]:
        """The stack's standby level (`primary` for a primary), the replicas it must run to
        carry the primary's load, how many run at rest and how many run now."""
        recorded = self.state.levels.get(stack, {"level": "primary", "replicas": 1})
        running = sum(c.running() for c in self._replicas(stack))
        level, replicas = recorded["level"], int(recorded["replicas"])
        return {
            "level": level,
            "replicas": replicas,
            "at_rest": at_rest(level, replicas),
            "running": running,
        }

    def scale(self, stack: str, replicas: int | None = None) -> dict[str, float]:
        """Start the stack's stopped Tritons up to `replicas` (default: the primary's
        minimum), downloading the model from the stack's own store with its own credentials
        when none is there yet (pilot-light); the seconds of each phase (`Sandbox.scale`)."""
        wanted = self.level(stack)["replicas"] if replicas is None else replicas
        phases = self.sandbox.scale(stack, wanted, self._control())
        self._reload()
        self._log("scale", stack=stack, replicas=wanted, phases=phases)
        return phases

    def set_level(self, stack: str, level: str | None = None) -> list[str]:
        """Run what `level` (default: the stack's own) runs at rest: stop the Tritons above
        its count, start those below it, and (pilot-light) remove the downloaded model, so a
        failover downloads it again; the replicas stopped."""
        own = self.level(stack)
        count = at_rest(level_of(level or own["level"]), own["replicas"])
        stopped = self.sandbox.shrink(stack, count, forget_model=count == 0)
        if count:
            self.sandbox.scale(stack, count, self._control())
        self._reload()
        self._log("set_level", stack=stack, level=level or own["level"], stopped=stopped)
        return stopped

    def hold_out(self, stack: str, held: bool = True) -> None:
        """Take the stack out of the front door's traffic at once (HAProxy MAINT on each of
        its servers; its failover backup tracks it, so it takes no traffic either), or put it
        back (`held=False`: READY, its health checks decide again). A failover drill holds the
        other standbys out, so its gap measures the standby it names (review B3)."""
        door = self._door()
        for replica in self._replicas(stack):
            server = server_name(stack, replica.replica)
            if held:
                door.maintain(server)
            else:
                door.ready(server)
        self._log("hold_out" if held else "put_back", stack=stack)

    def held_out(self, stack: str) -> bool:
        """Whether the stack is held out of traffic (`hold_out`: MAINT at the front door)."""
        self._component(stack)
        return self._door().server_status().get(stack) == "MAINT"

    def dns_endpoint(self) -> str:
        """The front door with no L7 retry and no redispatch: a failed request fails, as for
        a client a DNS router sent to a dead stack ('' for a sandbox started without it)."""
        return self.state.dns_endpoint

    def _reload(self) -> None:
        state = self.sandbox.load_state()
        if state is not None:
            self.state = state


LOG_TAIL_LINES = 3  # of a not-ready Triton's log, in `sandbox status`
REDEPLOY_UP_S = 15.0  # a bound for the front door's checks to mark a redeployed replica UP


def _wait_until(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SandboxError(f"the front door did not mark the replica UP in {timeout_s:g} s")
        time.sleep(0.05)
