"""The sandbox's kubelet: it restarts a Triton replica whose process exited on its own, with the
kubelet's back-off (10 s, doubled at each restart, capped at 300 s, reset once a restarted
container ran 10 minutes: Kubernetes "Pod Lifecycle", Container restarts,
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts).

    python -m sandbox.kubelet --root .exitplan/sandbox --triton-env .exitplan/triton-env

It also runs each replica's planned liveness probe (its httpGet path on the replica's port,
every `periodSeconds`, `timeoutSeconds` each) once the replica has answered it (what the planned
startup probe waits for), and kills a replica that fails it `failureThreshold` times in a row
(a hung Triton: 3 x 10 s as planned); that kill is an exit like any other, restarted with
back-off.

It leaves alone a replica stopped on purpose: one recorded stopped (pid 0, below its standby
level) and one held (`sandbox.state.hold_marker`: killed as a lost node by the target's
`kill`, or being stopped by `down`, a scale-down or a restart). The restarted process runs the
replica's planned command again on its port; readiness is the planned probe's, as before (the
front door's health checks). Each decision is a line on stdout (its log)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from sandbox.errors import SandboxError
from sandbox.manager import Sandbox
from sandbox.state import Component, SandboxState

BACKOFF_INITIAL_S = 10.0
BACKOFF_CAP_S = 300.0
BACKOFF_RESET_S = 600.0  # running this long after a restart forgets the back-off
POLL_S = 0.5


@dataclass
class BackOff:
    """One replica's restarts: how many in a row, the exited process a restart is pending
    for and when it is due, and when the last restart began."""

    restarts: int = 0
    pid: int = 0
    due: float | None = None
    started: float | None = None

    def delay_s(self) -> float:
        """The wait before the next restart."""
        return float(min(BACKOFF_INITIAL_S * 2**self.restarts, BACKOFF_CAP_S))


@dataclass
class Liveness:
    """One replica process's liveness probe: whether it has answered once (probing counts
    from then on), its failures in a row, and when the next probe is due."""

    pid: int
    answered: bool = False
    failures: int = 0
    due: float = 0.0


def answers_live(port: int, probe: Mapping[str, Any]) -> bool:
    """Whether the replica answers the planned httpGet probe (2xx or 3xx, as the kubelet
    counts it) within its `timeoutSeconds`."""
    path = str(probe["httpGet"].get("path", "/"))
    try:
        url = f"http://127.0.0.1:{port}{path}"
        with urllib.request.urlopen(url, timeout=float(probe.get("timeoutSeconds", 1))) as r:
            return 200 <= int(r.status) < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


class Kubelet:
    """Restarts of the sandbox's exited Triton replicas, one `tick` at a time."""

    def __init__(
        self,
        sandbox: Sandbox,
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sandbox = sandbox
        self.say = say
        self.clock = clock
        self.backoffs: dict[tuple[str, int], BackOff] = {}
        self.liveness: dict[tuple[str, int], Liveness] = {}
        self.answers = answers_live

    def exited(self, state: SandboxState) -> list[Component]:
        """The Triton replicas that ran and exited on their own (not stopped, not held)."""
        return [
            c
            for c in state.components
            if c.kind == "triton" and c.pid and not c.running() and not self.sandbox.held(c)
        ]

    def tick(self) -> None:
        """Notice each newly exited replica (its restart due after the back-off), restart
        those whose back-off has passed, and probe the running ones' liveness."""
        now = self.clock()
        state = self.sandbox.load_state()
        if state is None:
            return
        self.probe_liveness(state, now)
        for component in self.exited(state):
            backoff = self.backoffs.setdefault((component.stack, component.replica), BackOff())
            if backoff.pid != component.pid:
                if backoff.started is not None and now - backoff.started >= BACKOFF_RESET_S:
                    backoff.restarts = 0
                backoff.pid, backoff.due = component.pid, now + backoff.delay_s()
                self.say(
                    f"{component.name} (pid {component.pid}) exited: restart in "
                    f"{backoff.delay_s():g} s (back-off, restart {backoff.restarts + 1})"
                )
            elif backoff.due is not None and now >= backoff.due:
                self.restart(component, backoff, now)

    def probe_liveness(self, state: SandboxState, now: float) -> None:
        """Each running, supervised replica's planned liveness probe, when due; a replica that
        failed it `failureThreshold` times in a row after answering once is killed."""
        for component in state.components:
            if component.kind != "triton" or not component.running():
                continue
            key = (component.stack, component.replica)
            live = self.liveness.get(key)
            if live is None or live.pid != component.pid:
                live = self.liveness[key] = Liveness(component.pid, due=now)
            if now < live.due:
                continue
            probe = self.sandbox.planned(component.stack, state).probes.get("livenessProbe")
            if not probe or "httpGet" not in probe or self.sandbox.held(component):
                continue
            live.due = now + float(probe.get("periodSeconds", 10))
            if self.answers(component.port, probe):
                live.answered, live.failures = True, 0
                continue
            live.failures += int(live.answered)
            threshold = int(probe.get("failureThreshold", 3))
            if live.failures >= threshold and self.sandbox.kill_unhealthy(component):
                self.say(
                    f"{component.name} (pid {component.pid}) failed its liveness probe "
                    f"{live.failures} times in a row: killed"
                )

    def restart(self, component: Component, backoff: BackOff, now: float) -> None:
        """Start the replica again, as planned, on its port; a failed start is another exit
        (the next try waits longer)."""
        backoff.restarts, backoff.started, backoff.due = backoff.restarts + 1, now, None
        try:
            pid = self.sandbox.restart_exited(component)
        except (SandboxError, OSError) as exc:
            backoff.due = now + backoff.delay_s()
            why, wait = " ".join(str(exc).split()), backoff.delay_s()
            self.say(f"{component.name}: restart failed ({why}); next try in {wait:g} s")
            return
        if pid:
            self.say(f"{component.name} restarted as pid {pid}")


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT, a tick every `POLL_S`; the tick under way finishes first."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.kubelet", description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--triton-env", type=Path, required=True)
    args = parser.parse_args(argv)
    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    kubelet = Kubelet(Sandbox(args.root, args.triton_env), lambda line: print(line, flush=True))
    print(f"kubelet watching {args.root}", flush=True)
    while not stopping:
        kubelet.tick()
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
