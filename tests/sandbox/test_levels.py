"""Standby levels in the sandbox: what runs at rest per level, replica server names, and the
front door's second frontend that neither retries nor redispatches (`--router dns`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.stack_config import Project
from runbooks.targets.sandbox_setup import primary_min_replicas
from sandbox.frontdoor import Backend, FrontDoorSettings, haproxy_binary, render_config
from sandbox.levels import at_rest, level_of, server_name, stack_of
from sandbox.processes import pid_alive
from sandbox.state import Component


@pytest.mark.parametrize(
    ("level", "replicas", "running"),
    [("primary", 3, 3), ("hot", 3, 3), ("warm", 3, 1), ("pilot-light", 3, 0), ("warm", 1, 1)],
)
def test_what_runs_at_rest(level: str, replicas: int, running: int) -> None:
    assert at_rest(level_of(level), replicas) == running


def test_a_standby_runs_the_primary_s_minimum_whatever_its_own_spec_plans(
    project: Project,
) -> None:
    """azure-standby's own (pilot-light) spec plans 0 replicas at rest: after a failover it
    must still run aws-primary's minimum, as must every standby."""
    assert project.stack("azure-standby").spec.triton.min_replicas == 0
    primary = project.stack("aws-primary").spec.triton.min_replicas
    for name in ("aws-primary", "azure-standby", "gcp-standby"):
        assert primary_min_replicas(project, project.stack(name)) == primary


def test_an_unknown_level_names_the_levels() -> None:
    with pytest.raises(ValueError, match="hot, warm, pilot-light"):
        level_of("lukewarm")


def test_replica_servers_map_back_to_their_stack() -> None:
    assert server_name("azure-standby", 1) == "azure-standby"
    assert server_name("azure-standby", 2) == "azure-standby.r2"
    assert stack_of("azure-standby.r2") == "azure-standby"
    assert stack_of("azure-standby") == "azure-standby"
    assert stack_of("v1.rc") == "v1.rc"  # not a replica suffix


def test_a_stopped_replica_is_never_a_running_process() -> None:
    """pid 0 records a replica that was never started: `kill(0, 0)` would signal our own
    process group, so neither `pid_alive` nor `running` may take it for a process."""
    assert not pid_alive(0)
    assert not Component("triton-x.r2", "triton", 0, 1, "log", "x", replica=2).running()


def test_the_dns_frontend_neither_retries_nor_redispatches(tmp_path: Path) -> None:
    backends = [
        Backend("aws-primary", "127.0.0.1:9000"),
        Backend("azure-standby", "127.0.0.1:9001", 0, failover=True),
    ]
    text = render_config(
        "127.0.0.1:8000", backends, FrontDoorSettings(), tmp_path / "s.sock", dns_port=8001
    )
    dns = text.split("backend be_dns", 1)[1]
    assert "retries 0" in dns and "no option redispatch" in dns
    assert "server azure-standby 127.0.0.1:9001 weight 0 track be_stacks/azure-standby" in dns
    assert (
        "server azure-standby.failover 127.0.0.1:9001 backup track be_stacks/azure-standby" in dns
    )
    assert "bind 127.0.0.1:8001" in text
    assert "be_dns" not in render_config(
        "127.0.0.1:8000", backends, FrontDoorSettings(), tmp_path / "s.sock"
    )
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    check = subprocess.run([haproxy_binary(), "-c", "-f", str(config)], capture_output=True)
    assert check.returncode == 0, check.stderr
