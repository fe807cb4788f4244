"""`model_packaging.publish` against the real emulators: moto S3, Azurite and the GCS emulator.

Objects are read back with each cloud's own SDK (not through the code under test)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from model_packaging import publish as publish_module
from model_packaging.errors import PublishError
from model_packaging.publish import PublishResult, publish
from sandbox.stores import AZURITE_KEY, azurite_connection_string
from tests.model_packaging.emulators import (  # noqa: F401
    Store,
    blob_store,
    free_port,
    gcs_store,
    s3_store,
)

KINDS = ("s3", "blob", "gcs")
CONFIG = 'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
Objects = dict[str, tuple[bytes, str]]  # key -> (content, sha256 metadata)


def _read_s3(store: Store) -> Objects:
    import boto3

    client = boto3.client("s3")
    bucket = store.uri.removeprefix("s3://").split("/")[0]
    out: Objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            got = client.get_object(Bucket=bucket, Key=item["Key"])
            out[item["Key"]] = (got["Body"].read(), got["Metadata"].get("sha256", ""))
    return out


def _read_blob(store: Store) -> Objects:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(store.env["AZURE_STORAGE_CONNECTION_STRING"])
    container = service.get_container_client(store.uri.rsplit("/", 1)[1])
    return {
        blob.name: (
            container.download_blob(blob.name).readall(),
            (blob.metadata or {}).get("sha256", ""),
        )
        for blob in container.list_blobs(include=["metadata"])
    }


def _read_gcs(store: Store) -> Objects:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="exitplan", credentials=AnonymousCredentials())
    return {
        blob.name: (blob.download_as_bytes(), (blob.metadata or {}).get("sha256", ""))
        for blob in client.list_blobs(store.uri.removeprefix("gs://"))
    }


READERS: dict[str, Callable[[Store], Objects]] = {
    "s3": _read_s3,
    "blob": _read_blob,
    "gcs": _read_gcs,
}


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Store]:
    """Each running emulator in turn, with its environment applied."""
    running: Store = request.getfixturevalue(f"{request.param}_store")
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AZURE_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(key, raising=False)
    for key, value in running.env.items():
        monkeypatch.setenv(key, value)
    return request.param, running


def _model(tmp_path: Path, *, extra: bool = False) -> tuple[Path, str]:
    """A tiny Triton repository with a unique model name (tests share one bucket)."""
    name = f"model-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "repo" / name
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text(CONFIG.format(name=name))
    (folder / "1" / "model.onnx").write_bytes(os.urandom(6 * 1024 + 17))
    if extra:
        (folder / "configs").mkdir()
        (folder / "configs" / "cpu.pbtxt").write_text("instance_group [{ kind: KIND_CPU }]\n")
    return tmp_path / "repo", name


def _published(kind: str, running: Store, name: str) -> Objects:
    return {k: v for k, v in READERS[kind](running).items() if k.startswith(f"{name}/")}


def _local(repository: Path, name: str) -> dict[str, bytes]:
    model = repository / name
    return {
        p.relative_to(repository).as_posix(): p.read_bytes()
        for p in model.rglob("*")
        if p.is_file()
    }


def test_publish_writes_every_file_byte_for_byte(store: tuple[str, Store], tmp_path: Path) -> None:
    kind, running = store
    repository, name = _model(tmp_path, extra=True)
    messages: list[str] = []

    result = publish(repository, running.uri, name=name, version="1", progress=messages.append)

    local = _local(repository, name)
    keys = (f"{name}/1/model.onnx", f"{name}/config.pbtxt", f"{name}/configs/cpu.pbtxt")
    assert result == PublishResult(running.uri, 3, 0, 3, keys)
    remote = _published(kind, running, name)
    assert sorted(remote) == sorted(local)
    for key, content in local.items():
        assert remote[key][0] == content, key
        assert remote[key][1] == hashlib.sha256(content).hexdigest(), key
    assert [m for m in messages if m.startswith("uploading")] == [f"uploading {k}" for k in keys]
    assert "verifying" in messages
    assert not [key for key in READERS[kind](running) if "/.staging-" in key]


def test_second_publish_uploads_nothing(store: tuple[str, Store], tmp_path: Path) -> None:
    kind, running = store
    repository, name = _model(tmp_path)
    publish(repository, running.uri, name=name, version="1")
    before = _published(kind, running, name)
    messages: list[str] = []

    again = publish(repository, running.uri, name=name, version="1", progress=messages.append)

    assert (again.uploaded, again.skipped, again.verified) == (0, 2, 2)
    assert not [m for m in messages if m.startswith("uploading")]
    assert f"skipping {name}/1/model.onnx (unchanged)" in messages
    assert _published(kind, running, name) == before


def test_changed_file_is_the_only_upload(store: tuple[str, Store], tmp_path: Path) -> None:
    kind, running = store
    repository, name = _model(tmp_path)
    publish(repository, running.uri, name=name, version="1")
    model = repository / name / "1" / "model.onnx"
    model.write_bytes(os.urandom(5000))
    messages: list[str] = []

    result = publish(repository, running.uri, name=name, version="1", progress=messages.append)

    assert (result.uploaded, result.skipped, result.verified) == (1, 1, 2)
    assert [m for m in messages if m.startswith("uploading")] == [f"uploading {name}/1/model.onnx"]
    remote = _published(kind, running, name)
    assert remote[f"{name}/1/model.onnx"][0] == model.read_bytes()
    assert remote[f"{name}/config.pbtxt"][0] == CONFIG.format(name=name).encode()
    assert not [key for key in READERS[kind](running) if "/.staging-" in key]


def test_missing_bucket_is_a_publish_error(store: tuple[str, Store], tmp_path: Path) -> None:
    kind, _ = store
    repository, name = _model(tmp_path)
    uri = {
        "s3": "s3://no-such-bucket-exitplan",
        "blob": "as://devstoreaccount1/no-such-container",
        "gcs": "gs://no-such-bucket-exitplan",
    }[kind]

    with pytest.raises(PublishError) as caught:
        publish(repository, uri, name=name, version="1")

    assert "does not exist" in caught.value.cause
    assert uri in caught.value.cause
    assert "pulumi up" in caught.value.fix


UNREACHABLE: dict[str, Callable[[int], tuple[str, dict[str, str]]]] = {
    "s3": lambda port: (
        "s3://models",
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    ),
    "blob": lambda port: (
        "as://devstoreaccount1/models",
        {"AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(port)},
    ),
    "gcs": lambda port: ("gs://models", {"STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{port}"}),
}


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_store_is_a_publish_error(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, name = _model(tmp_path)
    uri, env = UNREACHABLE[kind](free_port())
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    with pytest.raises(PublishError) as caught:
        publish(repository, uri, name=name, version="1")

    assert f"cannot reach the model store {uri}" in caught.value.cause
    assert "check the endpoint" in caught.value.fix


@pytest.mark.parametrize("uri", ["ftp://bucket", "azure://account/container", "as://account"])
def test_unknown_scheme_is_a_publish_error(uri: str, tmp_path: Path) -> None:
    repository, name = _model(tmp_path)
    with pytest.raises(PublishError) as caught:
        publish(repository, uri, name=name, version="1")
    assert uri in caught.value.cause
    for scheme in ("s3://", "as://", "gs://"):
        assert scheme in caught.value.fix


def test_missing_model_folder_is_a_publish_error(tmp_path: Path) -> None:
    repository, name = _model(tmp_path)
    with pytest.raises(PublishError, match="not a Triton model folder"):
        publish(repository, "s3://models", name=name, version="2")


def test_staged_then_copied_with_config_last(
    s3_store: Store,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in s3_store.env.items():
        monkeypatch.setenv(key, value)
    repository, name = _model(tmp_path, extra=True)
    calls: list[tuple[str, ...]] = []
    real_upload, real_copy = publish_module._S3.upload, publish_module._S3.copy

    def upload(self: Any, key: str, path: Path, sha256: str) -> None:
        calls.append(("upload", key))
        real_upload(self, key, path, sha256)

    def copy(self: Any, source: str, target: str, sha256: str) -> None:
        calls.append(("copy", source, target))
        real_copy(self, source, target, sha256)

    monkeypatch.setattr(publish_module._S3, "upload", upload)
    monkeypatch.setattr(publish_module._S3, "copy", copy)
    uri = f"{s3_store.uri}/team/models"

    result = publish(repository, uri, name=name, version="1")

    root = f"team/models/{name}/"
    assert all(call[1].startswith(f"{root}.staging-") for call in calls if call[0] == "upload")
    targets = [call[2] for call in calls if call[0] == "copy"]
    assert targets == [f"{root}1/model.onnx", f"{root}configs/cpu.pbtxt", f"{root}config.pbtxt"]
    assert result.objects == tuple(sorted(f"{name}/{k.removeprefix(root)}" for k in targets))
    remote = _read_s3(s3_store)
    assert sorted(k for k in remote if k.startswith(root)) == sorted(targets)


def test_rejected_credentials_name_the_chain(
    blob_store: Store,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Azurite checks the shared key: a wrong one is an auth error naming where it came from."""
    wrong = base64.b64encode(b"not-the-dev-account-key" * 3).decode()
    connection = azurite_connection_string(blob_store.port).replace(AZURITE_KEY, wrong)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    repository, name = _model(tmp_path)

    with pytest.raises(PublishError) as caught:
        publish(repository, blob_store.uri, name=name, version="1")

    assert "refused the credentials from AZURE_STORAGE_CONNECTION_STRING" in caught.value.cause


@pytest.mark.parametrize("store_name", ["s3_store", "blob_store", "gcs_store"])
def test_fetch_downloads_what_publish_wrote(
    store_name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from model_packaging.publish import fetch

    store: Store = request.getfixturevalue(store_name)
    repository = tmp_path / "repo"
    (repository / "fetched" / "1").mkdir(parents=True)
    (repository / "fetched" / "config.pbtxt").write_text('name: "fetched"\n')
    (repository / "fetched" / "1" / "model.onnx").write_bytes(b"\x00onnx" * 100)
    for key, value in store.env.items():
        monkeypatch.setenv(key, value)
    publish(repository, store.uri, name="fetched", version="1")
    for key in store.env:
        monkeypatch.delenv(key)
    in_environ: list[set[str]] = []  # the given keys found in os.environ as each file lands
    checksum = publish_module._sha256

    def checked(path: Path) -> str:
        in_environ.append({key for key in store.env if key in os.environ})
        return checksum(path)

    monkeypatch.setattr(publish_module, "_sha256", checked)
    count = fetch(store.uri, "fetched", tmp_path / "down", env=store.env)
    assert count == 2
    assert in_environ == [set(), set()]  # the keys went to the client, not the environment
    got = tmp_path / "down" / "fetched" / "1" / "model.onnx"
    assert got.read_bytes() == b"\x00onnx" * 100
    with pytest.raises(PublishError):
        fetch(store.uri, "never-published", tmp_path / "none", env=store.env)
