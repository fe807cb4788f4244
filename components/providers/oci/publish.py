"""Publishing to OCI Object Storage: the `oci://bucket[@namespace][/prefix]` store backend of
`exitplan package --publish` and of verified fetches (model_packaging.publish serves s3, as and
gs itself; components.publishing registers this one).

Objects carry their content's sha256 as `opc-meta-sha256`; uploads send Content-MD5, so Object
Storage refuses bytes damaged in transit. A staged object is moved to its final name with
RenameObject (server-side and synchronous: CopyObject is an asynchronous work request).
Credentials come from the OCI SDK's standard chain: the config file (`OCI_CLI_CONFIG_FILE` or
~/.oci/config, profile `OCI_CLI_PROFILE`), else OKE workload identity or a resource principal
(`OCI_RESOURCE_PRINCIPAL_VERSION`), else the instance principal. `OCI_OBJECT_STORAGE_ENDPOINT`
points the client at another endpoint (an emulator).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

ENDPOINT_ENV = "OCI_OBJECT_STORAGE_ENDPOINT"
SHA256_META = "sha256"
_CHUNK = 1024 * 1024


def _setting(env: Mapping[str, str], key: str, default: str = "") -> str:
    """`key` from the given settings, else from the process environment, else `default`."""
    return env.get(key) or os.environ.get(key) or default


def default_client(env: Mapping[str, str] | None = None) -> tuple[Any, str]:
    """An ObjectStorageClient from the standard auth chain, and the chain's name for errors;
    the settings in `env` are read before the process environment's."""
    import oci

    env = env or {}
    endpoint = _setting(env, ENDPOINT_ENV) or None
    extra: dict[str, Any] = {"service_endpoint": endpoint} if endpoint else {}
    path = os.path.expanduser(_setting(env, "OCI_CLI_CONFIG_FILE", oci.config.DEFAULT_LOCATION))
    if os.path.isfile(path):
        profile = _setting(env, "OCI_CLI_PROFILE", oci.config.DEFAULT_PROFILE)
        config = oci.config.from_file(path, profile)
        chain = f"the OCI config file {path} (profile {profile})"
        token = config.get("security_token_file")
        if token:
            key = oci.signer.load_private_key_from_file(config["key_file"])
            with open(os.path.expanduser(token), encoding="utf-8") as handle:
                signer = oci.auth.signers.SecurityTokenSigner(handle.read().strip(), key)
            return oci.object_storage.ObjectStorageClient(config, signer=signer, **extra), chain
        return oci.object_storage.ObjectStorageClient(config, **extra), chain
    region = _setting(env, "OCI_RESOURCE_PRINCIPAL_REGION") or _setting(env, "OCI_REGION")
    if _setting(env, "OCI_RESOURCE_PRINCIPAL_VERSION"):
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            signer = oci.auth.signers.get_oke_workload_identity_resource_principal_signer()
            chain = "OKE workload identity (the pod's service account)"
        else:
            signer = oci.auth.signers.get_resource_principals_signer()
            chain = "the resource principal (OCI_RESOURCE_PRINCIPAL_*)"
    else:
        signer = oci.auth.signers.InstancePrincipalsSecurityTokenSigner()
        chain = "the instance principal (no OCI config file found)"
    config = {"region": region or getattr(signer, "region", None)}
    return oci.object_storage.ObjectStorageClient(config, signer=signer, **extra), chain


class ObjectStorageStore:
    """One bucket of OCI Object Storage as a `model_packaging.publish` store."""

    def __init__(
        self,
        bucket: str,
        namespace: str | None = None,
        client: Any = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """A store of `bucket`, reached with `client`, else the auth chain read from `env`
        (before the process environment)."""
        self.bucket = bucket
        self._namespace = namespace
        self._given = client
        self._env = dict(env or {})
        self.chain = "the given client" if client is not None else "the OCI SDK's auth chain"
        self.endpoint = _setting(self._env, ENDPOINT_ENV) or "the regional Object Storage endpoint"

    @cached_property
    def client(self) -> Any:
        """The SDK client (built on first use, so errors surface as store errors)."""
        if self._given is not None:
            self.endpoint = self._given.base_client.endpoint
            return self._given
        client, self.chain = default_client(self._env)
        self.endpoint = client.base_client.endpoint
        return client

    @cached_property
    def namespace(self) -> str:
        """The tenancy's Object Storage namespace: from the URI, else asked of the service."""
        return self._namespace or str(self.client.get_namespace().data)

    def list(self, prefix: str) -> dict[str, str]:
        """Every object under `prefix` with its `sha256` metadata ("" when it has none)."""
        import oci

        listed = oci.pagination.list_call_get_all_results(
            self.client.list_objects, self.namespace, self.bucket, prefix=prefix, fields="name"
        ).data.objects
        return {obj.name: self._sha256(obj.name) for obj in listed}

    def _sha256(self, key: str) -> str:
        head = self.client.head_object(self.namespace, self.bucket, key)
        return str(head.headers.get(f"opc-meta-{SHA256_META}", ""))

    def upload(self, key: str, path: Path, sha256: str) -> None:
        """PUT the file with its sha256 as metadata and Content-MD5 for the service to check."""
        md5 = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as data:
            for chunk in iter(lambda: data.read(_CHUNK), b""):
                md5.update(chunk)
        with path.open("rb") as data:
            self.client.put_object(
                self.namespace,
                self.bucket,
                key,
                data,
                content_length=path.stat().st_size,
                content_md5=base64.b64encode(md5.digest()).decode(),
                opc_meta={SHA256_META: sha256},
            )

    def copy(self, source: str, target: str, sha256: str) -> None:
        """Move the staged object to its final name (its metadata moves with it)."""
        from oci.object_storage.models import RenameObjectDetails

        details = RenameObjectDetails(source_name=source, new_name=target)
        self.client.rename_object(self.namespace, self.bucket, details)

    def download(self, key: str, path: Path) -> None:
        """GET the object into `path`, streamed."""
        response = self.client.get_object(self.namespace, self.bucket, key)
        with path.open("wb") as data:
            for chunk in response.data.raw.stream(_CHUNK, decode_content=False):
                data.write(chunk)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects; one already gone (renamed to its final name) is not an error."""
        import oci

        for key in keys:
            try:
                self.client.delete_object(self.namespace, self.bucket, key)
            except oci.exceptions.ServiceError as exc:
                if exc.status != 404:
                    raise

    def classify(self, exc: BaseException) -> str | None:
        """unreachable, missing (no such bucket or namespace) or auth; None otherwise."""
        import oci

        if isinstance(exc, oci.exceptions.ServiceError):
            if exc.status in (401, 403) or exc.code == "NotAuthenticated":
                return "auth"
            if exc.status == 404 and exc.code in ("BucketNotFound", "NamespaceNotFound"):
                return "missing"
            return None
        if isinstance(exc, oci.exceptions.RequestException | oci.exceptions.ConnectTimeout):
            return "unreachable"
        config_errors = (
            oci.exceptions.ConfigFileNotFound,
            oci.exceptions.InvalidConfig,
            oci.exceptions.InvalidPrivateKey,
            oci.exceptions.ProfileNotFound,
        )
        return "auth" if isinstance(exc, config_errors) else None


def parse(host: str) -> tuple[str, str | None]:
    """`bucket` or `bucket@namespace` (the form of Oracle's HDFS connector URIs)."""
    bucket, _, namespace = host.partition("@")
    return bucket, namespace or None


StoreOpener = Callable[[str, list[str], Mapping[str, str]], tuple[ObjectStorageStore, list[str]]]


def opener(client: Any = None) -> StoreOpener:
    """The `oci://` backend for `model_packaging.publish.register_store`: (URI host, path parts,
    the call's settings) -> (store, prefix parts). `client` replaces the auth chain (tests,
    emulators)."""

    def open_store(
        host: str, parts: list[str], env: Mapping[str, str]
    ) -> tuple[ObjectStorageStore, list[str]]:
        bucket, namespace = parse(host)
        return ObjectStorageStore(bucket, namespace, client, env), parts

    return open_store
