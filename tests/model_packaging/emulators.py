"""Session fixtures that run the real storage emulators (moto S3, Azurite, the GCS emulator) as
subprocesses on free 127.0.0.1 ports, each with one empty bucket/container, and stop them at
teardown. Tests apply `Store.env` with `monkeypatch.setenv` and publish to `Store.uri`."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sandbox.stores import AZURITE_ACCOUNT, azurite_connection_string, start_azurite, start_gcs

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
READY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Store:
    """A running emulator: the store URI to publish to and the environment that reaches it."""

    uri: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _start(
    command: list[str], log: Path, ready: Callable[[], bool], name: str
) -> subprocess.Popen[bytes]:
    """Start `command` with its output in `log`; wait (bounded) until `ready()` holds."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if ready():
                return proc
        except Exception:
            pass
        time.sleep(0.2)
    _stop(proc)
    text = log.read_text(errors="replace")[-4000:]
    pytest.fail(
        f"{name} did not become ready within {READY_TIMEOUT_S:.0f} s "
        f"(exit code {proc.returncode}): {' '.join(command)}\n--- log ---\n{text}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """moto's S3 server with one bucket; env carries the endpoint and test credentials."""
    import boto3
    from botocore.config import Config

    port = free_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2),
    )
    bucket = _unique("models")

    def ready() -> bool:
        client.create_bucket(Bucket=bucket)
        return True

    log = tmp_path_factory.mktemp("moto") / "moto.log"
    command = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    proc = _start(command, log, ready, "moto_server")
    try:
        yield Store(uri=f"s3://{bucket}", env=env, port=port)
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def blob_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Azurite's blob service with one container, reached by the dev-account connection string."""
    port = free_port()
    container = _unique("models")
    proc = start_azurite(tmp_path_factory.mktemp("azurite"), port, [container])
    try:
        yield Store(
            uri=f"as://{AZURITE_ACCOUNT}/{container}",
            env={"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port)},
            port=port,
        )
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def gcs_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The GCS emulator (in memory) with one bucket; env points the client at it."""
    port = free_port()
    bucket = _unique("models")
    proc = start_gcs(tmp_path_factory.mktemp("gcs"), port, [bucket])
    try:
        host = f"http://127.0.0.1:{port}"
        yield Store(uri=f"gs://{bucket}", env={"STORAGE_EMULATOR_HOST": host}, port=port)
    finally:
        _stop(proc)
