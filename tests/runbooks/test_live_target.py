"""The live target against a real moto_server over HTTP: Route 53 weights read and UPSERTed
(the AWS router adapter) and waited on until INSYNC (a botocore Stubber answers PENDING first:
moto answers INSYNC at once), an IRSA role's sessions revoked by a deny policy and restored, an
IAM user's key (only the stack's) revoked and rotated through Secrets Manager with STS checks
(moto with IAM auth on), readiness probed over HTTP, stack outputs read through the typed
contract, what the live target cannot do stated as data with its reason (and refused when
called anyway), and `exitplan drill rollback` of a live journal, also after a SIGKILL mid-drill,
rebuilding the live target. No Pulumi CLI and no cloud are needed."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from components.catalog.clouds import clouds, facts
from components.errors import InputError
from components.outputs import IdentityOutput, StackOutputs, parse_outputs
from components.stack_config import Project
from runbooks.cli import app
from runbooks.drills.exit_options import ExitPlanOptions
from runbooks.drills.exit_preflight import needs, revoke_gap
from runbooks.drills.restore import restore
from runbooks.errors import LiveTargetError, RunbookError, UnsupportedOperation
from runbooks.reports.journal import Journal
from runbooks.targets.live import credentials, from_outputs, router_clouds
from runbooks.targets.live.aws import RoleSessions, Route53Router, UserKey
from runbooks.targets.live.aws.iam import REVOKE_POLICY, revoke_policy, vault_secret
from runbooks.targets.live.target import (
    PROCESS_FAULTS,
    REDEPLOY,
    REVOCATION_GAP,
    UNSUPPORTED,
    LiveTarget,
    Propagation,
    stack_outputs,
)
from runbooks.targets.target import Need, require
from sandbox.aws import AwsControlPlane, Credentials
from sandbox.processes import free_port, pid_alive
from tests.conftest import copied_project

ZONE = "fraud.test"
DNS_NAME = f"score.{ZONE}"
# As components/providers/aws/dns.py declares them: the NLB by an alias A record (its region's
# ELB zone), an IP endpoint by an A record health-checked by IP address.
TARGETS = {
    "aws-primary": "k8s-triton-0123.elb.us-east-1.amazonaws.com",
    "gcp-standby": "198.51.100.7",
}
NLB_ZONE_US_EAST_1 = "Z26RNL4JYFTOTI"
IRSA = {"kind": facts("aws").identity_kind, "principal": "arn:aws:iam::1:role/triton"}
GKE = {"kind": facts("gcp").identity_kind, "principal": "triton@p.iam"}


def _outputs(name: str, provider: str, identity: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A stack's `pulumi stack output --json` as the contract (`components.outputs`) types it."""
    return {
        "provider": provider,
        "region": "us-east-1",
        "role": "primary",
        "cluster_name": name,
        "kubeconfig": "[secret]",
        "endpoint": f"http://{name}.example.net:8000",
        "endpoint_kind": "hostname",
        "model_repository_uri": f"s3://{name}-models",
        "models": [{"name": "fraud-scorer", "version": 3, "digest": None}],
        "gpu_instance_type": "g4dn.xlarge",
        "gpu_model": "T4",
        "max_gpus": 4,
        "identity": identity,
        "triton_version": "2.61.0",
        "parity": {},
        **extra,
    }


def _stack(name: str, identity: dict[str, str], endpoint: str = "") -> StackOutputs:
    output = _outputs(name, "aws", identity)
    if endpoint:
        output["endpoint"] = endpoint
    return parse_outputs(name, output)


STACKS = {
    "aws-primary": _stack("aws-primary", IRSA),
    "gcp-standby": _stack("gcp-standby", GKE),
}


@dataclass
class NoRouter:
    """A router never asked (tests of what needs none)."""

    def weights(self) -> dict[str, int]:
        raise AssertionError("no router call expected")

    def set_weights(self, weights: Any, notify: Any) -> Propagation:
        raise AssertionError("no router call expected")

    def in_rotation(self, stack: str) -> bool:
        raise AssertionError("no router call expected")


def _target(
    plane: AwsControlPlane,
    *,
    dns_name: str = DNS_NAME,
    zone_id: str = "none",
    heard: list[str] | None = None,
) -> LiveTarget:
    router = Route53Router(plane.client("route53"), zone_id, dns_name)
    notify = (heard if heard is not None else []).append
    return LiveTarget(STACKS, router, dns_name=dns_name, notify=notify)


def _start(workdir: Path) -> AwsControlPlane:
    plane = AwsControlPlane(workdir, free_port())
    plane.start()
    try:
        plane.bootstrap_admin()
    except BaseException:
        plane.stop()
        raise
    return plane


@pytest.fixture(scope="module")
def dns_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsControlPlane]:
    """IAM auth OFF: moto 5.2 refuses every Route 53 GET (ListResourceRecordSets,
    ListHostedZonesByName) under auth even with a valid key (pinned in tests/sandbox/test_aws.py
    as test_moto_fact_route53_get_calls_fail_under_auth_while_posts_work)."""
    plane = _start(tmp_path_factory.mktemp("aws-dns"))
    yield plane
    pid = plane.pid
    plane.stop()
    assert pid is None or not pid_alive(pid), f"moto_server (pid {pid}) still runs"


def _weighted(name: str, stack: str, weight: int, health_check: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"Name": name, "Type": "A", "SetIdentifier": stack, "Weight": weight}
    if stack == "aws-primary":
        record["AliasTarget"] = {
            "HostedZoneId": NLB_ZONE_US_EAST_1,
            "DNSName": TARGETS[stack],
            "EvaluateTargetHealth": True,
        }
    else:
        record |= {"TTL": 60, "ResourceRecords": [{"Value": TARGETS[stack]}]}
    if health_check:
        record["HealthCheckId"] = health_check
    return {"Action": "CREATE", "ResourceRecordSet": record}


def _zone(
    plane: AwsControlPlane, zone: str, *, failover: bool, weights: dict[str, int] | None = None
) -> str:
    """A hosted zone with the router's records as components/providers/aws/dns.py declares
    them: health checks, weighted A records (100/0) and, with failover, the failover pair."""
    r53 = plane.client("route53")
    created = r53.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)
    zone_id = str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    checks = {
        stack: r53.create_health_check(
            CallerReference=uuid.uuid4().hex,
            HealthCheckConfig={
                "Type": "HTTP",
                **({"FullyQualifiedDomainName": host} if stack == "aws-primary" else {}),
                **({"IPAddress": host} if stack != "aws-primary" else {}),
                "Port": 8000,
                "ResourcePath": "/v2/health/ready",
            },
        )["HealthCheck"]["Id"]
        for stack, host in TARGETS.items()
    }
    dns_name = f"score.{zone}"
    name = f"weighted.{dns_name}" if failover else dns_name
    weights = weights or {"aws-primary": 100, "gcp-standby": 0}
    changes = [
        _weighted(name, stack, weight, checks.get(stack) if stack == "aws-primary" else None)
        for stack, weight in weights.items()
    ]  # the health check id is optional: the standby's record has none
    if failover:
        alias = {"HostedZoneId": zone_id, "DNSName": name, "EvaluateTargetHealth": True}
        primary = {"Name": dns_name, "Type": "A", "SetIdentifier": "primary",
                   "Failover": "PRIMARY", "AliasTarget": alias}  # fmt: skip
        secondary = {"Name": dns_name, "Type": "A", "SetIdentifier": "secondary",
                     "Failover": "SECONDARY", "TTL": 60, "HealthCheckId": checks["gcp-standby"],
                     "ResourceRecords": [{"Value": TARGETS["gcp-standby"]}]}  # fmt: skip
        changes += [{"Action": "CREATE", "ResourceRecordSet": r} for r in (primary, secondary)]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id


def _records(plane: AwsControlPlane, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    listed = plane.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    return {
        (r["Name"], r.get("SetIdentifier", "")): r
        for r in listed["ResourceRecordSets"]
        if r["Type"] == "A"
    }


def test_weights_reads_the_weighted_records_under_failover(dns_plane: AwsControlPlane) -> None:
    zone_id = _zone(dns_plane, "one.test", failover=True)
    target = _target(dns_plane, dns_name="score.one.test", zone_id=zone_id)
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.log[-1]["action"] == "weights"


def test_set_weights_upserts_and_keeps_targets_ttl_and_health_checks(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "two.test", failover=True)
    before = _records(dns_plane, zone_id)
    full_id = f"/hostedzone/{zone_id}"  # Route 53's long form, and a name with its dot
    heard: list[str] = []
    target = _target(dns_plane, dns_name="score.two.test.", zone_id=full_id, heard=heard)
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
    assert target.propagation is not None and target.propagation.ttl_s == 60  # moto: INSYNC
    assert heard[-1].endswith("resolvers may answer with the old ones for up to 60 s more (TTL)")
    assert target.weights() == {"aws-primary": 50, "gcp-standby": 50}
    after = _records(dns_plane, zone_id)
    assert set(after) == set(before)  # nothing added or removed; failover pair untouched
    for key, record in before.items():
        if "Weight" in record:
            assert after[key] == record | {"Weight": 50}
        else:
            assert after[key] == record
    assert before[("weighted.score.two.test.", "aws-primary")]["HealthCheckId"]
    target.set_weights({"aws-primary": 100, "gcp-standby": 0})
    assert _records(dns_plane, zone_id) == before
    assert [e["weights"] for e in target.log if e["action"] == "set_weights"] == [
        {"aws-primary": 50, "gcp-standby": 50},
        {"aws-primary": 100, "gcp-standby": 0},
    ]


def test_in_rotation_reads_route53_health_check_status(dns_plane: AwsControlPlane) -> None:
    """moto reports every health check healthy (a known, static moto gap): this pins that the
    status is read through GetHealthCheckStatus for a record with a check, that a record without
    one counts as in rotation, and that an unknown stack is refused."""
    zone_id = _zone(dns_plane, "rotation.test", failover=True)
    target = _target(dns_plane, dns_name="score.rotation.test", zone_id=zone_id)
    assert target.in_rotation("aws-primary") is True
    assert target.in_rotation("gcp-standby") is True  # no health check on its record
    assert [(e["stack"], e["healthy"]) for e in target.log] == [
        ("aws-primary", True),
        ("gcp-standby", True),
    ]
    with pytest.raises(LiveTargetError, match="no weighted record for azure-standby"):
        target.in_rotation("azure-standby")
    assert "refused" in target.log[-1]


def test_a_partial_weights_map_is_checked_against_the_others(dns_plane: AwsControlPlane) -> None:
    zone_id = _zone(dns_plane, "three.test", failover=True)
    target = _target(dns_plane, dns_name="score.three.test", zone_id=zone_id)
    with pytest.raises(LiveTargetError, match="summing to 100"):
        target.set_weights({"gcp-standby": 10})  # aws-primary stays 100: 110
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"aws-primary": 60, "gcp-standby": 60}, "summing to 100"),
        ({"aws-primary": 90, "gcp-standby": 0}, "summing to 100"),
        ({"aws-primary": 110, "gcp-standby": -10}, "integers 0-100"),
        ({"aws-primary": 50, "azure-standby": 50}, r"no weighted record for \['azure-standby'\]"),
    ],
)
def test_bad_weights_raise_and_change_nothing(
    dns_plane: AwsControlPlane, weights: dict[str, int], match: str
) -> None:
    zone = f"bad-{uuid.uuid4().hex[:6]}.test"
    zone_id = _zone(dns_plane, zone, failover=True)
    target = _target(dns_plane, dns_name=f"score.{zone}", zone_id=zone_id)
    with pytest.raises(LiveTargetError, match=match) as raised:
        target.set_weights(weights)
    assert isinstance(raised.value, RunbookError) and raised.value.exit_code == 2
    assert str(raised.value).startswith("live target: ")
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.log[-2]["action"] == "set_weights" and "refused" in target.log[-2]


def test_without_failover_the_weighted_records_are_on_the_name(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "four.test", failover=False)
    target = _target(dns_plane, dns_name="score.four.test", zone_id=zone_id)
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    target.set_weights({"aws-primary": 0, "gcp-standby": 100})
    assert target.weights() == {"aws-primary": 0, "gcp-standby": 100}
    # Each record keeps its target: the NLB's alias, the standby's IP.
    records = {k[1]: r for k, r in _records(dns_plane, zone_id).items()}
    assert records["aws-primary"]["AliasTarget"]["DNSName"].rstrip(".") == TARGETS["aws-primary"]
    assert records["gcp-standby"]["ResourceRecords"] == [{"Value": TARGETS["gcp-standby"]}]


@dataclass
class FakeSession:
    """Stands in for boto3.Session: hands out the control plane's clients."""

    plane: AwsControlPlane
    asked: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    region_name: str = "us-east-1"

    def client(self, service: str, **options: Any) -> Any:
        """The admin's client, or one with the key `options` name (STS checks of a key); each
        call is recorded in order as (operation, the access key it names or signs with)."""
        self.asked.append(service)
        key = None
        if "aws_access_key_id" in options:
            key = Credentials(options["aws_access_key_id"], options["aws_secret_access_key"])
        client = self.plane.client(service, key)

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            signer = key.access_key_id if key else ""
            self.calls.append((model.name, str(params.get("AccessKeyId", signer))))

        client.meta.events.register("provide-client-params", record)
        return client


def test_from_outputs_finds_the_zone_by_name_and_builds_the_stacks(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "five.test", failover=True)
    router = {
        "public_name": "score.five.test",
        "dns_provider": "aws",
        "weights": {"aws-primary": 100, "gcp-standby": 0},
        "health_checked": True,
        "ttl_s": 60,
    }
    primary = _outputs("aws-primary", "aws", IRSA, traffic=router)
    primary["models"][0]["digest"] = "sha256:abc"
    outputs = {"aws-primary": primary, "gcp-standby": _outputs("gcp-standby", "gcp", GKE)}
    traffic = {  # the router config of stacks/Pulumi.aws-primary.yaml, without dns_name
        "dns_provider": "aws",
        "zone": "five.test",
        "weights": {"aws-primary": 100, "gcp-standby": 0},
        "failover": {"primary": "aws-primary", "secondary": "gcp-standby"},
    }
    session = FakeSession(dns_plane)
    target = from_outputs(outputs, traffic, session=session)
    assert session.asked == ["route53"]
    assert isinstance(target.router, Route53Router) and target.router.zone_id == zone_id
    assert target.stacks() == ["aws-primary", "gcp-standby"]
    assert target.endpoint() == "http://score.five.test:8000"
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.model_digest("aws-primary") == "sha256:abc"  # models[0].digest
    assert "exitplan parity" in target.unsupported["model_digest:gcp-standby"]
    with pytest.raises(LiveTargetError, match="exitplan parity"):
        target.model_digest("gcp-standby")
    with pytest.raises(LiveTargetError, match="no public Route 53 hosted zone"):
        from_outputs(outputs, traffic | {"zone": "absent.test"}, session=session)
    with pytest.raises(LiveTargetError, match=r"routed stacks \['gcp-standby'\]"):
        from_outputs({"aws-primary": outputs["aws-primary"]}, traffic, session=session)


@pytest.mark.parametrize("cloud", [c for c in clouds() if c not in router_clouds()])
def test_a_router_cloud_without_an_adapter_is_a_stated_gap(cloud: str) -> None:
    traffic = {"dns_provider": cloud, "zone": ZONE, "dns_name": DNS_NAME, "weights": {}}
    with pytest.raises(LiveTargetError) as raised:
        from_outputs({}, traffic, session=object())
    message = str(raised.value)
    assert "not supported by the live target yet" in message
    assert facts(cloud).display_name in message and "aws" in message  # the adapters it has


def test_the_router_adapters_are_the_per_cloud_folders() -> None:
    folders = Path(__file__).resolve().parents[2] / "runbooks" / "targets" / "live"
    assert set(router_clouds()) == {c for c in clouds() if (folders / c).is_dir()}
    with pytest.raises(LiveTargetError, match="unknown DNS provider 'nimbus'"):
        from_outputs({}, {"dns_provider": "nimbus", "weights": {}}, session=object())


def test_from_outputs_names_the_output_that_breaks_the_contract() -> None:
    traffic = {"dns_provider": "aws", "zone": ZONE, "dns_name": DNS_NAME, "zone_id": "Z1",
               "weights": {"aws-primary": 100}}  # fmt: skip
    broken = {"aws-primary": {"provider": "aws", "endpoint": "http://x:8000"}}
    with pytest.raises(InputError, match="stack aws-primary's outputs do not match the contract"):
        from_outputs(broken, traffic, session=object())


@pytest.mark.parametrize("cloud", clouds())
def test_a_workload_identity_no_adapter_revokes_is_a_stated_gap(cloud: str) -> None:
    """Azure, GKE and OKE workload identities: revoking, rotating or inspecting the stack's
    store access is a gap stated per stack with its cloud's reason (the catalog row says what
    it would need); `from_outputs` gives the AWS identities their adapter, and a target built
    without it says so."""
    kind = facts(cloud).identity_kind
    stacks = {"s": _stack("s", {"kind": kind, "principal": "role"})}
    target = LiveTarget(stacks, NoRouter(), dns_name=DNS_NAME)
    gap = facts(cloud).lacks(REVOCATION_GAP)
    assert (gap is None) == (cloud in router_clouds())  # the clouds with an adapter revoke
    expected = gap or "built without Amazon Web Services's credential adapter"
    for operation in ("revoke_credentials", "rotate_credentials", "credential_state"):
        reason = target.unsupported[f"{operation}:s"]
        assert kind in reason and facts(cloud).display_name in reason and expected in reason
    for call in (target.revoke_credentials, target.rotate_credentials, target.credential_state):
        with pytest.raises(LiveTargetError, match=re.escape(expected[:40])):
            call("s")
    assert [e["action"] for e in target.log] == [
        "revoke_credentials",
        "rotate_credentials",
        "credential_state",
    ]
    assert all("refused" in e for e in target.log)


def test_an_unknown_identity_kind_is_named() -> None:
    stacks = {"s": _stack("s", {"kind": "ldap", "principal": "u"})}
    target = LiveTarget(stacks, NoRouter(), dns_name=DNS_NAME)
    assert (
        "identity kind 'ldap' is none the live target knows"
        in (target.unsupported["revoke_credentials:s"])
    )


def test_what_a_drill_needs_is_refused_once_listing_every_gap() -> None:
    target = LiveTarget(STACKS, NoRouter(), dns_name=DNS_NAME)
    needs = [
        Need("weights"),
        Need("kill", "aws-primary"),
        Need("revoke_credentials", "aws-primary"),
    ]
    needs += [Need("redeploy", "aws-primary"), Need("health", "aws-primary")]
    with pytest.raises(UnsupportedOperation) as raised:
        require(target, needs, "the test drill")
    message = str(raised.value)
    assert message.startswith("the test drill needs what the live target cannot do: ")
    for need in ("kill aws-primary", "revoke_credentials aws-primary", "redeploy aws-primary"):
        assert need in message
    assert "weights:" not in message and "health aws-primary" not in message
    assert target.log == []  # nothing was called


class Ready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/health/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ready_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_health_ready_closed_and_hung(ready_server: str) -> None:
    with socket.socket() as hung:  # accepts connections (backlog) but never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        stacks = {
            "up": _stack("up", IRSA, endpoint=ready_server),
            "closed": _stack("closed", IRSA, endpoint=f"http://127.0.0.1:{free_port()}"),
            "hung": _stack("hung", IRSA, endpoint=f"http://127.0.0.1:{hung.getsockname()[1]}"),
        }
        target = LiveTarget(stacks, NoRouter(), dns_name=DNS_NAME, http_timeout_s=0.3)
        assert target.health("up") is True
        assert target.health("closed") is False
        assert target.health("hung") is False
    assert [(e["stack"], e["ready"]) for e in target.log] == [
        ("up", True), ("closed", False), ("hung", False)
    ]  # fmt: skip
    with pytest.raises(LiveTargetError, match="no stack 'nope'"):
        target.health("nope")


def test_process_faults_and_redeploy_are_stated_gaps_refused_with_the_reason() -> None:
    target = LiveTarget(STACKS, NoRouter(), dns_name=DNS_NAME)
    for operation in ("kill", "restart", "hang", "resume"):
        assert target.unsupported[operation] == UNSUPPORTED[operation]
    assert target.unsupported["redeploy:aws-primary"] == REDEPLOY
    for fault in (target.kill, target.restart, target.hang, target.resume):
        with pytest.raises(LiveTargetError, match="rehearsed on the sandbox") as raised:
            fault("aws-primary")
        assert str(raised.value).endswith(PROCESS_FAULTS)
        assert "Kubernetes actions" in str(raised.value)
    with pytest.raises(LiveTargetError, match="pulumi up"):
        target.redeploy("aws-primary")
    assert [e["action"] for e in target.log] == ["kill", "restart", "hang", "resume", "redeploy"]
    assert all(e["stack"] == "aws-primary" and e["time"] > 0 for e in target.log)
    assert target.endpoint() == "http://score.fraud.test:8000"


def test_stack_outputs_runs_pulumi_through_the_runner(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def runner(command: list[str]) -> str:
        seen.append(command)
        return json.dumps(_outputs("aws-primary", "aws", IRSA))

    outputs = stack_outputs(tmp_path, "aws-primary", runner=runner)
    assert seen == [
        ["pulumi", "stack", "output", "--json", "-s", "aws-primary", "--show-secrets=false"]
    ]
    assert parse_outputs("aws-primary", outputs).identity.kind == IRSA["kind"]
    with pytest.raises(LiveTargetError, match="not JSON"):
        stack_outputs(tmp_path, "x", runner=lambda _: "warning: no stack\n")


def test_stack_outputs_without_pulumi_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi binary anywhere on PATH
    with pytest.raises(LiveTargetError) as raised:
        stack_outputs(tmp_path, "aws-primary")
    message = str(raised.value)
    assert "install the Pulumi CLI and log in; the sandbox target needs none" in message

    def failing(command: list[str]) -> str:
        raise subprocess.CalledProcessError(255, command, stderr="error: no stack named 'x'")

    with pytest.raises(LiveTargetError, match="no stack named 'x'"):
        stack_outputs(tmp_path, "x", runner=failing)


FAKE_PULUMI = """#!{python}
import sys
from pathlib import Path

stack = sys.argv[sys.argv.index("-s") + 1]
print((Path({folder!r}) / (stack + ".json")).read_text())
"""


@dataclass
class LiveProject:
    """A copy of the shipped project whose router stack's zone lives on moto, its stacks'
    outputs served by a fake `pulumi` CLI, and the AWS default chain pointed at moto."""

    project: Project
    before: dict[str, int]  # the shipped weights: all on aws-primary
    after: dict[str, int]  # all on gcp-standby
    router: Route53Router


def _live_project(
    plane: AwsControlPlane,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    weights: str,
    identities: dict[str, dict[str, str]] | None = None,
) -> LiveProject:
    """The project, with the router's records at `weights` ("before" or "after"); a stack's
    identity from `identities`, else IRSA."""
    project = copied_project(tmp_path)
    primary = project.stack("aws-primary")
    assert primary.traffic is not None
    routed = list(primary.traffic.stacks)
    before = {s: 100 if s == "aws-primary" else 0 for s in routed}
    after = {s: 100 if s == "gcp-standby" else 0 for s in routed}
    targets = {s: f"{s}.example.net" for s in routed}
    monkeypatch.setattr(sys.modules[__name__], "TARGETS", targets)
    current = before if weights == "before" else after
    zone_id = _zone(plane, primary.traffic.zone, failover=True, weights=current)
    folder = tmp_path / "outputs"
    folder.mkdir()
    for stack in routed:
        identity = (identities or {}).get(stack, IRSA)
        (folder / f"{stack}.json").write_text(json.dumps(_outputs(stack, "aws", identity)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    pulumi = bin_dir / "pulumi"
    pulumi.write_text(FAKE_PULUMI.format(python=sys.executable, folder=str(folder)))
    pulumi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}")
    monkeypatch.setenv("AWS_ENDPOINT_URL", plane.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    router = Route53Router(plane.client("route53"), zone_id, str(primary.spec.dns_name))
    return LiveProject(project, before, after, router)


def _rollback(live: LiveProject, journal: Path) -> Any:
    """`exitplan drill rollback JOURNAL` on the live project."""
    arguments = ["drill", "rollback", str(journal), "--project", str(live.project.root)]
    return CliRunner().invoke(app, arguments)


def test_rollback_of_a_live_journal_rebuilds_the_live_target(
    dns_plane: AwsControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live drill killed after its cutover: `exitplan drill rollback JOURNAL` reads the
    journal's target (live), rebuilds it through `target_for` (the stacks' outputs from the
    `pulumi` CLI, Route 53 through the default AWS credential chain, here moto) and restores
    the weights there; no sandbox is running, so acting on the sandbox would fail."""
    live = _live_project(dns_plane, tmp_path, monkeypatch, weights="after")
    project, before, after, router = live.project, live.before, live.after, live.router
    journal = Journal.new(
        tmp_path / "drill" / "journal.json",
        "aws-primary -> gcp-standby",
        {"from": "aws-primary", "to": "gcp-standby", "target": "live"},
    )
    journal.change("weights", "cutover to gcp-standby", before=before, after=after)
    assert router.weights() == after

    result = CliRunner().invoke(
        app, ["drill", "rollback", str(journal.path), "--project", str(project.root)]
    )
    assert result.exit_code == 0, result.output
    assert f"restored: weights {before}" in result.output
    assert router.weights() == before
    saved = Journal.load(journal.path)
    assert saved.exitplan["changes"][0]["restored"] is True
    assert [r["activity"]["name"] for r in saved.data["rollbacks"]] == [f"restore weights {before}"]
    again = CliRunner().invoke(
        app, ["drill", "rollback", str(journal.path), "--project", str(project.root)]
    )
    assert again.exit_code == 0 and "nothing left to restore" in again.output


class PagedRoute53:
    """Route 53's paging as AWS does it (one record a page, NextRecordIdentifier), which moto
    5.2 does not implement (it ignores StartRecordIdentifier)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records, self.calls = records, 0

    def list_resource_record_sets(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        start = (kwargs["StartRecordName"].rstrip("."), kwargs.get("StartRecordIdentifier"))
        index = next(
            i
            for i, r in enumerate(self.records)
            if r["Name"].rstrip(".") == start[0] and start[1] in (None, r.get("SetIdentifier"))
        )
        page: dict[str, Any] = {"ResourceRecordSets": self.records[index : index + 1]}
        if index + 1 < len(self.records):
            following = self.records[index + 1]
            page |= {"IsTruncated": True, "NextRecordName": following["Name"],
                     "NextRecordType": following["Type"]}  # fmt: skip
            if "SetIdentifier" in following:
                page["NextRecordIdentifier"] = following["SetIdentifier"]
        return page


def test_weights_follow_route53_pages_and_stop_past_the_name() -> None:
    name = f"weighted.{DNS_NAME}."
    records = [
        {"Name": name, "Type": "A", "SetIdentifier": s, "Weight": w, "TTL": 60}
        for s, w in (("aws-primary", 80), ("azure-standby", 0), ("gcp-standby", 20))
    ]
    records.append({"Name": f"www.{ZONE}.", "Type": "CNAME", "TTL": 60, "ResourceRecords": []})
    records.append({"Name": f"zzz.{ZONE}.", "Type": "CNAME", "TTL": 60, "ResourceRecords": []})
    route53 = PagedRoute53(records)
    target = LiveTarget(STACKS, Route53Router(route53, "Z", DNS_NAME), dns_name=DNS_NAME)
    assert target.weights() == {"aws-primary": 80, "azure-standby": 0, "gcp-standby": 20}
    assert route53.calls == 4  # three weighted pages, then a page past the name: stop


def _stubbed_route53() -> tuple[Any, Stubber]:
    """A real botocore Route 53 client answering from a Stubber (no network)."""
    client = boto3.client(
        "route53", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return client, Stubber(client)


def _listing(weights: dict[str, int]) -> dict[str, Any]:
    name = f"weighted.{DNS_NAME}."
    records = [
        {"Name": name, "Type": "A", "SetIdentifier": stack, "Weight": weight, "TTL": 60,
         "ResourceRecords": [{"Value": TARGETS[stack]}]}
        for stack, weight in weights.items()
    ]  # fmt: skip
    return {"ResourceRecordSets": records, "IsTruncated": False, "MaxItems": "300"}


def _change(status: str) -> dict[str, Any]:
    return {"ChangeInfo": {"Id": "/change/C1", "Status": status, "SubmittedAt": "2026-11-30"}}


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_weight_change_waits_until_route53_has_it_insync_and_reports_the_ttl() -> None:
    """Route 53 answers PENDING until every DNS server has the change (moto answers INSYNC at
    once, so a Stubber plays Route 53 here): set_weights polls GetChange, says it is waiting,
    returns only at INSYNC, and reports the records' TTL still to run."""
    client, stub = _stubbed_route53()
    weights = {"aws-primary": 100, "gcp-standby": 0}
    stub.add_response("list_resource_record_sets", _listing(weights))
    stub.add_response("change_resource_record_sets", _change("PENDING"))
    stub.add_response("get_change", _change("PENDING"), {"Id": "C1"})
    stub.add_response("get_change", _change("INSYNC"), {"Id": "C1"})
    clock = Clock()
    router = Route53Router(client, "Z1", DNS_NAME, poll_s=2, sleep=clock.sleep,
                           clock=lambda: clock.now)  # fmt: skip
    heard: list[str] = []
    with stub:
        target = LiveTarget(STACKS, router, dns_name=DNS_NAME, notify=heard.append)
        target.set_weights({"aws-primary": 0, "gcp-standby": 100})
        stub.assert_no_pending_responses()
    assert clock.slept == [2, 2]  # two PENDING answers, then INSYNC
    assert heard[:2] == [
        "Route 53 change C1: PENDING after 0 s (waiting for INSYNC, up to 300 s)",
        "Route 53 change C1: PENDING after 2 s (waiting for INSYNC, up to 300 s)",
    ]
    assert "after 4.0 s; resolvers may answer with the old ones for up to 60 s more" in heard[2]
    logged = target.log[-1]
    assert (logged["change_id"], logged["insync_s"], logged["ttl_s"]) == ("C1", 4.0, 60)


def test_a_change_that_stays_pending_is_refused_after_the_timeout() -> None:
    client, stub = _stubbed_route53()
    stub.add_response("list_resource_record_sets", _listing({"aws-primary": 100, "gcp-standby": 0}))
    stub.add_response("change_resource_record_sets", _change("PENDING"))
    for _ in range(3):
        stub.add_response("get_change", _change("PENDING"), {"Id": "C1"})
    clock = Clock()
    router = Route53Router(client, "Z1", DNS_NAME, timeout_s=6, poll_s=2, sleep=clock.sleep,
                           clock=lambda: clock.now)  # fmt: skip
    target = LiveTarget(STACKS, router, dns_name=DNS_NAME, notify=lambda _: None)
    with stub, pytest.raises(LiveTargetError, match=r"C1 under .* is still PENDING after 6 s"):
        target.set_weights({"aws-primary": 0, "gcp-standby": 100})
    assert target.propagation is None and "refused" in target.log[-1]


READ_STORE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


def _role(plane: AwsControlPlane, name: str) -> str:
    """An IRSA-like role with its read policy and a revocation someone made by hand."""
    iam = plane.client("iam")
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    for policy, document in (
        ("read-store", READ_STORE),
        ("AWSRevokeOlderSessions", revoke_policy(dt.datetime(2020, 1, 1))),
    ):
        iam.put_role_policy(RoleName=name, PolicyName=policy,
                            PolicyDocument=json.dumps(document))  # fmt: skip
    return arn


def _role_policies(plane: AwsControlPlane, role: str) -> dict[str, Any]:
    iam = plane.client("iam")
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}


def test_revoking_an_irsa_role_denies_its_older_sessions_and_rotating_lifts_only_that(
    dns_plane: AwsControlPlane,
) -> None:
    """What the IAM console's "Revoke active sessions" does: an inline deny-all policy on the
    role, conditioned on aws:TokenIssueTime before now; rotate_credentials (the drill's
    rollback) removes exitplan's policy and leaves the role's others, a hand-made revocation
    included."""
    arn = _role(dns_plane, "triton-irsa")
    identity = IdentityOutput(kind=IRSA["kind"], principal=arn)
    handled = credentials("aws-primary", identity, session=FakeSession(dns_plane))
    assert isinstance(handled, RoleSessions)
    target = LiveTarget(STACKS, NoRouter(), dns_name=DNS_NAME,
                        credentials={"aws-primary": handled})  # fmt: skip
    assert "revoke_credentials:aws-primary" not in target.unsupported
    assert target.credential_state("aws-primary")["status"] == "active"
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    target.revoke_credentials("aws-primary")
    after = dt.datetime.now(dt.UTC)
    policies = _role_policies(dns_plane, "triton-irsa")
    denied = policies[REVOKE_POLICY]["Statement"]
    assert {k: denied[k] for k in ("Effect", "Action", "Resource")} == {
        "Effect": "Deny", "Action": "*", "Resource": "*"
    }  # fmt: skip
    stamp = denied["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
    issued = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= issued <= after and list(denied["Condition"]) == ["DateLessThan"]
    assert target.credential_state("aws-primary") == {"status": "revoked", "role": arn}
    assert target.log[-2]["sessions_issued_before"] == stamp
    target.rotate_credentials("aws-primary")
    assert _role_policies(dns_plane, "triton-irsa") == {
        "read-store": READ_STORE,
        "AWSRevokeOlderSessions": revoke_policy(dt.datetime(2020, 1, 1)),
    }
    assert target.credential_state("aws-primary")["status"] == "active"
    target.rotate_credentials("aws-primary")  # twice is safe: nothing left to lift
    assert target.log[-1]["removed"] is None
    assert "no redeploy is needed" in target.unsupported["redeploy:aws-primary"]


@pytest.fixture(scope="module")
def iam_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsControlPlane]:
    """IAM auth ON, so that STS refuses a deleted key as AWS does (with auth off moto accepts
    any key). Route 53 is not used here (moto refuses its GETs under auth)."""
    plane = _start(tmp_path_factory.mktemp("aws-iam"))
    plane.enable_auth()
    yield plane
    plane.stop()


def _user_with_keys(plane: AwsControlPlane, user: str, stack: str, others: int) -> list[str]:
    """A user whose first key the stack reads its store with (in the vault), plus `others`
    keys of its own (say, a CI job's); returns their ids, the stack's first."""
    iam = plane.client("iam")
    arn = str(iam.create_user(UserName=user)["User"]["Arn"])
    keys = [iam.create_access_key(UserName=user)["AccessKey"] for _ in range(1 + others)]
    vault = {"aws_access_key_id": keys[0]["AccessKeyId"],
             "aws_secret_access_key": keys[0]["SecretAccessKey"]}  # fmt: skip
    plane.client("secretsmanager").create_secret(Name=vault_secret(stack),
                                                 SecretString=json.dumps(vault))  # fmt: skip
    return [arn, *(str(k["AccessKeyId"]) for k in keys)]


def _keys(plane: AwsControlPlane, user: str) -> dict[str, str]:
    listed = plane.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def _vaulted(plane: AwsControlPlane, stack: str) -> str:
    secret = plane.client("secretsmanager").get_secret_value(SecretId=vault_secret(stack))
    return str(json.loads(secret["SecretString"])["aws_access_key_id"])


def _user_target(plane: AwsControlPlane, stack: str, arn: str) -> tuple[LiveTarget, FakeSession]:
    session = FakeSession(plane)
    identity = IdentityOutput(kind="iam-user", principal=arn)
    handled = credentials(stack, identity, session=session)
    assert isinstance(handled, UserKey)
    stacks = {stack: _stack(stack, identity.model_dump())}
    target = LiveTarget(stacks, NoRouter(), dns_name=DNS_NAME, credentials={stack: handled})
    return target, session


def test_revoke_touches_only_the_stacks_key_and_rotate_vaults_a_checked_new_one(
    iam_plane: AwsControlPlane,
) -> None:
    """The user has the stack's key and one of its own: revoking deactivates and deletes only
    the stack's (the vault's) and waits until STS refuses it; rotating then creates a key,
    checks it with STS, and puts it in Secrets Manager. The user's other key is never
    touched."""
    arn, stack_key, other = _user_with_keys(iam_plane, "exitplan-one", "s3-stack", others=1)
    target, session = _user_target(iam_plane, "s3-stack", arn)
    assert target.credential_state("s3-stack") == {"key_id": stack_key, "status": "active"}
    target.revoke_credentials("s3-stack")
    assert _keys(iam_plane, "exitplan-one") == {other: "Active"}
    iam_calls = [c for c in session.calls if c[0] not in ("GetSecretValue", "ListAccessKeys")]
    assert iam_calls == [
        ("UpdateAccessKey", stack_key),  # Inactive first,
        ("DeleteAccessKey", stack_key),  # then gone,
        ("GetCallerIdentity", stack_key),  # and STS refuses it
    ]
    assert target.credential_state("s3-stack") == {"key_id": stack_key, "status": "revoked"}
    session.calls.clear()
    target.rotate_credentials("s3-stack")
    new = _vaulted(iam_plane, "s3-stack")
    assert new not in (stack_key, other)
    assert _keys(iam_plane, "exitplan-one") == {other: "Active", new: "Active"}
    assert [c for c in session.calls if c[0] in ("GetCallerIdentity", "DeleteAccessKey")] == [
        ("GetCallerIdentity", new)  # the new key checked; the old one is gone already
    ]
    assert target.log[-1] | {"time": 0} == {
        "time": 0, "action": "rotate_credentials", "stack": "s3-stack", "kind": "iam-user",
        "user": "exitplan-one", "key_id": new, "deleted": stack_key,
    }  # fmt: skip
    assert "rollout restart" in target.unsupported["redeploy:s3-stack"]


def test_rotate_checks_and_vaults_the_new_key_before_deleting_the_old(
    iam_plane: AwsControlPlane,
) -> None:
    arn, old = _user_with_keys(iam_plane, "exitplan-two", "rotated", others=0)
    target, session = _user_target(iam_plane, "rotated", arn)
    target.rotate_credentials("rotated")
    new = _vaulted(iam_plane, "rotated")
    order = [c for c in session.calls if c[0] not in ("GetSecretValue", "ListAccessKeys")]
    assert [name for name, _ in order] == [
        "CreateAccessKey", "GetCallerIdentity", "PutSecretValue", "DeleteAccessKey"
    ]  # fmt: skip
    assert order[1] == ("GetCallerIdentity", new) and order[3] == ("DeleteAccessKey", old)
    assert _keys(iam_plane, "exitplan-two") == {new: "Active"}
    # Now the user holds the stack's key and another: a third would exceed IAM's two, and
    # the other key is not the stack's to delete.
    other = iam_plane.client("iam").create_access_key(UserName="exitplan-two")["AccessKey"]
    with pytest.raises(LiveTargetError, match="touches only the stack's key"):
        target.rotate_credentials("rotated")
    assert _keys(iam_plane, "exitplan-two") == {new: "Active", other["AccessKeyId"]: "Active"}
    assert _vaulted(iam_plane, "rotated") == new


def test_a_new_key_sts_never_accepts_is_deleted_and_the_vault_keeps_the_old(
    iam_plane: AwsControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn, old = _user_with_keys(iam_plane, "exitplan-three", "unlucky", others=0)
    target, _ = _user_target(iam_plane, "unlucky", arn)
    handled = target.credentials["unlucky"]
    assert isinstance(handled, UserKey)
    monkeypatch.setattr(handled, "timeout_s", 0.0)
    monkeypatch.setattr(handled, "_sts_accepts", lambda key_id, secret: False)
    with pytest.raises(LiveTargetError, match="STS still refuses key"):
        target.rotate_credentials("unlucky")
    assert _keys(iam_plane, "exitplan-three") == {old: "Active"}
    assert _vaulted(iam_plane, "unlucky") == old


# A live drill as far as its vendor exit, recording each change in the journal before making
# it (as runbooks/drills/exit_plan.py does), then waiting to be killed.
DRILL_UNTIL_KILLED = """
import sys, time
from pathlib import Path
from runbooks.reports.journal import Journal
from runbooks.targets.target import target_for

root, path = sys.argv[1], Path(sys.argv[2])
target = target_for("live", root, stacks=["aws-primary", "gcp-standby"])
before = target.weights()
journal = Journal.new(path, "aws-primary -> gcp-standby",
                      {"from": "aws-primary", "to": "gcp-standby", "target": target.kind})
for step in (10, 100):
    weights = {**before, "aws-primary": 100 - step, "gcp-standby": step}
    journal.change("weights", f"canary {step}%", before=target.weights(), after=weights)
    journal.activity(f"set weights {weights}", "action", lambda: target.set_weights(weights))
journal.change("credentials", "revoked aws-primary's store key", stack="aws-primary")
journal.activity("revoke aws-primary credentials", "action",
                 lambda: target.revoke_credentials("aws-primary"))
print("revoked", flush=True)
time.sleep(300)
"""


def test_a_live_drill_killed_after_revoking_is_rolled_back_from_its_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL a live drill (Route 53 and IAM on moto over HTTP, the stacks' outputs from the
    `pulumi` CLI) after its cutover and its revocation of aws-primary's IRSA sessions:
    `exitplan drill rollback JOURNAL` rebuilds the live target, removes the role's deny
    policy (no redeploy: the pods keep their sessions, recorded as such) and then puts the
    weights back; a second rollback has nothing left to do."""
    plane = _start(tmp_path / "aws")
    try:
        role = _role(plane, "triton-primary")
        irsa = {"kind": IRSA["kind"], "principal": role}
        live = _live_project(plane, tmp_path, monkeypatch, weights="before",
                             identities={"aws-primary": irsa})  # fmt: skip
        journal = tmp_path / "drill" / "journal.json"
        drill = subprocess.Popen(
            [sys.executable, "-c", DRILL_UNTIL_KILLED, str(live.project.root), str(journal)],
            cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert drill.stdout is not None and drill.stdout.readline() == "revoked\n", (
                drill.stderr.read() if drill.stderr else ""
            )
        finally:
            drill.kill()
            drill.wait(10)
        assert drill.returncode == -signal.SIGKILL
        assert live.router.weights() == live.after  # killed with all traffic on gcp-standby
        assert REVOKE_POLICY in _role_policies(plane, "triton-primary")

        result = _rollback(live, journal)
        assert result.exit_code == 0, result.output
        assert f"restored: credentials of aws-primary, weights {live.before}" in result.output
        assert live.router.weights() == live.before
        assert _role_policies(plane, "triton-primary") == {
            "read-store": READ_STORE,
            "AWSRevokeOlderSessions": revoke_policy(dt.datetime(2020, 1, 1)),
        }  # exitplan's deny policy gone, the role's own policies kept
        saved = Journal.load(journal)
        changes = saved.exitplan["changes"]
        assert [c["restored"] for c in changes] == [True, True, True]
        assert "no redeploy is needed" in changes[-1]["not_redeployed"]
        assert [r["activity"]["name"] for r in saved.data["rollbacks"]] == [
            "rotate aws-primary credentials",
            f"restore weights {live.before}",
        ]
        again = _rollback(live, journal)
        assert again.exit_code == 0 and "nothing left to restore" in again.output
    finally:
        plane.stop()


@dataclass
class FailingRestore:
    """Credentials whose revocation cannot be undone (the cloud refuses)."""

    kind: str = "irsa"
    redeploy_gap: str = "no redeploy needed"

    def revoke(self) -> dict[str, Any]:
        return {}

    def rotate(self) -> dict[str, Any]:
        raise LiveTargetError("AccessDenied: iam:DeleteRolePolicy")

    def state(self) -> dict[str, str]:
        return {"status": "revoked"}


def test_the_weights_are_restored_even_when_the_credentials_cannot_be(
    dns_plane: AwsControlPlane, tmp_path: Path
) -> None:
    """Credentials are restored first (while traffic avoids the stack); when the cloud refuses,
    the weights still go back, the credentials stay marked unrestored, and the error is
    raised after."""
    zone_id = _zone(dns_plane, "restore.test", failover=True,
                    weights={"aws-primary": 0, "gcp-standby": 100})  # fmt: skip
    router = Route53Router(dns_plane.client("route53"), zone_id, "score.restore.test")
    handled = {"aws-primary": FailingRestore()}
    target = LiveTarget(STACKS, router, dns_name="score.restore.test", credentials=handled,
                        notify=lambda _: None)  # fmt: skip
    journal = Journal.new(
        tmp_path / "journal.json",
        "t",
        {"target": "live", "from": "aws-primary", "to": "gcp-standby"},  # a drill's journal
    )
    before = {"aws-primary": 100, "gcp-standby": 0}
    journal.change(
        "weights", "cutover", before=before, after={"aws-primary": 0, "gcp-standby": 100}
    )
    journal.change("credentials", "revoked", stack="aws-primary")
    with pytest.raises(LiveTargetError, match="iam:DeleteRolePolicy"):
        restore(target, journal)
    assert router.weights() == before
    assert [c["restored"] for c in Journal.load(journal.path).exitplan["changes"]] == [True, False]


def test_a_live_drill_on_an_irsa_stack_needs_no_redeploy() -> None:
    """What the drill asks of the live target for the vendor exit: revoke and rotate (the deny
    policy on and off), not the redeploy it cannot do; the --to stack's identity (GKE) is not
    touched."""
    model = {"name": "fraud-scorer", "version": 3, "digest": "sha256:a"}
    stacks = {
        name: parse_outputs(name, _outputs(name, "aws", identity) | {"models": [model]})
        for name, identity in (("aws-primary", IRSA), ("gcp-standby", GKE))
    }
    handled = {"aws-primary": FailingRestore()}
    target = LiveTarget(stacks, NoRouter(), dns_name=DNS_NAME, credentials=handled)
    options = ExitPlanOptions("aws-primary", "gcp-standby")
    assert revoke_gap(target, options) is None
    wanted = needs(target, options)
    assert Need("revoke_credentials", "aws-primary") in wanted
    assert Need("rotate_credentials", "aws-primary") in wanted
    assert Need("redeploy", "aws-primary") not in wanted
    require(target, wanted, "the drill")  # nothing missing
    without = LiveTarget(STACKS, NoRouter(), dns_name=DNS_NAME)
    assert "built without" in str(revoke_gap(without, options))


def _observations(healthy: int, total: int) -> dict[str, Any]:
    reports = [
        {"Region": "us-east-1", "IPAddress": "192.0.2.1",
         "StatusReport": {"Status": ("Success: HTTP Status Code 200" if i < healthy
                                     else "Failure: Connection timed out"),
                          "CheckedTime": "2026-11-30T00:00:00Z"}}
        for i in range(total)
    ]  # fmt: skip
    return {"HealthCheckObservations": reports}


@pytest.mark.parametrize(
    ("healthy", "total", "in_rotation"),
    [(3, 16, True), (2, 16, False), (9, 50, False), (10, 50, True), (16, 16, True)],
)
def test_in_rotation_follows_route53s_18_percent_rule(
    healthy: int, total: int, in_rotation: bool
) -> None:
    """Route 53 keeps answering with an endpoint while more than 18 % of its health checkers
    report it healthy (moto reports every check healthy, so a Stubber plays Route 53): 3 of 16
    is in rotation although most checkers fail; exactly 18 % is out."""
    client, stub = _stubbed_route53()
    listing = _listing({"aws-primary": 100, "gcp-standby": 0})
    listing["ResourceRecordSets"][0]["HealthCheckId"] = "hc-1"
    stub.add_response("list_resource_record_sets", listing)
    stub.add_response(
        "get_health_check_status", _observations(healthy, total), {"HealthCheckId": "hc-1"}
    )
    with stub:
        target = LiveTarget(STACKS, Route53Router(client, "Z1", DNS_NAME), dns_name=DNS_NAME)
        assert target.in_rotation("aws-primary") is in_rotation


@dataclass
class KeyTarget:
    """A target that can redeploy (as the sandbox): undoing a revocation is rotate + redeploy."""

    kind: str = "sandbox"
    unsupported: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def rotate_credentials(self, stack: str) -> None:
        self.calls.append(("rotate_credentials", stack))

    def redeploy(self, stack: str) -> None:
        self.calls.append(("redeploy", stack))

    def set_weights(self, weights: dict[str, int]) -> None:
        self.calls.append(("set_weights", weights))


def test_where_the_target_can_redeploy_the_rollback_rotates_redeploys_then_moves_traffic(
    tmp_path: Path,
) -> None:
    target = KeyTarget()
    journal = Journal.new(tmp_path / "journal.json", "t", {"target": "sandbox"})
    before = {"aws-primary": 100, "gcp-standby": 0}
    journal.change(
        "weights", "cutover", before=before, after={"aws-primary": 0, "gcp-standby": 100}
    )
    journal.change("credentials", "revoked", stack="aws-primary")
    assert restore(target, journal) == ["credentials of aws-primary", f"weights {before}"]  # type: ignore[arg-type]
    assert target.calls == [
        ("rotate_credentials", "aws-primary"),
        ("redeploy", "aws-primary"),
        ("set_weights", before),
    ]
    assert "not_redeployed" not in journal.exitplan["changes"][1]
