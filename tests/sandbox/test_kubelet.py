"""The sandbox's kubelet decides alone (a fake sandbox and clock): an exited replica is
restarted after the kubelet's back-off, doubling to a cap and reset after a long run; a replica
stopped or held on purpose is left alone; a failed restart waits longer; a replica that stops
answering its planned liveness probe is killed after its failure threshold. The real restart
of a crashed Triton is in test_sandbox.py, of a hung one in test_planned.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.kubelet import BACKOFF_CAP_S, BACKOFF_RESET_S, Kubelet
from sandbox.planned import PlannedTriton
from sandbox.state import Component, SandboxState

LIVENESS = {"httpGet": {"path": "/v2/health/live"}, "periodSeconds": 10, "failureThreshold": 3}


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@dataclass
class FakeSandbox:
    components: list[Component]
    held_names: set[str] = field(default_factory=set)
    fail_next: bool = False
    restarted: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    probes: Mapping[str, Any] = field(default_factory=dict)

    def planned(self, stack: str, _state: SandboxState) -> PlannedTriton:
        return PlannedTriton(stack, ("tritonserver",), {}, (), "", {}, probes=self.probes)

    def kill_unhealthy(self, component: Component) -> bool:
        self.killed.append(component.name)
        return True

    def load_state(self) -> SandboxState:
        return SandboxState(0.0, "m", "1", "sha256:0", components=self.components)

    def held(self, component: Component) -> bool:
        return component.name in self.held_names

    def restart_exited(self, component: Component) -> int:
        if self.fail_next:
            self.fail_next = False
            raise OSError("port in use")
        self.restarted.append(component.name)
        component.pid = dead_pid()  # it exits again at once: a crash loop
        return component.pid


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(name: str, pid: int) -> Component:
    return Component(name, "triton", pid, 8000, f"/tmp/{name}.log", stack=name)


def run(kubelet: Kubelet, clock: Clock, seconds: float, step: float = 0.5) -> None:
    end = clock.now + seconds
    while clock.now < end:
        kubelet.tick()
        clock.now += step


def test_a_crash_loop_is_restarted_with_doubling_back_off_up_to_the_cap() -> None:
    sandbox, clock, said = FakeSandbox([replica("a", dead_pid())]), Clock(), []
    kubelet = Kubelet(sandbox, said.append, clock)  # type: ignore[arg-type]
    expected = [10.0, 20.0, 40.0, 80.0, 160.0, BACKOFF_CAP_S, BACKOFF_CAP_S]
    restarts_at = []
    for _ in expected:
        before = len(sandbox.restarted)
        while len(sandbox.restarted) == before:
            kubelet.tick()
            clock.now += 0.5
        restarts_at.append(clock.now)
    gaps = [round(b - a) for a, b in zip([1000.0, *restarts_at], restarts_at, strict=False)]
    assert gaps == [round(d + 0.5) for d in expected]
    assert "restart in 10 s (back-off, restart 1)" in said[0]


def test_the_back_off_is_forgotten_after_a_long_run() -> None:
    component = replica("a", dead_pid())
    sandbox, clock = FakeSandbox([component]), Clock()
    kubelet = Kubelet(sandbox, lambda _line: None, clock)  # type: ignore[arg-type]
    run(kubelet, clock, 31)  # restarted at 10 s and at 30 s (20 s back-off)
    assert len(sandbox.restarted) == 2
    component.pid, component.started = os.getpid(), 0  # the third start keeps running
    clock.now += BACKOFF_RESET_S
    component.pid = dead_pid()
    run(kubelet, clock, 11)
    assert len(sandbox.restarted) == 3  # 10 s again, not 40 s


def test_stopped_held_and_running_replicas_are_left_alone() -> None:
    stopped = replica("stopped", 0)
    held = replica("held", dead_pid())
    running = replica("running", os.getpid())
    frontdoor = Component("frontdoor", "frontdoor", dead_pid(), 1, "/tmp/haproxy.log")
    sandbox, clock, said = FakeSandbox([stopped, held, running, frontdoor], {"held"}), Clock(), []
    run(Kubelet(sandbox, said.append, clock), clock, 400)  # type: ignore[arg-type]
    assert sandbox.restarted == [] and said == []


def test_a_failed_restart_is_tried_again_after_a_longer_back_off() -> None:
    sandbox, clock, said = FakeSandbox([replica("a", dead_pid())], fail_next=True), Clock(), []
    kubelet = Kubelet(sandbox, said.append, clock)  # type: ignore[arg-type]
    run(kubelet, clock, 10.5)
    assert sandbox.restarted == [] and "restart failed (port in use); next try in 20 s" in said[-1]
    run(kubelet, clock, 19)
    assert sandbox.restarted == []
    run(kubelet, clock, 1.5)
    assert sandbox.restarted == ["a"]


def test_a_replica_failing_its_liveness_probe_is_killed_at_the_threshold() -> None:
    """Probed every periodSeconds once it answered; killed at the third failure in a row (a
    success in between starts the count again); one that never answered is not probed to
    death (its startup is the startup probe's business), and a held one is not probed."""
    hung, starting = replica("hung", os.getpid()), replica("starting", os.getpid())
    held = replica("held", os.getpid())
    hung.port, starting.port, held.port = 1, 2, 3
    probes = {"livenessProbe": LIVENESS}
    sandbox = FakeSandbox([hung, starting, held], {"held"}, probes=probes)
    clock, said = Clock(), []
    kubelet = Kubelet(sandbox, said.append, clock)  # type: ignore[arg-type]
    answers = {1: [True, False, True, False, False, False], 2: [False] * 6}
    asked: list[tuple[int, float]] = []

    def answer(port: int, probe: Mapping[str, Any]) -> bool:
        assert probe is LIVENESS
        asked.append((port, clock.now - 1000))
        return answers[port].pop(0)

    kubelet.answers = answer
    for _ in range(12):  # 60 s, a tick every 5 s
        kubelet.tick()
        clock.now += 5
    assert [t for port, t in asked if port == 1] == [0, 10, 20, 30, 40, 50]
    assert {port for port, _ in asked} == {1, 2}
    assert sandbox.killed == ["hung"] and "failed its liveness probe 3 times in a row" in said[-1]
