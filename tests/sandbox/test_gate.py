"""The permission gate in front of the real GCS emulator and Azurite: every catalog request row
is allowed with its permission and refused without it, with the cloud's own 403; a role on
another bucket grants nothing; unmapped requests are refused and logged; the clients the
sandbox uses (and Triton's GCS client) work through it, bodies streamed and ranges kept; and a
Triton whose identity holds only roles/storage.objectViewer fails at start (review finding J1)
while objectViewer + legacyBucketReader serves."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobServiceClient
from google.api_core.exceptions import Forbidden
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from components.catalog import read_rows
from components.catalog.store_permissions import REQUESTS, known_permissions
from runbooks.targets.sandbox_setup import TRITON_ENV
from sandbox.denials import AZURE_DENIED
from sandbox.errors import SandboxError
from sandbox.gate import GateServer, Policy, policy, start_gate
from sandbox.processes import free_port, stop_process
from sandbox.stores import azurite_connection_string, start_azurite, start_gcs
from sandbox.triton import child_env, prepare_backends, triton_install
from tests.components.test_store_permissions import example, example_query

BUCKETS = ["models", "other"]
MODEL = b"".join(i.to_bytes(4, "big") for i in range(300_000))  # 1.2 MB, no repeats
ROWS = [row for _, row in read_rows(REQUESTS)]
SCHEMES = {"gcp": "gs", "azure": "as"}
Answer = tuple[int, dict[str, str], bytes]


class RecordingGate(GateServer):
    """The gate, in this process, keeping its decision lines."""

    def __init__(self, upstream: str, gate_policy: Policy) -> None:
        self.lines: list[str] = []
        super().__init__(0, upstream, gate_policy)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def log(self, line: str) -> None:
        self.lines.append(line)


@contextmanager
def serving(upstream: str, gate_policy: Policy) -> Iterator[RecordingGate]:
    server = RecordingGate(upstream, gate_policy)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The GCS emulator with the model seeded in `models` and `other`."""
    port = free_port()
    process = start_gcs(tmp_path_factory.mktemp("gcs"), port, BUCKETS)
    for bucket in BUCKETS:
        gcs_client(port).bucket(bucket).blob("m/1/model.onnx").upload_from_string(MODEL)
    yield f"http://127.0.0.1:{port}"
    stop_process(process.pid)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite with the model seeded in `models` and `other`."""
    port = free_port()
    process = start_azurite(tmp_path_factory.mktemp("azurite"), port, BUCKETS)
    for container in BUCKETS:
        blob_client(port).get_container_client(container).upload_blob(
            "m/1/model.onnx", MODEL, overwrite=True
        )
    yield f"http://127.0.0.1:{port}"
    stop_process(process.pid)


def gcs_client(port: int) -> storage.Client:
    return storage.Client(
        project="exitplan",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": f"http://127.0.0.1:{port}"},
    )


def blob_client(port: int, **options: Any) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(
        azurite_connection_string(port), retry_total=0, **options
    )


def upstream(request: pytest.FixtureRequest, cloud: str) -> str:
    """The emulator `cloud`'s store stands on (started only when a test needs it)."""
    return str(request.getfixturevalue({"gcp": "gcs", "azure": "azurite"}[cloud]))


def raw(port: int, method: str, path: str) -> Answer:
    """(status, headers, body) of one request sent as is."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = b"{}" if method in ("POST", "PUT") else None
    connection.request(method, path, body=body, headers={"x-ms-version": "2021-12-02"})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def assert_cloud_denial(
    cloud: str, method: str, path: str, answer: Answer, permission: str | None
) -> None:
    """The answer is the cloud's own 403 for `permission` (None: an unmapped request)."""
    status, headers, body = answer
    assert status == 403
    if cloud == "azure":
        assert headers["x-ms-error-code"] == "AuthorizationPermissionMismatch"
        if method != "HEAD":
            root = ET.fromstring(body)
            assert root.findtext("Code") == "AuthorizationPermissionMismatch"
            assert (root.findtext("Message") or "").startswith(AZURE_DENIED + "\nRequestId:")
        return
    wording = f"does not have {permission} access" if permission else "does not have access"
    if path.startswith(("/storage/", "/upload/", "/download/")):
        error = json.loads(body)["error"]
        assert error["code"] == 403 and wording in error["message"]
        assert error["errors"][0]["reason"] == "forbidden"
        assert error["errors"][0]["message"] == error["message"]
    else:
        root = ET.fromstring(body)
        assert root.findtext("Code") == "AccessDenied"
        assert wording in (root.findtext("Details") or "")
    if permission:
        assert f"Permission '{permission}' denied on resource" in body.decode()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['cloud']}:{r['operation']}")
def test_each_request_row_is_allowed_with_its_permission_and_refused_without(
    row: dict[str, str], request: pytest.FixtureRequest
) -> None:
    cloud, method, permission = row["cloud"], row["method"], row["permission"]
    query = "&".join(f"{k}={v}" for k, v in example_query(row["query"]).items())
    target = example(row["path"], "rows/x") + (f"?{query}" if query else "")  # not the model
    emulator = upstream(request, cloud)
    everything = known_permissions()
    holder = Policy(cloud, SCHEMES[cloud], "holder", {"*": everything})
    lacking = Policy(cloud, SCHEMES[cloud], "lacker", {"*": everything - {permission}})
    with serving(emulator, holder) as gate:
        _, _, body = raw(gate.port, method, target)
        assert gate.lines == [f"allow {method} {target} {permission} ({row['operation']})"]
        assert b"AuthorizationPermissionMismatch" not in body and b"sandbox gate" not in body
    with serving(emulator, lacking) as gate:
        answer = raw(gate.port, method, target)
        assert gate.lines == [f"deny {method} {target} {permission} ({row['operation']})"]
        assert_cloud_denial(cloud, method, target, answer, permission)


@pytest.mark.parametrize("cloud", sorted(SCHEMES))
def test_an_unmapped_request_is_refused_and_logged(
    cloud: str, request: pytest.FixtureRequest
) -> None:
    target = {"gcp": "/storage/v1/b/models/o/x", "azure": "/devstoreaccount1/models/x?comp=tags"}
    owner = Policy(cloud, SCHEMES[cloud], "owner", {"*": known_permissions()})
    with serving(upstream(request, cloud), owner) as gate:
        answer = raw(gate.port, "PATCH" if cloud == "gcp" else "GET", target[cloud])
        assert gate.lines[0].startswith("deny ") and gate.lines[0].endswith(" unmapped")
    assert_cloud_denial(cloud, "GET", target[cloud], answer, None)


def test_gcs_object_viewer_reads_objects_but_not_bucket_metadata(gcs: str) -> None:
    viewer = policy("gcp", "triton@gcp-standby", {"models": ["roles/storage.objectViewer"]})
    with serving(gcs, viewer) as gate:
        client = gcs_client(gate.port)
        assert [b.name for b in client.list_blobs("models", prefix="m/")] == ["m/1/model.onnx"]
        blob = client.bucket("models").blob("m/1/model.onnx")
        assert blob.download_as_bytes() == MODEL
        assert blob.download_as_bytes(start=1000, end=1999) == MODEL[1000:2000]  # Range kept
        with pytest.raises(Forbidden) as caught:
            client.get_bucket("models")
        with pytest.raises(Forbidden):
            client.bucket("models").blob("new").upload_from_string(b"x")
    assert caught.value.message.endswith(
        ": triton@gcp-standby does not have storage.buckets.get access to the Google Cloud "
        "Storage bucket. Permission 'storage.buckets.get' denied on resource (or it may not "
        "exist)."
    )


def test_gcs_role_on_another_bucket_grants_nothing(gcs: str) -> None:
    elsewhere = policy("gcp", "sa", {"other": ["roles/storage.admin"]})
    with serving(gcs, elsewhere) as gate:
        client = gcs_client(gate.port)
        assert client.bucket("other").blob("m/1/model.onnx").download_as_bytes() == MODEL
        with pytest.raises(Forbidden):
            list(client.list_blobs("models"))
        with pytest.raises(Forbidden):
            client.bucket("models").blob("m/1/model.onnx").download_as_bytes()
        with pytest.raises(Forbidden):  # storage.buckets.list is a project grant
            list(client.list_buckets())


def test_gcs_writer_uploads_and_deletes_and_readers_share_one_gate(gcs: str) -> None:
    writer = policy(
        "gcp", "publisher", {"models": ["roles/storage.objectViewer", "roles/storage.objectAdmin"]}
    )
    with serving(gcs, writer) as gate:
        bucket = gcs_client(gate.port).bucket("models")
        bucket.blob("w/model.onnx").upload_from_string(MODEL)
        with ThreadPoolExecutor(4) as pool:  # concurrent connections through one gate
            read = list(pool.map(lambda _: bucket.blob("w/model.onnx").download_as_bytes(), "abcd"))
        assert read == [MODEL] * 4
        bucket.blob("w/model.onnx").delete()
        assert [b.name for b in bucket.list_blobs(prefix="w/")] == []


def test_azure_reader_reads_and_is_refused_writes_and_other_containers(azurite: str) -> None:
    reader = policy("azure", "mi-triton", {"models": ["Storage Blob Data Reader"]})
    with serving(azurite, reader) as gate:
        service = blob_client(gate.port)
        container = service.get_container_client("models")
        assert container.exists()
        assert [b.name for b in container.list_blobs("m/")] == ["m/1/model.onnx"]
        blob = container.get_blob_client("m/1/model.onnx")
        assert blob.download_blob().readall() == MODEL
        assert blob.download_blob(offset=10, length=90).readall() == MODEL[10:100]
        assert blob.get_blob_properties().size == len(MODEL)
        refusals = [
            lambda: container.upload_blob("new", b"x"),
            lambda: blob.delete_blob(),
            lambda: service.get_container_client("other").exists(),
            lambda: service.get_blob_client("other", "m/1/model.onnx").get_blob_properties(),
        ]
        for refused in refusals:
            with pytest.raises(HttpResponseError) as caught:
                refused()
            assert caught.value.error_code == "AuthorizationPermissionMismatch"
            assert caught.value.status_code == 403


def test_azure_contributor_uploads_in_blocks(azurite: str) -> None:
    contributor = policy("azure", "mi-publish", {"models": ["Storage Blob Data Contributor"]})
    with serving(azurite, contributor) as gate:
        service = blob_client(gate.port, max_single_put_size=256 * 1024, max_block_size=256 * 1024)
        container = service.get_container_client("models")
        container.upload_blob("blocks/model.onnx", MODEL, overwrite=True)
        assert container.download_blob("blocks/model.onnx").readall() == MODEL
        container.delete_blob("blocks/model.onnx")
    operations = {line.rsplit("(", 1)[1] for line in gate.lines if line.startswith("allow PUT")}
    assert operations == {"Put Block)", "Put Block List)"}


def test_start_gate_refuses_an_unknown_role_naming_it(tmp_path: Path, gcs: str) -> None:
    with pytest.raises(SandboxError) as caught:
        start_gate(tmp_path, free_port(), gcs, "gcp", "sa", {"models": ["roles/storage.reader"]})
    assert "roles/storage.reader" in caught.value.cause


def run_triton(workdir: Path, endpoint: str) -> tuple[str, str]:
    """Start tritonserver on `gs://models/repo` through `endpoint`; ('ready' | 'exited N',
    its log) once the model is ready or the server exits."""
    install = triton_install()
    env = child_env(install, os.environ)
    env["CLOUD_STORAGE_EMULATOR_ENDPOINT"] = endpoint
    port = free_port()
    command = [
        str(install.binary),
        "--model-repository=gs://models/repo",
        f"--backend-directory={prepare_backends(install, workdir / 'backends')}",
        "--model-control-mode=poll",
        "--http-address=127.0.0.1",
        f"--http-port={port}",
        "--allow-grpc=false",
        "--allow-metrics=false",
    ]
    log = workdir / "tritonserver.log"
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        while server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/v2/models/echo/ready"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return "ready", log.read_text(errors="replace")
            except OSError:
                time.sleep(0.2)
        return f"exited {server.returncode}", log.read_text(errors="replace")
    finally:
        stop_process(server.pid)


def publish_echo_model(port: int) -> None:
    """A python-backend model that loads (and serves nothing) at gs://models/repo/echo."""
    bucket = gcs_client(port).bucket("models")
    bucket.blob("repo/echo/config.pbtxt").upload_from_string(
        'name: "echo"\nbackend: "python"\nmax_batch_size: 0\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        "instance_group [ { count: 1 kind: KIND_CPU } ]\n"
        f'parameters: {{ key: "EXECUTION_ENV_PATH", value: {{ string_value: "{TRITON_ENV}" }} }}\n'
    )
    bucket.blob("repo/echo/1/model.py").upload_from_string(
        "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
    )


@pytest.mark.parametrize(
    ("roles", "outcome"),
    [
        (["roles/storage.objectViewer"], "exited 1"),
        (["roles/storage.objectViewer", "roles/storage.legacyBucketReader"], "ready"),
    ],
)
def test_triton_on_gcs_needs_bucket_metadata(
    roles: Sequence[str], outcome: str, gcs: str, tmp_path: Path
) -> None:
    publish_echo_model(int(gcs.rsplit(":", 1)[1]))
    port = free_port()
    gate = start_gate(tmp_path, port, gcs, "gcp", "triton@gcp-standby", {"models": roles})
    try:
        state, log = run_triton(tmp_path, f"http://127.0.0.1:{port}")
    finally:
        stop_process(gate.pid)
    decisions = (tmp_path / f"gate-{port}.log").read_text()
    assert state == outcome, log[-2000:]
    if outcome == "ready":
        assert "deny" not in decisions
        for seen in ("buckets.get", "objects.list", "objects.get", "XML GET Object"):
            assert f"({seen})" in decisions
    else:
        assert "deny GET /storage/v1/b/models storage.buckets.get (buckets.get)" in decisions
        assert "Could not get MetaData for bucket with name models" in log
        assert "does not have storage.buckets.get access" in log
