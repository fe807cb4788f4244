"""`LiveTarget`: the `Target` of real deployed stacks, built from their stack outputs.

It reads and shifts the Route 53 weights `components/providers/aws/dns.py` declares, probes
each stack's Triton readiness, and revokes or rotates an IAM user's keys. What it cannot do
live raises `LiveTargetError` with the reason and what to do instead. Every call is appended,
with its time, to `log` (for the drill's journal)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from sandbox.aws import Credentials
from sandbox.errors import SandboxError
from sandbox.triton import READY_PATH

GAPS: dict[str, str] = {
    "azure": "weights through Azure Traffic Manager are not supported by the live target yet",
    "gcp": "weights through Cloud DNS are not supported by the live target yet",
}
WORKLOAD_IDENTITIES = ("irsa", "azure-workload-identity", "gke-workload-identity")
KEYED_IDENTITY = "iam-user"
PROCESS_FAULTS = (
    "process faults are rehearsed on the sandbox; on live stacks use the chaos experiments' "
    "Kubernetes actions (the live target has no process access to the Triton pods of a "
    "managed cluster)"
)
OUTPUT_KEYS = ("provider", "endpoint", "identity", "model_repository_uri")


class LiveTargetError(SandboxError):
    """What the live target does not support, or a live call that failed; and the fix."""

    def __init__(self, cause: str, *, fix: str = "") -> None:
        super().__init__(cause, fix=fix)
        self.args = (f"live target: {cause}" + (f"\n  fix: {fix}" if fix else ""),)


@dataclass(frozen=True)
class LiveStack:
    """One deployed stack, as its stack outputs describe it."""

    name: str
    provider: str
    endpoint: str
    identity: dict[str, str]
    model_repository_uri: str
    model_digest: str | None = None

    @classmethod
    def from_output(cls, name: str, output: Mapping[str, Any]) -> LiveStack:
        """From `pulumi stack output --json` of the stack."""
        missing = [key for key in OUTPUT_KEYS if key not in output]
        if missing or not isinstance(output["identity"], Mapping):
            raise LiveTargetError(
                f"stack {name}'s outputs lack {', '.join(missing) or 'an identity object'}",
                fix=f"pulumi up -s {name}, then pulumi stack output --json -s {name}",
            )
        identity = {str(k): str(v) for k, v in output["identity"].items()}
        digest = str(output.get("model_digest") or "") or None
        return cls(name, str(output["provider"]), str(output["endpoint"]), identity,
                   str(output["model_repository_uri"]), digest)  # fmt: skip


def stack_outputs(
    project_root: Path, stack: str, *, runner: Callable[[list[str]], str] | None = None
) -> dict[str, Any]:
    """`pulumi stack output --json -s STACK --show-secrets=false`, run in `project_root`."""

    def run(command: list[str]) -> str:
        kwargs: dict[str, Any] = {"capture_output": True, "text": True, "check": True}
        return subprocess.run(command, cwd=project_root, timeout=120, **kwargs).stdout

    command = ["pulumi", "stack", "output", "--json", "-s", stack, "--show-secrets=false"]
    try:
        text = (runner or run)(command)
    except FileNotFoundError as exc:
        raise LiveTargetError(
            "the pulumi binary was not found: the live target reads the stacks' outputs with it",
            fix="install the Pulumi CLI and log in; the sandbox target needs none",
        ) from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise LiveTargetError(
            f"`{' '.join(command)}` failed: {exc} {str(exc.stderr or '')[-500:]}",
            fix=f"pulumi login, and check that stack {stack} exists (pulumi stack ls)",
        ) from exc
    try:
        outputs = json.loads(text)
    except ValueError as exc:
        raise LiveTargetError(f"the outputs of stack {stack} are not JSON: {exc}") from exc
    if not isinstance(outputs, dict):
        raise LiveTargetError(f"the outputs of stack {stack} are not a JSON object")
    return outputs


def _name(value: str) -> str:
    return value.rstrip(".").lower()


class LiveTarget:
    """Deployed stacks behind a Route 53 name, as a `Target`."""

    def __init__(
        self,
        stacks: Sequence[LiveStack],
        *,
        dns_provider: str,
        dns_name: str,
        zone_id: str,
        route53: Any,
        iam: Any,
        http_timeout_s: float = 2.0,
        key_sink: Callable[[str, Credentials], None] | None = None,
    ) -> None:
        """`route53`/`iam`: boto3 clients. `key_sink(stack, key)` receives a rotated key (say,
        to put it in the secret store the stack reads); the key is never printed or logged."""
        _check_provider(dns_provider)
        self._stacks = {stack.name: stack for stack in stacks}
        self.dns_name = _name(dns_name)
        self.zone_id = zone_id.rsplit("/", 1)[-1]
        self.route53, self.iam = route53, iam
        self.http_timeout_s = http_timeout_s
        self.key_sink = key_sink
        self.log: list[dict[str, Any]] = []

    @classmethod
    def from_outputs(
        cls,
        outputs: Mapping[str, Mapping[str, Any]],
        traffic: Mapping[str, Any],
        *,
        session: Any | None = None,
    ) -> LiveTarget:
        """From each stack's outputs and the router config (`exitplan:traffic`, plus the
        service's `dns_name` or the router stack's `traffic.public_name` output). The Route 53
        zone is found by name unless `traffic` names its `zone_id`. `session`: a boto3 Session
        (default: the default credential chain)."""
        provider = str(traffic.get("dns_provider", ""))
        _check_provider(provider)
        routed = [s for s in traffic.get("weights", {}) if s not in outputs]
        if routed:
            raise LiveTargetError(
                f"no outputs for the routed stacks {routed}",
                fix="pass `pulumi stack output --json -s STACK` of every stack the router weighs",
            )
        published = [o["traffic"].get("public_name") for o in outputs.values() if o.get("traffic")]
        dns_name = traffic.get("dns_name") or next((p for p in published if p), None)
        if not dns_name:
            raise LiveTargetError("the router config names no dns_name and no stack publishes one")
        stacks = [LiveStack.from_output(name, output) for name, output in outputs.items()]
        if session is None:
            import boto3

            session = boto3.Session()
        route53, iam = session.client("route53"), session.client("iam")
        zone_id = traffic.get("zone_id") or _zone_id(route53, str(traffic.get("zone", "")))
        return cls(stacks, dns_provider=provider, dns_name=str(dns_name), zone_id=str(zone_id),
                   route53=route53, iam=iam)  # fmt: skip

    def _log(self, action: str, stack: str | None = None, **details: Any) -> None:
        self.log.append({"time": time.time(), "action": action, "stack": stack, **details})

    def _refuse(self, action: str, stack: str | None, cause: str, fix: str = "") -> NoReturn:
        self._log(action, stack, refused=cause)
        raise LiveTargetError(cause, fix=fix)

    def _stack(self, action: str, stack: str) -> LiveStack:
        if stack not in self._stacks:
            self._refuse(action, stack, f"no stack {stack!r}", f"use one of {self.stacks()}")
        return self._stacks[stack]

    def stacks(self) -> list[str]:
        """The stacks whose outputs were given."""
        return list(self._stacks)

    def endpoint(self) -> str:
        """`http://<dns_name>`, with the stacks' port when they agree on one (Triton's 8000)."""
        ports = {urlparse(s.endpoint).port for s in self._stacks.values() if s.endpoint}
        port = ports.pop() if len(ports) == 1 else None
        return f"http://{self.dns_name}" + (f":{port}" if port else "")

    def health(self, stack: str) -> bool:
        """Whether GET <endpoint>/v2/health/ready answers 200 within the timeout."""
        url = self._stack("health", stack).endpoint.rstrip("/")
        try:
            with urllib.request.urlopen(url + READY_PATH, timeout=self.http_timeout_s) as reply:
                ready = int(reply.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            ready = False
        self._log("health", stack, ready=ready)
        return ready

    def store_uri(self, stack: str) -> str:
        """The stack's `model_repository_uri` output."""
        return self._stack("store_uri", stack).model_repository_uri

    def model_digest(self, stack: str) -> str:
        """The stack's `model_digest` output; live model files are not readable from here."""
        digest = self._stack("model_digest", stack).model_digest
        if digest is None:
            self._refuse("model_digest", stack, f"stack {stack} exports no model_digest output "
                         "and the live target cannot read the file its Triton serves",
                         "compare the stacks' spec digests with `exitplan parity`")  # fmt: skip
        self._log("model_digest", stack)
        return digest

    def _aws(self, what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return call(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            self._log("aws-error", failed=what, error=str(exc))
            raise LiveTargetError(f"{what} failed: {exc}") from exc

    def _records(self, name: str) -> Iterator[dict[str, Any]]:
        """The weighted CNAME records named `name`, following Route 53's pages."""
        start: dict[str, str] = {"StartRecordName": name, "StartRecordType": "CNAME"}
        seen: set[tuple[str, ...]] = set()
        while True:
            page = self._aws(f"listing the records of zone {self.zone_id}",
                             self.route53.list_resource_record_sets,
                             HostedZoneId=self.zone_id, MaxItems="300", **start)  # fmt: skip
            for record in page["ResourceRecordSets"]:
                key = (record["Name"], record["Type"], record.get("SetIdentifier", ""))
                if key not in seen and _name(record["Name"]) == name and "Weight" in record:
                    seen.add(key)
                    yield record
            names = [_name(r["Name"]) for r in page["ResourceRecordSets"]]
            if not page.get("IsTruncated") or (names and names[-1] != name):
                return
            following = {"StartRecordName": page["NextRecordName"],
                         "StartRecordType": page["NextRecordType"]}  # fmt: skip
            if "NextRecordIdentifier" in page:
                following["StartRecordIdentifier"] = page["NextRecordIdentifier"]
            if following == start:  # a server that ignores the identifier: no progress
                return
            start = following

    def _weighted(self) -> list[dict[str, Any]]:
        """`weighted.<dns_name>`'s records (under failover), else `<dns_name>`'s."""
        found = list(self._records(f"weighted.{self.dns_name}"))
        return found or list(self._records(self.dns_name))

    def weights(self) -> dict[str, int]:
        """Set identifier (= stack) -> weight of the name's weighted records."""
        weights = {str(r["SetIdentifier"]): int(r["Weight"]) for r in self._weighted()}
        self._log("weights", weights=weights)
        return weights

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """UPSERT the given stacks' weighted records in one change batch, keeping each
        record's targets, TTL and health check. The resulting weights must sum to 100."""
        records = {str(r["SetIdentifier"]): r for r in self._weighted()}
        unknown = sorted(set(weights) - set(records))
        bad = {s: w for s, w in weights.items() if type(w) is not int or not 0 <= w <= 100}
        result = {s: int(r["Weight"]) for s, r in records.items()} | dict(weights)
        if unknown:
            self._refuse("set_weights", None, f"no weighted record for {unknown} under "
                         f"{self.dns_name}", f"use the stacks {sorted(records)}")  # fmt: skip
        if bad or sum(result.values()) != 100:
            self._refuse("set_weights", None, f"weights must be integers 0-100 summing to 100, "
                         f"got {result}", "give every stack's weight")  # fmt: skip
        changes = [
            {"Action": "UPSERT", "ResourceRecordSet": {**records[stack], "Weight": weight}}
            for stack, weight in weights.items()
        ]
        self._aws(f"changing the weights under {self.dns_name}",
                  self.route53.change_resource_record_sets, HostedZoneId=self.zone_id,
                  ChangeBatch={"Comment": "exitplan live target", "Changes": changes})  # fmt: skip
        self._log("set_weights", weights=dict(weights))

    def in_rotation(self, stack: str) -> bool:
        """Whether Route 53 answers with the stack: its weighted record has no health check,
        or most of the health checkers report success."""
        record = next((r for r in self._weighted() if r["SetIdentifier"] == stack), None)
        if record is None:
            self._refuse("in_rotation", stack, f"no weighted record for {stack} under "
                         f"{self.dns_name}", f"use the stacks {self.stacks()}")  # fmt: skip
        check = record.get("HealthCheckId")
        if not check:
            return True
        status = self._aws(f"reading health check {check}",
                           self.route53.get_health_check_status, HealthCheckId=check)  # fmt: skip
        reports = [o["StatusReport"]["Status"] for o in status["HealthCheckObservations"]]
        healthy = sum(r.startswith("Success") for r in reports) * 2 > len(reports)
        self._log("in_rotation", stack, healthy=healthy)
        return healthy

    def kill(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._refuse("kill", stack, PROCESS_FAULTS)

    def restart(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._refuse("restart", stack, PROCESS_FAULTS)

    def hang(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._refuse("hang", stack, PROCESS_FAULTS)

    def resume(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._refuse("resume", stack, PROCESS_FAULTS)

    def _user(self, action: str, stack: str) -> str:
        identity = self._stack(action, stack).identity
        kind, principal = identity.get("kind", ""), identity.get("principal", "")
        if kind in WORKLOAD_IDENTITIES:
            cause = f"stack {stack}'s identity is a {kind} workload identity ({principal}): "
            cause += "it has no keys to revoke or rotate"
            self._refuse(action, stack, cause, "revoke the role's trust or the identity binding")
        if kind != KEYED_IDENTITY or not principal:
            self._refuse(action, stack, f"stack {stack}'s identity kind {kind!r} is unknown")
        return principal

    def _key_ids(self, user: str) -> list[str]:
        listed = self._aws(f"listing the keys of {user}", self.iam.list_access_keys, UserName=user)
        ordered = sorted(listed["AccessKeyMetadata"], key=lambda k: str(k.get("CreateDate", "")))
        return [str(k["AccessKeyId"]) for k in ordered]

    def _delete(self, user: str, key_ids: Sequence[str]) -> None:
        for key_id in key_ids:
            self._aws(f"deleting key {key_id} of {user}", self.iam.delete_access_key,
                      UserName=user, AccessKeyId=key_id)  # fmt: skip

    def revoke_credentials(self, stack: str) -> None:
        """Delete every access key of the stack's IAM user."""
        user = self._user("revoke_credentials", stack)
        deleted = self._key_ids(user)
        self._delete(user, deleted)
        self._log("revoke_credentials", stack, deleted=deleted)

    def rotate_credentials(self, stack: str) -> None:
        """A new key to `key_sink`, then the old keys deleted (a revoked key stays deleted).
        IAM allows two keys a user: with two, the oldest is deleted first to make room."""
        user = self._user("rotate_credentials", stack)
        if self.key_sink is None:
            cause = "no key_sink: the new key would be lost (it is never printed or logged)"
            self._refuse("rotate_credentials", stack, cause, "pass key_sink to LiveTarget")
        old = self._key_ids(user)
        self._delete(user, old[: max(0, len(old) - 1)])
        key = self._aws(f"creating a key for {user}", self.iam.create_access_key, UserName=user)
        self.key_sink(stack, Credentials(key["AccessKey"]["AccessKeyId"],
                                         key["AccessKey"]["SecretAccessKey"]))  # fmt: skip
        self._delete(user, old[-1:])
        self._log("rotate_credentials", stack, deleted=old)

    def redeploy(self, stack: str) -> None:
        """Refused: a live redeploy is `pulumi up` or a rollout restart."""
        self._refuse("redeploy", stack, "redeploy on live stacks is `pulumi up` / a rollout "
                     "restart; not automated here", f"pulumi up -s {stack}, or kubectl rollout "
                     "restart the Triton deployment")  # fmt: skip


def live_target_for(
    project_root: Path, stacks: Sequence[str] = (), router: str | None = None
) -> LiveTarget:
    """The `LiveTarget` behind one router stack (its `exitplan:traffic`): `router` when named,
    else the only router whose weights route every stack in `stacks`; each routed stack's
    outputs from `pulumi stack output`."""
    from components.stack_config import Project

    project = Project(project_root)
    routers = [project.stack(n) for n in project.stack_names() if project.stack(n).traffic]
    fitting = [
        r for r in routers
        if r.traffic and set(stacks) <= set(r.traffic.stacks) and router in (None, r.name)
    ]  # fmt: skip
    if len(fitting) != 1:
        wanted = f"router {router!r}" if router else f"a router for {', '.join(stacks) or 'all'}"
        names = ", ".join(r.name for r in routers) or "none"
        raise LiveTargetError(
            f"{'no' if not fitting else 'more than one'} stack matches {wanted} "
            f"(stacks with exitplan:traffic: {names})",
            fix="name the router stack (exitplan_router in an experiment's configuration), or "
            "add the stacks to its exitplan:traffic.weights",
        )
    chosen = fitting[0]
    assert chosen.traffic is not None
    traffic = {**chosen.config["exitplan:traffic"], "dns_name": chosen.spec.dns_name}
    outputs = {name: stack_outputs(project_root, name) for name in chosen.traffic.stacks}
    return LiveTarget.from_outputs(outputs, traffic)


def _zone_id(route53: Any, zone: str) -> str:
    """The id of the public hosted zone named `zone`."""
    try:
        found = route53.list_hosted_zones_by_name(DNSName=zone, MaxItems="10")["HostedZones"]
    except (ClientError, BotoCoreError) as exc:
        raise LiveTargetError(f"looking up hosted zone {zone} failed: {exc}") from exc
    public = [
        z for z in found
        if _name(z["Name"]) == _name(zone) and not z.get("Config", {}).get("PrivateZone")
    ]  # fmt: skip
    if not public:
        raise LiveTargetError(f"no public Route 53 hosted zone {zone!r}", fix="check traffic.zone")
    return str(public[0]["Id"]).rsplit("/", 1)[-1]


def _check_provider(provider: str) -> None:
    if provider in GAPS:
        raise LiveTargetError(GAPS[provider], fix="shift the weights in that provider's console")
    if provider != "aws":
        raise LiveTargetError(f"unknown DNS provider {provider!r}: expected aws, azure or gcp")
