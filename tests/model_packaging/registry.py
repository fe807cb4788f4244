"""A real OCI registry for the image tests (Debian's `docker-registry`, distribution v2), and a
tiny Triton repository to package.

Import the fixture into a test module: `from tests.model_packaging.registry import registry`."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=1) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away registry on 127.0.0.1 (plain HTTP, no auth); yields `host:port`."""
    binary = shutil.which("docker-registry") or REGISTRY_BINARY
    if not Path(binary).is_file():
        pytest.fail(f"{REGISTRY_BINARY} is missing: apt-get install docker-registry")
    root = tmp_path_factory.mktemp("registry")
    port = free_port()
    address = f"127.0.0.1:{port}"
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
    log_path = root / "registry.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(f"http://{address}/v2/"):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if proc.poll() is not None else f"not up in {START_TIMEOUT_S:g} s"
                pytest.fail(f"docker-registry {why}; its log:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.1)
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
