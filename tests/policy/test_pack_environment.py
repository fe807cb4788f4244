"""The policy pack's own environment, as the Pulumi CLI builds it (review J5): pip, from
requirements.txt alone, and the pack's analyzer starts in it and reports its port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PACK = ROOT / "components" / "policy"


def test_the_pack_declares_a_pip_environment_from_its_requirements() -> None:
    options = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())["runtime"]["options"]
    assert options == {"toolchain": "pip", "virtualenv": ".venv"}
    wanted = {
        line.split(">")[0].split("=")[0].strip()
        for line in (PACK / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert wanted == {"pulumi-policy", "pydantic"}


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build the environment")
def test_the_analyzer_starts_in_an_environment_built_from_requirements_alone(
    tmp_path: Path,
) -> None:
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "-r",
            str(PACK / "requirements.txt"),
        ],
        check=True,
        timeout=600,
    )
    # As the Python language host starts an analyzer: cwd is the pack, argv the engine's
    # address and the pack folder; the analyzer prints its gRPC port first.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    analyzer = subprocess.Popen(
        [str(python), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(PACK)],
        cwd=PACK,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert analyzer.stdout is not None
        first = analyzer.stdout.readline().strip()
    finally:
        analyzer.kill()
        _, errors = analyzer.communicate(timeout=60)
    assert first.isdigit() and int(first) > 0, errors[-2000:]
