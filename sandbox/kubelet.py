"""The sandbox's kubelet: it restarts a Triton replica whose process exited on its own, with the
kubelet's back-off (10 s, doubled at each restart, capped at 300 s, reset once a restarted
container ran 10 minutes: Kubernetes "Pod Lifecycle", Container restarts,
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-restarts).

    python -m sandbox.kubelet --root .exitplan/sandbox --triton-env .exitplan/triton-env

It leaves alone a replica stopped on purpose: one recorded stopped (pid 0, below its standby
level) and one held (`sandbox.manager.hold_marker`: killed as a lost node by the target's
`kill`, or being stopped by `down`, a scale-down or a restart). The restarted process runs the
replica's planned command again on its port; readiness is the planned probe's, as before (the
front door's health checks). Each decision is a line on stdout (its log).

Not done here: restarts on a failing liveness probe (a hung Triton stays hung until `resume`
or `restart`, which the brownout drills rely on; README, sandbox gaps)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from sandbox.errors import SandboxError
from sandbox.manager import Component, Sandbox

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

    def exited(self) -> list[Component]:
        """The Triton replicas that ran and exited on their own (not stopped, not held)."""
        state = self.sandbox.load_state()
        if state is None:
            return []
        return [
            c
            for c in state.components
            if c.kind == "triton" and c.pid and not c.running() and not self.sandbox.held(c)
        ]

    def tick(self) -> None:
        """Notice each newly exited replica (its restart due after the back-off), and restart
        those whose back-off has passed."""
        now = self.clock()
        for component in self.exited():
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
