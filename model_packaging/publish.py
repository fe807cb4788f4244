"""Publish a Triton model repository to a cloud model store (S3, Azure Blob, GCS) and verify it.

Changed files go to a staging prefix first, are verified there, then copied server-side to their
final keys (the version's files first, `<name>/config.pbtxt` last) so Triton never sees a
half-written version. Objects carry their content's sha256 as metadata; unchanged ones are skipped.

Credentials and endpoints given as `env` (the names the SDKs read from the environment: a
sandbox stack's own keys) go to that call's client alone: the process environment is only
read, never written, so no key leaks into a process started meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from model_packaging.errors import PublishError
from model_packaging.progress import Progress, reporter

# Azure Storage's default retry backs off 15 s, 18 s, 24 s: too long to learn a store is down.
_AZURE_RETRY: dict[str, Any] = dict(
    initial_backoff=1, increment_base=2, retry_total=2, random_jitter_range=1
)
_S3_AUTH = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"}
_ERRORS = {  # kind -> (cause, fix), formatted with uri, endpoint, chain, exc
    "unreachable": (
        "cannot reach the model store {uri} at {endpoint}: {exc}",
        "check the endpoint, the network and the credentials; credentials come from {chain}",
    ),
    "missing": (
        "the bucket or container of {uri} does not exist",
        "create it (the stack's `pulumi up` does) or check the name",
    ),
    "auth": (
        "{uri} refused the credentials from {chain}: {exc}",
        "check the credentials {chain} resolves and their access to {uri}",
    ),
}


@dataclass(frozen=True)
class PublishResult:
    """What one publish did: store URI, counts, and the published keys (relative to the URI)."""

    uri: str
    uploaded: int
    skipped: int
    verified: int
    objects: tuple[str, ...]


class _Store(Protocol):
    """One cloud store. Keys are full object keys; checksums are the `sha256` metadata."""

    chain: str  # the credential chain in use, named in errors
    endpoint: str  # where requests go, named in errors

    def list(self, prefix: str) -> dict[str, str]: ...
    def upload(self, key: str, path: Path, sha256: str) -> None: ...
    def copy(self, source: str, target: str, sha256: str) -> None: ...
    def delete(self, keys: Sequence[str]) -> None: ...
    def download(self, key: str, path: Path) -> None: ...
    def classify(self, exc: BaseException) -> str | None: ...  # unreachable, missing, auth


def _setting(env: Mapping[str, str], key: str) -> str:
    """`key` from the given settings, else from the process environment ("" when neither)."""
    return env.get(key) or os.environ.get(key, "")


class _S3:
    def __init__(self, bucket: str, env: Mapping[str, str]) -> None:
        self.bucket = bucket
        # given keys are used as a set (with their own session token or none), never mixed
        # with keys from the process environment
        keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        self._keys = [env.get(key) for key in keys] if "AWS_ACCESS_KEY_ID" in env else [None] * 3
        self._region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
        self._endpoint = env.get("AWS_ENDPOINT_URL")
        self.chain = (
            "boto3's default credential chain (AWS_* env vars, AWS_PROFILE, SSO, instance role)"
        )
        if self._keys[0]:
            self.chain = f"the given access key {self._keys[0]}"
        self.endpoint = _setting(env, "AWS_ENDPOINT_URL") or "the regional AWS S3 endpoint"

    @cached_property
    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        # A session of its own: boto3's default session keeps the first credentials it found.
        key, secret, token = self._keys
        session = boto3.session.Session(
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name=self._region,
        )
        config = Config(connect_timeout=10, retries={"mode": "standard"})
        return session.client("s3", endpoint_url=self._endpoint, config=config)

    def list(self, prefix: str) -> dict[str, str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        heads = {key: self._client.head_object(Bucket=self.bucket, Key=key) for key in keys}
        return {key: head.get("Metadata", {}).get("sha256", "") for key, head in heads.items()}

    def modified(self, prefix: str) -> dict[str, float]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        items = [item for page in pages for item in page.get("Contents", [])]
        return {item["Key"]: item["LastModified"].timestamp() for item in items}

    def upload(self, key: str, path: Path, sha256: str) -> None:
        extra = {"Metadata": {"sha256": sha256}}
        self._client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def copy(self, source: str, target: str, sha256: str) -> None:
        extra = {"Metadata": {"sha256": sha256}, "MetadataDirective": "REPLACE"}
        src = {"Bucket": self.bucket, "Key": source}
        self._client.copy(src, self.bucket, target, ExtraArgs=extra)  # multipart when large

    def download(self, key: str, path: Path) -> None:
        self._client.download_file(self.bucket, key, str(path))

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})

    def classify(self, exc: BaseException) -> str | None:
        from botocore import exceptions as bx

        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if isinstance(exc, bx.ConnectionError | bx.ReadTimeoutError | bx.ConnectionClosedError):
            return "unreachable"
        if code == "NoSuchBucket":
            return "missing"
        creds = bx.NoCredentialsError | bx.PartialCredentialsError | bx.CredentialRetrievalError
        return "auth" if code in _S3_AUTH or isinstance(exc, creds) else None


class _Blob:
    def __init__(self, account: str, container: str, env: Mapping[str, str]) -> None:
        self.account, self.container = account, container
        self.connection = _setting(env, "AZURE_STORAGE_CONNECTION_STRING")
        self.chain = "AZURE_STORAGE_CONNECTION_STRING"
        if not self.connection:
            self.chain = (
                "DefaultAzureCredential (env, workload identity, managed identity, az login)"
            )
        self.endpoint = f"https://{account}.blob.core.windows.net"
        for part in self.connection.split(";"):
            if part.startswith("BlobEndpoint="):
                self.endpoint = part.removeprefix("BlobEndpoint=")

    @cached_property
    def _client(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        if self.connection:
            service = BlobServiceClient.from_connection_string(self.connection, **_AZURE_RETRY)
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
            service = BlobServiceClient(self.endpoint, credential, **_AZURE_RETRY)
        return service.get_container_client(self.container)

    def list(self, prefix: str) -> dict[str, str]:
        blobs = self._client.list_blobs(name_starts_with=prefix, include=["metadata"])
        return {blob.name: (blob.metadata or {}).get("sha256", "") for blob in blobs}

    def modified(self, prefix: str) -> dict[str, float]:
        blobs = self._client.list_blobs(name_starts_with=prefix)
        return {blob.name: blob.last_modified.timestamp() for blob in blobs}

    def upload(self, key: str, path: Path, sha256: str) -> None:
        with path.open("rb") as data:
            self._client.upload_blob(key, data, overwrite=True, metadata={"sha256": sha256})

    def copy(self, source: str, target: str, sha256: str) -> None:
        url = self._client.get_blob_client(source).url
        blob = self._client.get_blob_client(target)
        status = blob.start_copy_from_url(url, metadata={"sha256": sha256})["copy_status"]
        while status == "pending":  # same-account copies are usually synchronous
            time.sleep(0.5)
            status = blob.get_blob_properties().copy.status
        if status != "success":
            raise PublishError(f"server-side copy {source} -> {target} ended {status!r}")

    def download(self, key: str, path: Path) -> None:
        with path.open("wb") as data:
            self._client.download_blob(key).readinto(data)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._client.delete_blob(key)

    def classify(self, exc: BaseException) -> str | None:
        from azure.core import exceptions as ax

        if isinstance(exc, ax.ServiceRequestError | ax.ServiceResponseError):
            return "unreachable"
        if isinstance(exc, ax.ClientAuthenticationError) or (
            isinstance(exc, ax.HttpResponseError) and exc.status_code in {401, 403}
        ):
            return "auth"
        return "missing" if isinstance(exc, ax.ResourceNotFoundError) else None


class _Gcs:
    _LIST_RETRY_S = 5.0  # bounds the retries of a listing when the endpoint is down

    def __init__(self, bucket: str, env: Mapping[str, str]) -> None:
        self.bucket = bucket
        self.emulator = _setting(env, "STORAGE_EMULATOR_HOST")
        self.endpoint = self.emulator or "https://storage.googleapis.com"
        self.chain = "anonymous credentials (STORAGE_EMULATOR_HOST is set)"
        if not self.emulator:
            self.chain = "Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud)"

    @cached_property
    def _bucket(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        if self.emulator:
            endpoint = {"api_endpoint": self.emulator}
            client = storage.Client("exitplan", AnonymousCredentials(), client_options=endpoint)
            return client.bucket(self.bucket)
        return storage.Client().bucket(self.bucket)

    def list(self, prefix: str) -> dict[str, str]:
        from google.cloud.storage.retry import DEFAULT_RETRY

        retry = DEFAULT_RETRY.with_timeout(self._LIST_RETRY_S)
        blobs = self._bucket.list_blobs(prefix=prefix, retry=retry, timeout=30)
        return {blob.name: (blob.metadata or {}).get("sha256", "") for blob in blobs}

    def modified(self, prefix: str) -> dict[str, float]:
        blobs = self._bucket.list_blobs(prefix=prefix, timeout=30)
        return {blob.name: blob.updated.timestamp() for blob in blobs}

    def upload(self, key: str, path: Path, sha256: str) -> None:
        blob = self._bucket.blob(key)
        blob.metadata = {"sha256": sha256}
        blob.upload_from_filename(str(path))

    def copy(self, source: str, target: str, sha256: str) -> None:
        src, dst = self._bucket.blob(source), self._bucket.blob(target)
        dst.metadata = {"sha256": sha256}
        token, _, _ = dst.rewrite(src)
        while token is not None:  # large objects are rewritten in several calls
            token, _, _ = dst.rewrite(src, token=token)

    def download(self, key: str, path: Path) -> None:
        self._bucket.blob(key).download_to_filename(str(path))

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._bucket.delete_blob(key)

    def classify(self, exc: BaseException) -> str | None:
        import requests
        from google.api_core import exceptions as gx
        from google.auth import exceptions as gax

        exc = exc.cause if isinstance(exc, gx.RetryError) and exc.cause else exc
        if isinstance(exc, requests.ConnectionError | requests.Timeout | gx.RetryError):
            return "unreachable"
        if isinstance(exc, gx.Forbidden | gx.Unauthorized | gax.GoogleAuthError):
            return "auth"
        return "missing" if isinstance(exc, gx.NotFound) else None


def _explain(store: _Store, exc: BaseException, uri: str) -> PublishError | None:
    """The PublishError for a store SDK's exception, or None when it is not a known kind."""
    kind = store.classify(exc)
    if kind not in _ERRORS:
        return None
    fields = {"uri": uri, "endpoint": store.endpoint, "chain": store.chain, "exc": exc}
    cause, fix = _ERRORS[kind]
    return PublishError(cause.format(**fields), fix=fix.format(**fields))


# (URI host, path parts, given settings) -> (the store, the key prefix's parts). The settings
# are the call's `env` (credentials, endpoint), read before the process environment.
StoreOpener = Callable[[str, list[str], Mapping[str, str]], tuple[_Store, list[str]]]
_BACKENDS: dict[str, StoreOpener] = {
    "s3": lambda host, parts, env: (_S3(host, env), parts),
    "as": lambda host, parts, env: (_Blob(host, parts[0], env), parts[1:]),
    "gs": lambda host, parts, env: (_Gcs(host, env), parts),
}
_BUILT_IN = frozenset(_BACKENDS)


def serves(scheme: str) -> bool:
    """Whether `scheme://` URIs have a store backend (built in or registered)."""
    return scheme in _BACKENDS


def register_store(scheme: str, opener: StoreOpener) -> None:
    """Serve `scheme://` URIs with a backend from outside this package (a cloud's own store,
    whose SDK this package does not import); its store has `_Store`'s methods and attributes.
    The built-in s3, as and gs backends cannot be replaced."""
    if scheme in _BUILT_IN:
        raise ValueError(f"{scheme}:// is served by model_packaging.publish itself")
    _BACKENDS[scheme] = opener


def _open(uri: str, env: Mapping[str, str] | None) -> tuple[_Store, str]:
    """The store for `uri`, reached with the settings in `env` (else the SDK's default chain),
    and the key prefix under it ("" or "some/prefix/")."""
    parsed = urlparse(uri)
    parts = [part for part in parsed.path.split("/") if part]
    if parsed.scheme not in _BACKENDS or not parsed.netloc or (parsed.scheme == "as" and not parts):
        supported = ", ".join(["s3://bucket[/prefix]", "as://account/container", "gs://bucket"])
        raise PublishError(f"unsupported model store URI {uri!r}", fix=f"use one of {supported}")
    store, rest = _BACKENDS[parsed.scheme](parsed.netloc, parts, env or {})
    return store, "".join(f"{part}/" for part in rest)


def _sha256(path: Path) -> str:
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def _local_files(repository: Path, name: str, version: str) -> dict[str, Path]:
    """`<name>/...` keys of every file of the model folder, checked for a Triton layout."""
    model = repository / name
    if not (model / "config.pbtxt").is_file() or not (model / version).is_dir():
        raise PublishError(
            f"{model} is not a Triton model folder with config.pbtxt and version {version}/",
            fix="lay out the repository first (the layout stage writes it)",
        )
    files = sorted(p for p in model.rglob("*") if p.is_file())
    return {p.relative_to(repository).as_posix(): p for p in files}


def _check(listed: dict[str, str], expected: dict[str, str], where: str) -> int:
    bad = sorted(key for key, sha in expected.items() if listed.get(key) != sha)
    if bad:
        raise PublishError(
            f"{len(bad)} object(s) in {where} are missing or have the wrong sha256: {bad[:5]}",
            fix="re-run publish; if it persists, check for concurrent writers to the store",
        )
    return len(expected)


def publish(
    repository: Path,
    uri: str,
    *,
    name: str,
    version: str,
    progress: Progress | Callable[[str], None] | None = None,
    env: Mapping[str, str] | None = None,
) -> PublishResult:
    """Upload `repository/<name>/` to the store at `uri` via a verified staging prefix; `env`
    holds credentials and endpoint to use instead of the SDKs' default chain. The `progress`
    stage "publish" counts the bytes of the changed files, file by file as each upload ends."""
    say = reporter(progress)
    store, root = _open(uri, env)
    files = _local_files(Path(repository), name, version)
    sums = {key: _sha256(path) for key, path in files.items()}
    staging = f"{name}/.staging-{secrets.token_hex(6)}/"
    staged: list[str] = []  # staging keys that exist and are not yet deleted
    try:
        remote = store.list(f"{root}{name}/")
        changed = []
        for key in files:
            if remote.get(root + key) == sums[key]:
                say(f"skipping {key} (unchanged)")
            else:
                changed.append(key)
        stage_of = {key: staging + key.removeprefix(f"{name}/") for key in changed}
        sizes = {key: files[key].stat().st_size for key in changed}
        say.stage(
            "publish",
            f"{len(changed)} of {len(files)} files to upload to {uri}",
            total=sum(sizes.values()),
            unit="bytes",
        )
        for key in changed:
            say(f"uploading {key}")
            store.upload(root + stage_of[key], files[key], sums[key])
            staged.append(root + stage_of[key])
            say.advance(sizes[key])
        say("verifying")
        if changed:
            expected = {root + stage_of[key]: sums[key] for key in changed}
            _check(store.list(root + staging), expected, f"staging {uri}/{staging}")
        # The version's files first, other files next, the model's config.pbtxt last.
        order = sorted(
            changed,
            key=lambda k: (k == f"{name}/config.pbtxt", not k.startswith(f"{name}/{version}/"), k),
        )
        for key in order:
            store.copy(root + stage_of[key], root + key, sums[key])
        if staged:
            store.delete(staged)
            staged = []
        listed = store.list(f"{root}{name}/")
        verified = _check(listed, {root + key: sums[key] for key in files}, uri)
    except Exception as exc:  # a PublishError is explained as None: re-raised as it is
        explained = _explain(store, exc, uri)
        if explained is None:
            raise
        raise explained from exc
    finally:
        with contextlib.suppress(Exception):  # best effort: the failure is what matters
            if staged:
                store.delete(staged)
    say.done()
    return PublishResult(
        uri, len(changed), len(files) - len(changed), verified, tuple(sorted(files))
    )


def newest(uri: str, name: str, *, env: Mapping[str, str] | None = None) -> float | None:
    """When the newest object of `<name>/` in the store at `uri` was written (Unix time), read
    with the credentials and endpoint in `env`; None when the store's backend cannot say (one
    registered from outside without `modified`) or holds no such object."""
    store, root = _open(uri, env)
    modified = getattr(store, "modified", None)
    if modified is None:
        return None
    try:
        times: dict[str, float] = modified(f"{root}{name}/")
    except Exception as exc:
        explained = _explain(store, exc, uri)
        if explained is None:
            raise
        raise explained from exc
    return max(times.values(), default=None)


def fetch(uri: str, name: str, destination: Path, *, env: Mapping[str, str] | None = None) -> int:
    """Download `<name>/` from the store at `uri` into `destination/<name>/`, checking every
    object's sha256; `env` holds the credentials and endpoint to use. Returns the file count."""
    store, root = _open(uri, env)
    try:
        listed = store.list(f"{root}{name}/")
        if not listed:
            raise PublishError(
                f"{uri} has no model {name!r}",
                fix="publish it first (exitplan package --publish)",
            )
        for key, sha in sorted(listed.items()):
            path = destination / key.removeprefix(root)
            path.parent.mkdir(parents=True, exist_ok=True)
            store.download(key, path)
            if sha and _sha256(path) != sha:
                raise PublishError(f"{key} does not match its sha256 after download")
        return len(listed)
    except PublishError:
        raise
    except Exception as exc:
        explained = _explain(store, exc, uri)
        if explained is None:
            raise
        raise explained from exc
