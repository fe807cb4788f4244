"""The sandbox's kubelet decides alone (a fake sandbox and clock): an exited replica is
restarted after the kubelet's back-off, doubling to a cap and reset after a long run; a replica
stopped or held on purpose is left alone; a failed restart waits longer. The real restart of a
crashed Triton is in test_sandbox.py."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field

from sandbox.kubelet import BACKOFF_CAP_S, BACKOFF_RESET_S, Kubelet
from sandbox.manager import Component, SandboxState


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
