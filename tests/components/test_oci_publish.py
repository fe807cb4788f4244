"""Publishing to OCI Object Storage for real over HTTP: the OCI SDK's ObjectStorageClient, pointed
at a loopback server that speaks the REST calls the backend makes (namespace, list, HEAD, PUT
with Content-MD5, GET, rename, DELETE), through model_packaging's publish and fetch with the
backend registered the way `exitplan package --publish` registers it."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import oci
import pytest

from components.providers.oci.publish import ObjectStorageStore, opener, parse
from components.publishing import store_backend
from model_packaging import publish as publishing
from model_packaging.errors import PublishError
from tests.conftest import ROOT

NAMESPACE = "testns"
BUCKET = "fraud-scoring-models-iad"
SIGNATURE = 'Signature version="1",keyId="test",signature="test"'


@dataclass
class Stored:
    data: bytes
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Fake:
    """The service's state: buckets of objects, and every request seen."""

    buckets: dict[str, dict[str, Stored]] = field(default_factory=lambda: {BUCKET: {}})
    requests: list[tuple[str, str]] = field(default_factory=list)
    damage_uploads: bool = False


def handler(fake: Fake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("opc-request-id", "test")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            body = json.dumps({"code": code, "message": code}).encode()
            self._reply(status, body, {"Content-Type": "application/json"})

        def _route(self) -> tuple[str | None, str | None, dict[str, list[str]]] | None:
            """(bucket, object) of /n/{ns}/b/{bucket}[/o[/{object}] | /actions/...]."""
            fake.requests.append((self.command, self.path))
            if not self.headers.get("authorization", "").startswith("Signature"):
                self._error(401, "NotAuthenticated")
                return None
            url = urlparse(self.path)
            parts = url.path.split("/")
            query = parse_qs(url.query)
            if url.path in ("/n", "/n/"):
                return None, None, query
            if len(parts) < 5 or parts[1] != "n" or parts[2] != NAMESPACE or parts[3] != "b":
                self._error(404, "NamespaceNotFound")
                return None
            bucket = unquote(parts[4])
            if bucket not in fake.buckets:
                self._error(404, "BucketNotFound")
                return None
            name = unquote("/".join(parts[6:])) if len(parts) > 6 and parts[5] == "o" else None
            return bucket, name, query

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_GET(self) -> None:
            route = self._route()
            if route is None:
                return
            bucket, name, query = route
            if bucket is None:
                self._reply(
                    200, json.dumps(NAMESPACE).encode(), {"Content-Type": "application/json"}
                )
            elif name is None:
                prefix = query.get("prefix", [""])[0]
                objects = [
                    {"name": n} for n in sorted(fake.buckets[bucket]) if n.startswith(prefix)
                ]
                body = json.dumps({"objects": objects, "prefixes": []}).encode()
                self._reply(200, body, {"Content-Type": "application/json"})
            elif name in fake.buckets[bucket]:
                stored = fake.buckets[bucket][name]
                self._reply(200, stored.data, {"Content-Type": "application/octet-stream"})
            else:
                self._error(404, "ObjectNotFound")

        def do_HEAD(self) -> None:
            route = self._route()
            if route is None:
                return
            bucket, name, _ = route
            stored = fake.buckets[str(bucket)].get(str(name))
            if stored is None:
                self._error(404, "ObjectNotFound")
                return
            headers = {f"opc-meta-{k}": v for k, v in stored.meta.items()}
            self._reply(200, b"", {**headers, "Content-Type": "application/octet-stream"})

        def do_PUT(self) -> None:
            route = self._route()
            body = self._body()
            if route is None:
                return
            bucket, name, _ = route
            if fake.damage_uploads:
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            md5 = self.headers.get("Content-MD5")
            if md5 and base64.b64encode(hashlib.md5(body).digest()).decode() != md5:
                self._error(400, "InvalidDigest")
                return
            meta = {
                k.lower().removeprefix("opc-meta-"): v
                for k, v in self.headers.items()
                if k.lower().startswith("opc-meta-")
            }
            fake.buckets[str(bucket)][str(name)] = Stored(body, meta)
            self._reply(200, b"", {"ETag": hashlib.md5(body).hexdigest()})

        def do_POST(self) -> None:
            route = self._route()
            body = json.loads(self._body() or b"{}")
            if route is None:
                return
            bucket = str(route[0])
            if not self.path.endswith("/actions/renameObject"):
                self._error(404, "NotFound")
                return
            objects = fake.buckets[bucket]
            if body["sourceName"] not in objects:
                self._error(404, "ObjectNotFound")
                return
            objects[body["newName"]] = objects.pop(body["sourceName"])
            self._reply(200)

        def do_DELETE(self) -> None:
            route = self._route()
            if route is None:
                return
            bucket, name, _ = route
            if fake.buckets[str(bucket)].pop(str(name), None) is None:
                self._error(404, "ObjectNotFound")
                return
            self._reply(204)

    return Handler


class FakeSigner(oci.auth.signers.SecurityTokenSigner):  # type: ignore[misc]
    """Signs like the SDK's signers do (an Authorization header), with no key; a
    SecurityTokenSigner, so the client needs no API-key config beside it."""

    def __init__(self, header: str | None = SIGNATURE) -> None:
        self.header = header

    def __call__(self, request: Any, enforce_content_headers: bool = True) -> Any:
        if self.header:
            request.headers["authorization"] = self.header
        return request


@pytest.fixture
def service() -> Iterator[tuple[Fake, str]]:
    fake = Fake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def client(endpoint: str, signer: FakeSigner | None = None) -> Any:
    return oci.object_storage.ObjectStorageClient(
        {"region": "us-ashburn-1"},
        signer=signer or FakeSigner(),
        service_endpoint=endpoint,
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(),
    )


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch, service: tuple[Fake, str]) -> Fake:
    """The `oci://` backend registered with model_packaging (undone after the test)."""
    fake, endpoint = service
    monkeypatch.setattr(publishing, "_BACKENDS", dict(publishing._BACKENDS))
    publishing.register_store("oci", opener(client(endpoint)))
    return fake


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    model = tmp_path / "repo" / "fraud"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "fraud"\nbackend: "onnxruntime"\n')
    (model / "1" / "model.onnx").write_bytes(bytes(range(256)) * 4096)
    return tmp_path / "repo"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_publish_uploads_the_bytes_with_their_checksums(registered: Fake, repository: Path) -> None:
    result = publishing.publish(repository, f"oci://{BUCKET}", name="fraud", version="1")
    objects = registered.buckets[BUCKET]
    local = {
        p.relative_to(repository).as_posix(): p.read_bytes()
        for p in repository.rglob("*")
        if p.is_file()
    }
    assert set(objects) == set(local)  # staged objects were renamed, none left behind
    for key, data in local.items():
        assert objects[key].data == data
        assert objects[key].meta["sha256"] == sha256(data)
    assert (result.uploaded, result.verified) == (2, 2)
    assert ("GET", "/n") in registered.requests  # the namespace asked of the service
    again = publishing.publish(repository, f"oci://{BUCKET}", name="fraud", version="1")
    assert (again.uploaded, again.skipped) == (0, 2)


def test_fetch_checks_every_object_and_refuses_a_corrupted_one(
    registered: Fake, repository: Path, tmp_path: Path
) -> None:
    publishing.publish(repository, f"oci://{BUCKET}", name="fraud", version="1")
    assert publishing.fetch(f"oci://{BUCKET}", "fraud", tmp_path / "out") == 2
    fetched = (tmp_path / "out" / "fraud" / "1" / "model.onnx").read_bytes()
    assert fetched == (repository / "fraud" / "1" / "model.onnx").read_bytes()
    stored = registered.buckets[BUCKET]["fraud/1/model.onnx"]
    stored.data = stored.data[:-1] + b"\x00"  # bit rot, metadata unchanged
    with pytest.raises(PublishError, match="does not match its sha256"):
        publishing.fetch(f"oci://{BUCKET}", "fraud", tmp_path / "again")


def test_upload_damaged_in_transit_is_refused_by_its_content_md5(
    registered: Fake, repository: Path
) -> None:
    registered.damage_uploads = True
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        publishing.publish(repository, f"oci://{BUCKET}", name="fraud", version="1")
    assert (caught.value.status, caught.value.code) == (400, "InvalidDigest")
    assert not registered.buckets[BUCKET]


def test_namespace_and_prefix_from_the_uri(registered: Fake, repository: Path) -> None:
    uri = f"oci://{BUCKET}@{NAMESPACE}/team/models"
    publishing.publish(repository, uri, name="fraud", version="1")
    assert "team/models/fraud/config.pbtxt" in registered.buckets[BUCKET]
    assert ("GET", "/n") not in registered.requests
    assert parse(f"{BUCKET}@{NAMESPACE}") == (BUCKET, NAMESPACE)


def test_missing_bucket_and_refused_credentials_are_named(
    registered: Fake, repository: Path, service: tuple[Fake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(PublishError, match="does not exist"):
        publishing.publish(repository, "oci://no-such-bucket", name="fraud", version="1")
    unsigned = client(service[1], FakeSigner(header=None))
    monkeypatch.setitem(publishing._BACKENDS, "oci", opener(unsigned))
    with pytest.raises(PublishError, match="refused the credentials"):
        publishing.publish(repository, f"oci://{BUCKET}", name="fraud", version="1")


def test_built_in_stores_cannot_be_replaced() -> None:
    with pytest.raises(ValueError, match="served by model_packaging"):
        publishing.register_store("s3", opener())
    assert publishing.serves("s3")


def test_store_backend_comes_from_the_providers_folder_without_pulumi() -> None:
    backend = store_backend("oci")
    assert backend is not None
    given = {"OCI_OBJECT_STORAGE_ENDPOINT": "http://127.0.0.1:9"}  # a call's own settings
    store, parts = backend(f"{BUCKET}@{NAMESPACE}", ["a"], given)
    assert isinstance(store, ObjectStorageStore) and parts == ["a"]
    assert store.endpoint == "http://127.0.0.1:9"
    assert store_backend("aws") is None  # s3:// is served by model_packaging itself
    code = (
        "import sys; from components.publishing import store_backend; store_backend('oci'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi', 'pulumi_oci', 'oci', 'components.providers.oci')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"  # neither Pulumi, its OCI SDK nor the OCI SDK yet
