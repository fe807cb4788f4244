"""The sandbox's model stores, one emulator per store URI scheme (`EMULATORS`): S3 on the AWS
control plane (moto, `sandbox/aws.py`), Azure Blob on Azurite (npm) and Google Cloud Storage on
the GCS emulator (PyPI), all real servers on loopback. A stack whose cloud stores models under a
scheme with no emulator here cannot run in the sandbox (`sandbox up` skips it and says why).

Credentials: moto checks S3 keys against its IAM; Azurite's development account key is fixed and
the GCS emulator checks none, so every stack reaches those two through a permission gate of its
own identity (`sandbox/gate.py`), which also revokes it."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sandbox
from sandbox.errors import SandboxError

ROOT = Path(sandbox.__file__).resolve().parents[1]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
GCS_EMULATOR = ROOT / ".venv" / "bin" / "gcp-storage-emulator"
READY_TIMEOUT_S = 60.0  # a bound on a busy 2-core machine, not an expectation
# Azurite's well-known development account (public and documented: not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_connection_string(port: int) -> str:
    """The dev-account connection string for Azurite's blob endpoint on `port`."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def start_process(
    command: list[str],
    log: Path,
    ready: Callable[[], bool],
    name: str,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command` in a new session (it outlives the caller) with its output in `log` (and
    `env` as its whole environment when given), and wait (bounded) until `ready()` holds; on
    failure stop it and raise with the log's tail."""
    if not Path(command[0]).exists():
        raise SandboxError(f"{command[0]} is missing", fix="run make bootstrap")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if ready():
                return proc
        except Exception:  # not up yet: any client error means try again
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    tail = log.read_text(errors="replace")[-2000:]
    raise SandboxError(f"{name} did not become ready within {READY_TIMEOUT_S:g} s\n{tail}")


def start_azurite(workdir: Path, port: int, containers: list[str]) -> subprocess.Popen[bytes]:
    """Azurite's blob service with the given containers created."""
    from azure.storage.blob import BlobServiceClient

    def ready() -> bool:
        service = BlobServiceClient.from_connection_string(
            azurite_connection_string(port), retry_total=0
        )
        for container in containers:
            if not service.get_container_client(container).exists():
                service.create_container(container)
        return True

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
    return start_process(command, workdir / "azurite.log", ready, "azurite-blob")


def start_gcs(workdir: Path, port: int, buckets: list[str]) -> subprocess.Popen[bytes]:
    """The GCS emulator (in memory) with the given buckets created."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    def ready() -> bool:
        client = storage.Client(
            project="exitplan",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": f"http://127.0.0.1:{port}"},
        )
        for bucket in buckets:
            if client.lookup_bucket(bucket, timeout=2) is None:
                client.create_bucket(bucket, timeout=2, retry=None)
        return True

    command = [
        str(GCS_EMULATOR),
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--in-memory",
    ]
    return start_process(command, workdir / "gcs.log", ready, "gcp-storage-emulator")


def start_registry(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """Debian's `docker-registry` (OCI distribution v2) on 127.0.0.1, plain HTTP, no auth."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    if not Path(binary).is_file():
        raise SandboxError(
            "docker-registry is not installed",
            fix="apt-get install docker-registry (make bootstrap does it as root)",
        )
    address = f"127.0.0.1:{port}"
    config = workdir / "config.yml"
    workdir.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: info\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {workdir / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: {address}\n"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

    def ready() -> bool:
        with opener.open(f"http://{address}/v2/", timeout=1) as response:
            return int(response.status) == 200

    return start_process(
        [binary, "serve", str(config)], workdir / "registry.log", ready, "docker-registry"
    )


@dataclass(frozen=True)
class StoreEmulator:
    """The sandbox's stand-in for the model stores of one URI scheme."""

    name: str  # what messages call it
    folder: str  # its state folder under the sandbox's, and its component's name
    # Start it with these buckets (or containers) created; None: served by the AWS control
    # plane (moto), whose IAM users, keys and vault the stacks' credentials are.
    start: Callable[[Path, int, list[str]], subprocess.Popen[bytes]] | None
    uri: Callable[[str], str]  # a bucket's store URI
    env: Callable[[int], dict[str, str]]  # how a client reaches the emulator on a port


EMULATORS: dict[str, StoreEmulator] = {
    "s3": StoreEmulator(
        name="S3 on moto (the AWS control plane)",
        folder="s3",
        start=None,
        uri=lambda bucket: f"s3://{bucket}",
        env=lambda _port: {},
    ),
    "as": StoreEmulator(
        name="Azurite",
        folder="azurite",
        start=lambda workdir, port, names: start_azurite(workdir, port, names),
        uri=lambda container: f"as://{AZURITE_ACCOUNT}/{container}",
        env=lambda port: {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port)},
    ),
    "gs": StoreEmulator(
        name="the GCS emulator",
        folder="gcs",
        start=lambda workdir, port, names: start_gcs(workdir, port, names),
        uri=lambda bucket: f"gs://{bucket}",
        env=lambda port: {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"},
    ),
}
