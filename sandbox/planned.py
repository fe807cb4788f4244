"""What the plan deploys for a stack's Triton, and the command line the sandbox runs for it.

`PlannedTriton` holds the planned container of the stack's Triton Deployment as plain values
(its args, env, the copy step of an init container, the service-account token mount, the
probes) and the planned identity's store grants. `sandbox_command` turns it into the sandbox's
command line: every planned argument is kept, except the substitutions listed, with their
reasons, in `substitutions.csv` beside this file (`exitplan sandbox explain STACK` shows both
side by side)."""

from __future__ import annotations

import csv
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from textwrap import shorten
from typing import Any

from sandbox.errors import PlannedTritonFailed, SandboxError

SUBSTITUTIONS = Path(__file__).with_name("substitutions.csv")
SYNC_CONTAINER = "sync-models"  # components.model_sync.CONTAINER: the word before the copy
LOOPBACK = "127.0.0.1"
PORT_FLAGS = ("--http-port", "--grpc-port", "--metrics-port")
ADDRESS_FLAGS = ("--http-address", "--grpc-address", "--metrics-address")
REPOSITORY_FLAG = "--model-repository"
BACKEND_FLAG = "--backend-directory"
ADDED_FLAGS = (*ADDRESS_FLAGS, BACKEND_FLAG)  # set by the sandbox whatever the plan says
# Kubernetes expands $(VAR) in a container's args from its env ("Define a command and
# arguments for a container": "$(VAR_NAME)"); $$(VAR) stays literal.
VARIABLE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
EMULATOR_ENDPOINT = "CLOUD_STORAGE_EMULATOR_ENDPOINT"
# Where a pod's service-account token is mounted (Kubernetes "Configure Service Accounts for
# Pods": automounted at /var/run/secrets/kubernetes.io/serviceaccount).
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MODEL_READY = re.compile(r"^/v2/models/[^/]+/ready$")


@dataclass(frozen=True)
class PlannedCopy:
    """The init container that copies the store into the pod's volume before Triton starts:
    a sidecar that copies again every `sync_every_s` (`components.model_sync`: Triton starts
    once a copy found the model), or, with `sync_every_s` None, a one-shot copy at pod start
    (Triton starts after it, whatever it found)."""

    image: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    # the credential files it reads (projected volumes), by mount path; empty: none
    credential_mounts: tuple[str, ...] = ()
    sync_every_s: float | None = None
    sync_wait_s: float = 0.0  # between rounds until a copy found the model
    # it signs in with the pod's own service-account token (the pod's fetch-auth annotation)
    token_auth: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "image": self.image,
            "command": list(self.command),
            "env": dict(self.env),
            "credential_mounts": list(self.credential_mounts),
            "sync_every_s": self.sync_every_s,
            "sync_wait_s": self.sync_wait_s,
            "token_auth": self.token_auth,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedCopy:
        """The inverse of `as_dict`."""
        every = data.get("sync_every_s")
        return cls(
            str(data["image"]),
            tuple(data["command"]),
            dict(data["env"]),
            tuple(data.get("credential_mounts", ())),
            None if every is None else float(every),
            float(data.get("sync_wait_s", 0.0)),
            bool(data.get("token_auth")),
        )


@dataclass(frozen=True)
class PlannedTriton:
    """A stack's Triton as its plan deploys it (plain values read from the planned
    Deployment) and the store grants of the planned identity."""

    stack: str
    args: tuple[str, ...]  # the container's args, "tritonserver" first
    env: Mapping[str, str]  # literal env values
    secret_env: tuple[str, ...]  # env names set from a Secret (generated at deploy time)
    store_uri: str  # the model store the stack reads (the copy step's source when copied)
    identity: Mapping[str, str]  # kind, principal
    # the planned identity's grants on the store: S3 policy documents (JSON), GCS or Azure
    # role names, by bucket or container
    grants: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    copy: PlannedCopy | None = None
    token_mounted: bool = False  # the pod's service-account token file exists
    readiness_urls: tuple[str, ...] = ()  # what the planned readiness probe asks for
    probes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""  # file:line that plans the Deployment

    @property
    def repository(self) -> str:
        """The planned `--model-repository` value."""
        return flag_value(self.args, REPOSITORY_FLAG) or ""

    def readiness_paths(self, model: str) -> tuple[str, ...]:
        """The paths the planned readiness probe asks for, each model's readiness naming
        `model` (the model the sandbox serves: `sandbox up --model` may serve another than
        the stack's own); the model's own readiness when nothing is planned."""
        paths = [urllib.parse.urlsplit(u).path or u for u in self.readiness_urls]
        served = {MODEL_READY.sub(f"/v2/models/{model}/ready", p) for p in paths}
        return tuple(sorted(served)) or (f"/v2/models/{model}/ready",)

    @property
    def reads_store(self) -> bool:
        """Whether Triton reads the store itself (else the copy step fills a local folder)."""
        return "://" in self.repository

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON values (for the sandbox's state and `sandbox explain --json`)."""
        return {
            "stack": self.stack,
            "args": list(self.args),
            "env": dict(self.env),
            "secret_env": list(self.secret_env),
            "store_uri": self.store_uri,
            "identity": dict(self.identity),
            "grants": {k: list(v) for k, v in self.grants.items()},
            "copy": None if self.copy is None else self.copy.as_dict(),
            "token_mounted": self.token_mounted,
            "readiness_urls": list(self.readiness_urls),
            "probes": {k: dict(v) for k, v in self.probes.items()},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedTriton:
        """The inverse of `as_dict`."""
        copy = data.get("copy")
        return cls(
            stack=str(data["stack"]),
            args=tuple(data["args"]),
            env=dict(data["env"]),
            secret_env=tuple(data["secret_env"]),
            store_uri=str(data["store_uri"]),
            identity=dict(data["identity"]),
            grants={k: tuple(v) for k, v in dict(data.get("grants") or {}).items()},
            copy=PlannedCopy.from_dict(copy) if copy else None,
            token_mounted=bool(data.get("token_mounted")),
            readiness_urls=tuple(data.get("readiness_urls", ())),
            probes=dict(data.get("probes") or {}),
            source=str(data.get("source", "")),
        )


@dataclass(frozen=True)
class Substitution:
    """One planned value the sandbox replaces, what with, and why."""

    what: str
    planned: str
    sandbox: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """Plain JSON values."""
        return {
            "what": self.what,
            "planned": self.planned,
            "sandbox": self.sandbox,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SandboxCommand:
    """The command line the sandbox runs for a planned Triton, the environment it adds to
    the planned env (endpoints, stand-in credentials are added by the caller), and each
    substitution with its reason."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    substitutions: tuple[Substitution, ...]


@dataclass(frozen=True)
class Ports:
    """The loopback ports of one replica (placeholders in `<>` for a preview)."""

    http: int | str
    grpc: int | str
    metrics: int | str

    def of(self, flag: str) -> int | str:
        """The port for `--http-port`, `--grpc-port` or `--metrics-port`."""
        return {"--http-port": self.http, "--grpc-port": self.grpc, "--metrics-port": self.metrics}[
            flag
        ]


@cache
def reasons() -> dict[str, tuple[str, str, str]]:
    """`substitutions.csv`: what -> (planned, sandbox, reason)."""
    with SUBSTITUTIONS.open(newline="") as handle:
        return {
            row["what"]: (row["planned"], row["sandbox"], row["reason"])
            for row in csv.DictReader(handle)
        }


def substitution(what: str, planned: str, sandbox: str) -> Substitution:
    """A substitution of `what` (a row of substitutions.csv), with its reason."""
    if what not in reasons():
        raise SandboxError(f"no substitution {what!r} in {SUBSTITUTIONS.name}")
    return Substitution(what, planned, sandbox, reasons()[what][2])


def copy_substitution(copy: PlannedCopy) -> Substitution:
    """The copy step's substitution: the planned container, and what runs in its place."""
    kind = (
        f"sidecar, every {copy.sync_every_s:g} s" if copy.sync_every_s is not None else "one-shot"
    )
    # The cloud's copy command: after the sidecar loop's own words (`sh -c SCRIPT NAME ...`).
    words = list(copy.command)
    copied = words[words.index(SYNC_CONTAINER) + 1 :] if SYNC_CONTAINER in words else words
    planned = f"{copy.image}: {shorten(' '.join(copied), 120)} ({kind})"
    return substitution("copy step", planned, f"python -m sandbox.sync ({kind})")


def token_substitution(token: Path) -> Substitution:
    """The pod's service-account token file, where the plan mounts one."""
    return substitution("service-account token", f"{TOKEN_PATH}/token", str(token))


def unmounted_token(planned: PlannedTriton) -> PlannedTritonFailed | None:
    """Review J2 in the sandbox: a copy step that signs in with the pod's service-account
    token, in a pod that does not mount it, cannot sign in (None: it can, or needs none)."""
    if planned.copy is None or not planned.copy.token_auth or planned.token_mounted:
        return None
    return PlannedTritonFailed(
        f"{planned.stack}: the copy step signs in with the pod's service-account token "
        f"({TOKEN_PATH}/token), and the plan does not mount it (automountServiceAccountToken "
        f"false; {planned.source}): the copy cannot sign in and Triton never gets its models",
        fix="set automountServiceAccountToken: true on the pod template of the Deployment "
        "(exitplan policy check: copy-token-mounted)",
    )


def flag_value(args: tuple[str, ...] | list[str], flag: str) -> str | None:
    """The value of `--flag=value` in args (the last one), or None."""
    found = None
    for arg in args:
        if arg.startswith(f"{flag}="):
            found = arg.split("=", 1)[1]
    return found


def sandbox_command(
    planned: PlannedTriton,
    *,
    binary: Path,
    backends: Path,
    ports: Ports,
    repository: str,
    env: Mapping[str, str],
) -> SandboxCommand:
    """The sandbox's command line for `planned`: every planned argument in its order, the
    substitutions applied (binary, ports, listen addresses, backend directory, the
    repository's endpoint or local folder: `repository`), `$(VAR)` expanded from `env` as the
    kubelet does. A planned argument that names an unset variable is refused."""
    if not planned.args or planned.args[0] != "tritonserver":
        raise SandboxError(
            f"{planned.stack}: the planned container does not run tritonserver "
            f"(args {list(planned.args)[:2]})",
            fix=f"check the Deployment planned at {planned.source}",
        )
    subs = [substitution("binary", "tritonserver", str(binary))]
    argv = [str(binary)]
    for arg in planned.args[1:]:
        flag = arg.split("=", 1)[0]
        if flag in PORT_FLAGS:
            value = f"{flag}={ports.of(flag)}"
            subs.append(substitution(flag, arg, value))
        elif flag == REPOSITORY_FLAG:
            value = f"{flag}={repository}"
            kind = repository_kind(planned.repository)
            if value != arg or kind == "gs://":
                subs.append(substitution(f"{flag} {kind}", arg, value))
        elif flag in ADDED_FLAGS:
            continue  # replaced below
        else:
            value = expand(arg, env, planned)
            if value != arg:
                subs.append(substitution("$(VAR)", arg, _masked(arg)))
        argv.append(value)
    for flag in ADDRESS_FLAGS:
        argv.append(f"{flag}={LOOPBACK}")
        subs.append(substitution(flag, flag_value(planned.args, flag) or "(unset)", LOOPBACK))
    argv.append(f"{BACKEND_FLAG}={backends}")
    subs.append(substitution(BACKEND_FLAG, "(unset)", str(backends)))
    return SandboxCommand(tuple(argv), {}, tuple(subs))


PREVIEW_PORTS = Ports("<free port>", "<free port>", "<free port>")
PREVIEW_REPOSITORY = {
    "s3://": "s3://http://127.0.0.1:<moto port>/{path}",
    "gs://": "gs://{path}",
    "local": "<sandbox>/stacks/{stack}/models",
}


def preview_repository(planned: PlannedTriton) -> str:
    """The `--model-repository` value a start of the stack would get, ports as placeholders."""
    kind = repository_kind(planned.repository)
    path = planned.repository.split("://", 1)[-1]
    form = PREVIEW_REPOSITORY.get(kind)
    if form is None:
        raise SandboxError(
            f"{planned.stack}: Triton reads {planned.repository} itself and no sandbox "
            f"emulator that Triton's {kind} client can reach serves it",
            fix="plan a copy step for this store, or leave the stack out (--stacks)",
        )
    return form.format(path=path, stack=planned.stack)


def repository_kind(repository: str) -> str:
    """`s3://`, `gs://`, `as://` or `local` for a `--model-repository` value."""
    return repository.split("://", 1)[0] + "://" if "://" in repository else "local"


def expand(arg: str, env: Mapping[str, str], planned: PlannedTriton) -> str:
    """`$(VAR)` replaced by env[VAR], as the kubelet expands args; an unset variable is an
    error (the kubelet would leave it literal and Triton would take the literal text)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise SandboxError(
                f"{planned.stack}: the planned argument {arg!r} names $({name}), which the "
                "planned container's env does not set",
                fix=f"set {name} in the container's env ({planned.source})",
            )
        return env[name]

    return VARIABLE.sub(value, arg)


def _masked(arg: str) -> str:
    return VARIABLE.sub("<value>", arg)


# What Triton's log says when it refuses a planned argument, and when its store client is
# refused (GCS's JSON error names the permission; S3's HeadBucket 403 has no body, core
# src/filesystem/implementations/s3.h "Unable to create S3 filesystem client").
REJECTED_ARGUMENT = re.compile(
    r"(?:[Uu]nrecognized option|invalid argument|[Uu]nknown option)[^\n]*"
)
DENIED_PERMISSION = re.compile(
    r"[Pp]ermission '([a-zA-Z.]+)' denied|does not have ([a-z.]+) access"
)
STORE_REFUSED = re.compile(
    r"Unable to create S3 filesystem client[^\n]*|[^\n]*(?:AccessDenied|403|Forbidden)[^\n]*"
)


def planned_failure(planned: PlannedTriton, cause: str) -> PlannedTritonFailed:
    """Why the stack's planned Triton did not get ready, naming the stack, the planned
    argument Triton rejected or the permission its store client was refused, the file:line
    that plans the Deployment, and the fix."""
    where = f"planned at {planned.source}" if planned.source else "as planned"
    principal = planned.identity.get("principal", "its identity")
    if found := REJECTED_ARGUMENT.search(cause):
        argument = next((a for a in planned.args[1:] if a.split("=", 1)[0] in found.group(0)), "")
        return PlannedTritonFailed(
            f"{planned.stack}: Triton rejects the planned argument {argument or found.group(0)!r}"
            f" ({where})\n{cause}",
            fix="remove or correct that argument in the Deployment's args",
        )
    if found := DENIED_PERMISSION.search(cause):
        permission = found.group(1) or found.group(2)
        return PlannedTritonFailed(
            f"{planned.stack}: Triton's store client is refused {permission} on "
            f"{planned.store_uri}: the planned identity {principal} does not hold it "
            f"(grants: {dict(planned.grants)}; {where})\n{cause}",
            fix=f"grant {principal} a role with {permission} on the store",
        )
    if found := STORE_REFUSED.search(cause):
        return PlannedTritonFailed(
            f"{planned.stack}: Triton cannot read {planned.store_uri} with the planned "
            f"identity {principal} ({found.group(0).strip()}; grants: {dict(planned.grants)}; "
            f"{where})\n{cause}",
            fix="grant the identity what Triton's store client needs (list and read the "
            "bucket); exitplan policy check names the missing permission",
        )
    return PlannedTritonFailed(
        f"{planned.stack}: Triton, run as planned ({where}), did not get ready\n{cause}",
        fix="read the log above; exitplan sandbox explain shows the command line",
    )
