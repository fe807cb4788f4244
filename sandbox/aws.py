"""The sandbox's AWS control plane: moto in server mode on 127.0.0.1, with an admin user made
before IAM authentication is switched on, per-stack read-only users whose keys live in a vault
(Secrets Manager), and revoke/rotate of those keys. Every boto3 call names its endpoint, region
and keys; nothing is read from the environment."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sandbox.errors import SandboxError
from sandbox.processes import pid_alive, stop_process

ADMIN_USER = "exitplan-sandbox-admin"
ADMIN_FILE = "admin.json"
REGION = "us-east-1"
_BOOT = ("bootstrap", "bootstrap")
_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2)


@dataclass(frozen=True)
class Credentials:
    """An IAM access key pair."""

    access_key_id: str
    secret_access_key: str

    def env(self, endpoint: str, region: str = REGION) -> dict[str, str]:
        """The environment that points an AWS SDK at `endpoint` with these keys."""
        return {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": region,
        }


def _policy(actions: list[str], resources: list[str]) -> str:
    statement = {"Effect": "Allow", "Action": actions, "Resource": resources}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _moto_server() -> str:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        raise SandboxError("moto_server not found", fix="uv sync (installs moto[server])")
    return found


class AwsControlPlane:
    """One moto_server process and the sandbox's IAM users, keys and vault in it."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.log = workdir / "moto.log"
        self.pid: int | None = None
        self.admin: Credentials | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._clients: dict[tuple[str, Credentials], Any] = {}

    @property
    def endpoint(self) -> str:
        """The server's URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 20) -> int:
        """Start moto_server in its own session (it outlives this process); wait until it
        answers; return its pid."""
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SandboxError(
                    f"port {self.port} on 127.0.0.1 is in use: moto_server cannot listen there",
                    fix="pick another port, or stop what listens there",
                )
        command = [_moto_server(), "-H", "127.0.0.1", "-p", str(self.port)]
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.pid = self._proc.pid
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1),
            ):
                return self.pid
            time.sleep(0.1)
        code = self._proc.poll()
        self.stop()
        tail = self.log.read_text(errors="replace")[-2000:]
        raise SandboxError(
            f"moto_server on port {self.port} did not answer within {timeout_s:g} s "
            f"(exit code {code}); log {self.log}:\n{tail}",
            fix="check the log; is the port free?",
        )

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL the server by pid (works from another process too)."""
        stop_process(self.pid)
        self.pid, self._proc = None, None

    def client(self, service: str, creds: Credentials | None = None) -> Any:
        """A boto3 client for `service` at this endpoint with `creds` (default: the admin's)."""
        keys = creds or self._admin()
        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=REGION, config=_CONFIG,
            aws_access_key_id=keys.access_key_id, aws_secret_access_key=keys.secret_access_key,
        )  # fmt: skip

    def _admin(self) -> Credentials:
        if self.admin is None:
            raise SandboxError("no admin credentials", fix="bootstrap_admin() or attach() first")
        return self.admin

    def _aws(self, what: str, service: str, op: str, **kwargs: Any) -> Any:
        """One call with the admin's key; botocore's errors become a SandboxError."""
        key = (service, self._admin())
        if key not in self._clients:
            self._clients[key] = self.client(service)
        try:
            return getattr(self._clients[key], op)(**kwargs)
        except ClientError as exc:
            err, meta = exc.response.get("Error", {}), exc.response.get("ResponseMetadata", {})
            code = err.get("Code") or meta.get("HTTPStatusCode")
            cause = f"AWS sandbox: {what} failed ({code}: {err.get('Message', '')[:300]})"
            raise SandboxError(cause) from exc
        except BotoCoreError as exc:
            raise SandboxError(f"AWS sandbox: {what} failed: {exc}") from exc

    def bootstrap_admin(self) -> Credentials:
        """Before auth is on: create the admin user (allowed everything) and its key; keep it
        and write it to workdir/admin.json (mode 0600)."""
        self.admin = Credentials(*_BOOT)  # any key does before auth is on
        self._aws("creating the admin user", "iam", "create_user", UserName=ADMIN_USER)
        policy = _policy(["*"], ["*"])
        self._aws("granting the admin everything", "iam", "put_user_policy",
                  UserName=ADMIN_USER, PolicyName="admin", PolicyDocument=policy)  # fmt: skip
        self.admin = self._new_key(ADMIN_USER)
        path = self.workdir / ADMIN_FILE
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(vars(self.admin), out)
        return self.admin

    @classmethod
    def attach(cls, workdir: Path, port: int, pid: int) -> AwsControlPlane:
        """Reattach to a running control plane, with the admin key from workdir/admin.json."""
        if not pid_alive(pid):
            raise SandboxError(f"moto_server (pid {pid}, port {port}) is not running")
        try:
            data = json.loads((workdir / ADMIN_FILE).read_text())
            admin = Credentials(data["access_key_id"], data["secret_access_key"])
        except (OSError, ValueError, KeyError) as exc:
            raise SandboxError(f"cannot read {workdir / ADMIN_FILE}: {exc}") from exc
        plane = cls(workdir, port)
        plane.pid, plane.admin = pid, admin
        return plane

    def enable_auth(self) -> None:
        """Switch IAM authentication on: from now on every request needs a valid key. (moto
        reads a plain-text number: how many more requests go through unauthenticated.)"""
        url, plain = f"{self.endpoint}/moto-api/reset-auth", {"Content-Type": "text/plain"}
        request = urllib.request.Request(url, data=b"0", method="POST", headers=plain)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                answer = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise SandboxError(f"cannot switch on moto's IAM authentication: {exc}") from exc
        if answer.get("status") != "ok":
            raise SandboxError(f"moto refused to switch on IAM authentication: {answer}")

    def setup_stack(self, stack: str, bucket: str, policies: Sequence[str]) -> Credentials:
        """Create the stack's bucket and the stand-in principal of its planned identity: a
        user holding exactly the planned policy documents (none: it may do nothing); put its
        key in the vault and return it."""
        user = _user(stack)
        self._aws(f"creating bucket {bucket}", "s3", "create_bucket", Bucket=bucket)
        self._aws(f"creating user {user}", "iam", "create_user", UserName=user)
        for number, policy in enumerate(map(moto_equivalent, policies), 1):
            what = f"granting {user} the planned policy {number}"
            self._aws(what, "iam", "put_user_policy", UserName=user,
                      PolicyName=f"planned-{number}", PolicyDocument=policy)  # fmt: skip
        creds = self._new_key(user)
        self.vault_put(stack, _vault(creds))
        return creds

    def _new_key(self, user: str) -> Credentials:
        key = self._aws(f"creating a key for {user}", "iam", "create_access_key", UserName=user)
        return Credentials(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])

    def _key_ids(self, stack: str) -> list[str]:
        user = _user(stack)
        keys = self._aws(f"listing the keys of {user}", "iam", "list_access_keys", UserName=user)
        return [k["AccessKeyId"] for k in keys["AccessKeyMetadata"]]

    def _delete_key(self, stack: str, key_id: str) -> None:
        user = _user(stack)
        self._aws(f"deleting key {key_id} of {user}", "iam", "delete_access_key",
                  UserName=user, AccessKeyId=key_id)  # fmt: skip

    def vault_get(self, stack: str) -> Credentials:
        """The stack's key as the vault holds it (read with the admin's key)."""
        data = self.vault_read(stack)
        if "aws_access_key_id" not in data or "aws_secret_access_key" not in data:
            raise SandboxError(f"{_secret(stack)} in the vault holds no AWS key")
        return Credentials(data["aws_access_key_id"], data["aws_secret_access_key"])

    def vault_put(self, stack: str, values: Mapping[str, str]) -> None:
        """Store any string map (e.g. a non-AWS store's environment) as the stack's secret."""
        secret, text = _secret(stack), json.dumps(dict(values))
        try:
            self._aws(f"creating {secret}", "secretsmanager", "create_secret",
                      Name=secret, SecretString=text)  # fmt: skip
        except SandboxError as exc:
            if "ResourceExists" not in exc.cause:
                raise
            self._aws(f"updating {secret}", "secretsmanager", "put_secret_value",
                      SecretId=secret, SecretString=text)  # fmt: skip

    def vault_read(self, stack: str) -> dict[str, str]:
        """The stack's secret as a string map (what `vault_put` stored)."""
        what = f"reading {_secret(stack)} from the vault"
        secret = self._aws(what, "secretsmanager", "get_secret_value", SecretId=_secret(stack))
        return {str(k): str(v) for k, v in json.loads(secret["SecretString"]).items()}

    def admin_env(self) -> dict[str, str]:
        """The environment that reaches this endpoint with the admin's key."""
        return self._admin().env(self.endpoint)

    def revoke(self, stack: str) -> str:
        """Delete the stack's current key (the vault keeps the dead key); return its id."""
        key_id = self.vault_get(stack).access_key_id
        self._delete_key(stack, key_id)
        return key_id

    def rotate(self, stack: str) -> Credentials:
        """Give the stack a new key, put it in the vault, delete the older ones; return it."""
        vaulted = self.vault_get(stack).access_key_id
        old = self._key_ids(stack)
        if len(old) >= 2:  # IAM allows two keys a user: make room, keeping the vault's
            for key_id in [k for k in old if k != vaulted]:
                self._delete_key(stack, key_id)
        creds = self._new_key(_user(stack))
        self.vault_put(stack, _vault(creds))
        for key_id in [k for k in self._key_ids(stack) if k != creds.access_key_id]:
            self._delete_key(stack, key_id)
        return creds

    def credential_state(self, stack: str) -> dict[str, str]:
        """The vault's key id and whether that key still exists ("active") or not ("revoked")."""
        key_id = self.vault_get(stack).access_key_id
        status = "active" if key_id in self._key_ids(stack) else "revoked"
        return {"key_id": key_id, "status": status}

    def hosted_zone(self, zone: str, records: Mapping[str, str]) -> str:
        """Create a public hosted zone with CNAME records (name -> target); return its id
        (without the "/hostedzone/" prefix)."""
        created = self._aws(
            f"creating hosted zone {zone}", "route53", "create_hosted_zone", Name=zone,
            CallerReference=uuid.uuid4().hex, HostedZoneConfig={"PrivateZone": False},
        )  # fmt: skip
        zone_id = str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]
        changes = [
            {"Action": "UPSERT", "ResourceRecordSet": {
                "Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": target}],
            }}
            for name, target in records.items()
        ]  # fmt: skip
        if changes:
            self._aws(f"creating CNAME records in {zone}", "route53", "change_resource_record_sets",
                      HostedZoneId=zone_id, ChangeBatch={"Changes": changes})  # fmt: skip
        return zone_id


# moto checks a HEAD on a bucket as the action "s3:HeadBucket" (moto/s3/responses.py
# ACTION_MAP), which IAM does not have: AWS checks s3:ListBucket for HeadBucket ("HeadBucket":
# "you must have permissions to perform the s3:ListBucket action"). Pinned by a test.
MOTO_ACTIONS = {"s3:ListBucket": "s3:HeadBucket"}


def moto_equivalent(policy: str) -> str:
    """A policy document that moto's IAM enforcement reads as AWS reads `policy`: each action
    of MOTO_ACTIONS also granted under the name moto checks, on the same resources."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        listed = [actions] if isinstance(actions, str) else list(actions)
        extra = [MOTO_ACTIONS[a] for a in listed if a in MOTO_ACTIONS]
        if extra:
            statement["Action"] = listed + [a for a in extra if a not in listed]
    return json.dumps(document)


def _user(stack: str) -> str:
    return f"exitplan-{stack}"


def _secret(stack: str) -> str:
    return f"exitplan/{stack}/store"


def _vault(creds: Credentials) -> dict[str, str]:
    return {
        "aws_access_key_id": creds.access_key_id,
        "aws_secret_access_key": creds.secret_access_key,
    }
