"""A real OCI registry for the image tests (Debian's `docker-registry`, distribution v2), and a
tiny Triton repository to package.

Import the fixture into a test module: `from tests.model_packaging.registry import registry`."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.stores import start_registry

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT_S = 20.0

CONFIG_PBTXT = """name: "{name}"
backend: "onnxruntime"
max_batch_size: 8
input [ {{ name: "x", data_type: TYPE_FP32, dims: [ 4 ] }} ]
output [ {{ name: "y", data_type: TYPE_FP32, dims: [ 2 ] }} ]
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_repository(
    root: Path, name: str = "tiny", version: str = "1", payload: bytes = b"onnx-bytes"
) -> Path:
    """A minimal Triton repository `root/<name>/{config.pbtxt,<version>/model.onnx}`; `root`."""
    (root / name / version).mkdir(parents=True, exist_ok=True)
    (root / name / "config.pbtxt").write_text(CONFIG_PBTXT.format(name=name))
    (root / name / version / "model.onnx").write_bytes(payload)
    return root


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away registry on 127.0.0.1 (plain HTTP, no auth); yields `host:port`."""
    port = free_port()
    proc = start_registry(tmp_path_factory.mktemp("registry"), port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
