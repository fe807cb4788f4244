"""A proxy from the environment that would carry the sandbox's loopback requests is refused
up front, with the fix, instead of failing every health check and store call later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.errors import SandboxError
from sandbox.loopback import check_loopback_not_proxied
from sandbox.manager import Sandbox
from sandbox.target import SandboxTarget
from tests.conftest import copied_project

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")
UNREACHABLE_PROXY = "http://10.255.255.1:3128"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment with no proxy setting of the machine's."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_proxy_set_is_fine(environ: pytest.MonkeyPatch) -> None:
    check_loopback_not_proxied()


@pytest.mark.parametrize("name", ["http_proxy", "HTTP_PROXY", "all_proxy"])
def test_a_proxy_that_would_carry_loopback_is_refused_with_the_fix(
    environ: pytest.MonkeyPatch, name: str
) -> None:
    environ.setenv(name, UNREACHABLE_PROXY)
    with pytest.raises(SandboxError) as refused:
        check_loopback_not_proxied()
    assert UNREACHABLE_PROXY in str(refused.value)
    assert "NO_PROXY=127.0.0.1,localhost" in (refused.value.fix or "")


@pytest.mark.parametrize("exempt", ["127.0.0.1,localhost", "localhost,127.0.0.1", "*"])
def test_a_proxy_that_exempts_loopback_is_fine(environ: pytest.MonkeyPatch, exempt: str) -> None:
    environ.setenv("http_proxy", UNREACHABLE_PROXY)
    environ.setenv("NO_PROXY", exempt)
    check_loopback_not_proxied()


def test_the_target_checks_before_anything_else(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    environ.setenv("http_proxy", UNREACHABLE_PROXY)
    with pytest.raises(SandboxError, match="would carry the sandbox's requests"):
        SandboxTarget(Sandbox(tmp_path / "sandbox", tmp_path / "triton-env"))


def test_sandbox_up_exits_2_naming_the_proxy(tmp_path: Path) -> None:
    project = copied_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS}
    env["http_proxy"] = UNREACHABLE_PROXY
    exitplan = str(Path(sys.executable).parent / "exitplan")
    command = [exitplan, "sandbox", "up", "--project", str(project.root)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert UNREACHABLE_PROXY in result.stderr and "NO_PROXY=127.0.0.1" in result.stderr
