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

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
READY_TIMEOUT_S = 20.0

# Azurite's well-known development account (public, documented; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


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


def azurite_connection_string(port: int) -> str:
    """The Azurite dev-account connection string for a blob endpoint on `port`."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


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
    from azure.storage.blob import BlobServiceClient

    port = free_port()
    connection = azurite_connection_string(port)
    container = _unique("models")

    def ready() -> bool:
        service = BlobServiceClient.from_connection_string(connection, retry_total=0)
        service.create_container(container)
        return True

    workdir = tmp_path_factory.mktemp("azurite")
    command = [
        str(AZURITE),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(workdir / "data"),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",  # else it waits on (unreachable) telemetry and ignores SIGTERM
    ]
    proc = _start(command, workdir / "azurite.log", ready, "azurite-blob")
    try:
        yield Store(
            uri=f"as://{AZURITE_ACCOUNT}/{container}",
            env={"AZURE_STORAGE_CONNECTION_STRING": connection},
            port=port,
        )
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def gcs_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The GCS emulator (in memory) with one bucket; env points the client at it."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = free_port()
    host = f"http://127.0.0.1:{port}"
    bucket = _unique("models")

    def ready() -> bool:
        client = storage.Client(
            project="exitplan",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": host},
        )
        client.create_bucket(bucket, timeout=2, retry=None)
        return True

    log = tmp_path_factory.mktemp("gcs") / "gcs.log"
    command = [
        str(VENV_BIN / "gcp-storage-emulator"),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
    ]
    proc = _start(command, log, ready, "gcp-storage-emulator")
    try:
        yield Store(uri=f"gs://{bucket}", env={"STORAGE_EMULATOR_HOST": host}, port=port)
    finally:
        _stop(proc)
