"""`LiveTarget` against a real moto_server over HTTP: Route 53 weights read and UPSERTed, IAM
keys revoked and rotated (and S3 refusing the dead keys), readiness probed over HTTP, and every
live-unsupported action refused with its reason. No Pulumi CLI and no cloud are needed."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from runbooks.live_target import (
    GAPS,
    LiveStack,
    LiveTarget,
    LiveTargetError,
    stack_outputs,
)
from sandbox.aws import AwsControlPlane, Credentials
from sandbox.errors import SandboxError
from sandbox.manager import free_port, pid_alive

ZONE = "fraud.test"
DNS_NAME = f"score.{ZONE}"
TARGETS = {"aws-primary": "aws.example.net", "gcp-standby": "gcp.example.net"}
OBJECT = b"model bytes"


def _outputs(name: str, provider: str, identity: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A stack's `pulumi stack output --json`, as `components/serving.py` exports it."""
    return {
        "provider": provider,
        "region": "us-east-1",
        "endpoint": f"http://{name}.example.net:8000",
        "identity": identity,
        "model_repository_uri": f"s3://{name}-models",
        "kubeconfig": "[secret]",
        **extra,
    }


def _stack(name: str, identity: dict[str, str], endpoint: str = "") -> LiveStack:
    output = _outputs(name, "aws", identity)
    if endpoint:
        output["endpoint"] = endpoint
    return LiveStack.from_output(name, output)


def _target(plane: AwsControlPlane, stacks: list[LiveStack], **kwargs: Any) -> LiveTarget:
    options: dict[str, Any] = {"dns_provider": "aws", "dns_name": DNS_NAME, "zone_id": "none"}
    return LiveTarget(
        stacks, route53=plane.client("route53"), iam=plane.client("iam"), **(options | kwargs)
    )


def _client(plane: AwsControlPlane, service: str, creds: Credentials) -> Any:
    return boto3.client(
        service,
        endpoint_url=plane.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _start(workdir: Path, *, auth: bool) -> AwsControlPlane:
    plane = AwsControlPlane(workdir, free_port())
    plane.start()
    try:
        plane.bootstrap_admin()
        if auth:
            plane.enable_auth()
    except BaseException:
        plane.stop()
        raise
    return plane


def _stop(plane: AwsControlPlane) -> None:
    pid = plane.pid
    plane.stop()
    assert pid is None or not pid_alive(pid), f"moto_server (pid {pid}) still runs"


@pytest.fixture(scope="module")
def dns_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsControlPlane]:
    """IAM auth OFF: moto 5.2 refuses every Route 53 GET (ListResourceRecordSets,
    ListHostedZonesByName) under auth even with a valid key (pinned in tests/sandbox/test_aws.py
    as test_moto_fact_route53_get_calls_fail_under_auth_while_posts_work)."""
    plane = _start(tmp_path_factory.mktemp("aws-dns"), auth=False)
    yield plane
    _stop(plane)


@pytest.fixture(scope="module")
def iam_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsControlPlane]:
    """IAM auth ON: a deleted key is refused (InvalidAccessKeyId)."""
    plane = _start(tmp_path_factory.mktemp("aws-iam"), auth=True)
    yield plane
    _stop(plane)


def _weighted(name: str, stack: str, weight: int, health_check: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "CNAME",
        "TTL": 60,
        "SetIdentifier": stack,
        "Weight": weight,
        "ResourceRecords": [{"Value": TARGETS[stack]}],
    }
    if health_check:
        record["HealthCheckId"] = health_check
    return {"Action": "CREATE", "ResourceRecordSet": record}


def _zone(plane: AwsControlPlane, zone: str, *, failover: bool) -> str:
    """A hosted zone with the router's records as components/providers/aws/dns.py declares
    them: health checks, weighted CNAMEs (100/0) and, with failover, the failover pair."""
    r53 = plane.client("route53")
    created = r53.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)
    zone_id = str(created["HostedZone"]["Id"]).rsplit("/", 1)[-1]
    checks = {
        stack: r53.create_health_check(
            CallerReference=uuid.uuid4().hex,
            HealthCheckConfig={
                "Type": "HTTP",
                "FullyQualifiedDomainName": host,
                "Port": 8000,
                "ResourcePath": "/v2/health/ready",
            },
        )["HealthCheck"]["Id"]
        for stack, host in TARGETS.items()
    }
    dns_name = f"score.{zone}"
    name = f"weighted.{dns_name}" if failover else dns_name
    changes = [
        _weighted(name, "aws-primary", 100, checks["aws-primary"]),
        _weighted(name, "gcp-standby", 0, None),  # the health check id is optional
    ]
    if failover:
        alias = {"HostedZoneId": zone_id, "DNSName": name, "EvaluateTargetHealth": True}
        primary = {"Name": dns_name, "Type": "CNAME", "SetIdentifier": "primary",
                   "Failover": "PRIMARY", "AliasTarget": alias}  # fmt: skip
        secondary = {"Name": dns_name, "Type": "CNAME", "SetIdentifier": "secondary",
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
        if r["Type"] == "CNAME"
    }


STACKS = [
    _stack("aws-primary", {"kind": "irsa", "principal": "arn:aws:iam::1:role/triton"}),
    _stack("gcp-standby", {"kind": "gke-workload-identity", "principal": "triton@p.iam"}),
]


def test_weights_reads_the_weighted_records_under_failover(dns_plane: AwsControlPlane) -> None:
    zone_id = _zone(dns_plane, "one.test", failover=True)
    target = _target(dns_plane, STACKS, dns_name="score.one.test", zone_id=zone_id)
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.log[-1]["action"] == "weights"


def test_set_weights_upserts_and_keeps_targets_ttl_and_health_checks(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "two.test", failover=True)
    before = _records(dns_plane, zone_id)
    full_id = f"/hostedzone/{zone_id}"  # Route 53's long form, and a name with its dot
    target = _target(dns_plane, STACKS, dns_name="score.two.test.", zone_id=full_id)
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
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
    target = _target(dns_plane, STACKS, dns_name="score.rotation.test", zone_id=zone_id)
    assert target.in_rotation("aws-primary") is True
    assert target.in_rotation("gcp-standby") is True  # no health check on its record
    assert [e["action"] for e in target.log].count("in_rotation") == 1
    with pytest.raises(LiveTargetError, match="no weighted record for azure-standby"):
        target.in_rotation("azure-standby")


def test_a_partial_weights_map_is_checked_against_the_others(dns_plane: AwsControlPlane) -> None:
    zone_id = _zone(dns_plane, "three.test", failover=True)
    target = _target(dns_plane, STACKS, dns_name="score.three.test", zone_id=zone_id)
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
    target = _target(dns_plane, STACKS, dns_name=f"score.{zone}", zone_id=zone_id)
    with pytest.raises(LiveTargetError, match=match) as raised:
        target.set_weights(weights)
    assert isinstance(raised.value, SandboxError)
    assert str(raised.value).startswith("live target: ")
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.log[-2]["action"] == "set_weights" and "refused" in target.log[-2]


def test_without_failover_the_weighted_records_are_on_the_name(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "four.test", failover=False)
    target = _target(dns_plane, STACKS, dns_name="score.four.test", zone_id=zone_id)
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    target.set_weights({"aws-primary": 0, "gcp-standby": 100})
    assert target.weights() == {"aws-primary": 0, "gcp-standby": 100}
    targets = {k[1]: r["ResourceRecords"] for k, r in _records(dns_plane, zone_id).items()}
    assert targets == {s: [{"Value": host}] for s, host in TARGETS.items()}


@dataclass
class FakeSession:
    """Stands in for boto3.Session: hands out the control plane's clients."""

    plane: AwsControlPlane
    asked: list[str] = field(default_factory=list)

    def client(self, service: str) -> Any:
        self.asked.append(service)
        return self.plane.client(service)


def test_from_outputs_finds_the_zone_by_name_and_builds_the_stacks(
    dns_plane: AwsControlPlane,
) -> None:
    zone_id = _zone(dns_plane, "five.test", failover=True)
    irsa = {"kind": "irsa", "principal": "arn:aws:iam::1:role/triton"}
    router = {"public_name": "score.five.test", "dns_provider": "aws"}
    gke = {"kind": "gke-workload-identity", "principal": "t@p.iam"}
    outputs = {
        "aws-primary": _outputs("aws-primary", "aws", irsa, traffic=router, model_digest="sha"),
        "gcp-standby": _outputs("gcp-standby", "gcp", gke),
    }
    traffic = {  # the router config of stacks/Pulumi.aws-primary.yaml, without dns_name
        "dns_provider": "aws",
        "zone": "five.test",
        "weights": {"aws-primary": 100, "gcp-standby": 0},
        "failover": {"primary": "aws-primary", "secondary": "gcp-standby"},
    }
    session = FakeSession(dns_plane)
    target = LiveTarget.from_outputs(outputs, traffic, session=session)
    assert sorted(session.asked) == ["iam", "route53"]
    assert target.zone_id == zone_id
    assert target.stacks() == ["aws-primary", "gcp-standby"]
    assert target.endpoint() == "http://score.five.test:8000"
    assert target.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert target.model_digest("aws-primary") == "sha"
    with pytest.raises(LiveTargetError, match="exitplan parity"):
        target.model_digest("gcp-standby")
    with pytest.raises(LiveTargetError, match="no public Route 53 hosted zone"):
        LiveTarget.from_outputs(outputs, traffic | {"zone": "absent.test"}, session=session)
    with pytest.raises(LiveTargetError, match=r"routed stacks \['gcp-standby'\]"):
        LiveTarget.from_outputs({"aws-primary": outputs["aws-primary"]}, traffic, session=session)


@pytest.mark.parametrize("provider", ["azure", "gcp"])
def test_from_outputs_names_the_dns_provider_gap(provider: str) -> None:
    traffic = {"dns_provider": provider, "zone": ZONE, "dns_name": DNS_NAME, "weights": {}}
    with pytest.raises(LiveTargetError) as raised:
        LiveTarget.from_outputs({}, traffic, session=object())
    assert GAPS[provider] in str(raised.value)
    assert "not supported by the live target yet" in str(raised.value)
    assert ("Traffic Manager" if provider == "azure" else "Cloud DNS") in str(raised.value)


def test_from_outputs_names_missing_outputs() -> None:
    traffic = {"dns_provider": "aws", "zone": ZONE, "dns_name": DNS_NAME, "zone_id": "Z1",
               "weights": {"aws-primary": 100}}  # fmt: skip
    broken = {"aws-primary": {"provider": "aws", "endpoint": "http://x:8000"}}
    with pytest.raises(LiveTargetError, match="lack identity, model_repository_uri"):
        LiveTarget.from_outputs(broken, traffic, session=object())


@dataclass
class IamUser:
    """An IAM user that may read one bucket, with a key."""

    user: str
    bucket: str
    key: Credentials


def _iam_user(plane: AwsControlPlane) -> IamUser:
    suffix = uuid.uuid4().hex[:8]
    user, bucket = f"live-{suffix}", f"live-models-{suffix}"
    plane.client("s3").create_bucket(Bucket=bucket)
    plane.client("s3").put_object(Bucket=bucket, Key="model.onnx", Body=OBJECT)
    iam = plane.client("iam")
    iam.create_user(UserName=user)
    arn = f"arn:aws:s3:::{bucket}/*"
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [arn]}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=policy)
    made = iam.create_access_key(UserName=user)["AccessKey"]
    return IamUser(user, bucket, Credentials(made["AccessKeyId"], made["SecretAccessKey"]))


def _reads(plane: AwsControlPlane, user: IamUser, key: Credentials) -> bool:
    try:
        got = _client(plane, "s3", key).get_object(Bucket=user.bucket, Key="model.onnx")
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "InvalidAccessKeyId"
        return False
    return bool(got["Body"].read() == OBJECT)


def _key_ids(plane: AwsControlPlane, user: str) -> list[str]:
    listed = plane.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return [k["AccessKeyId"] for k in listed]


def test_revoke_deletes_the_users_keys_and_s3_refuses_them(iam_plane: AwsControlPlane) -> None:
    user = _iam_user(iam_plane)
    assert _reads(iam_plane, user, user.key)
    stack = _stack("aws-edge", {"kind": "iam-user", "principal": user.user})
    target = _target(iam_plane, [stack])
    target.revoke_credentials("aws-edge")
    assert _key_ids(iam_plane, user.user) == []
    assert not _reads(iam_plane, user, user.key)
    assert target.log[-1]["action"] == "revoke_credentials"
    assert target.log[-1]["deleted"] == [user.key.access_key_id]


def test_rotate_leaves_exactly_one_new_working_key_never_logged(
    iam_plane: AwsControlPlane, capsys: pytest.CaptureFixture[str]
) -> None:
    user = _iam_user(iam_plane)
    second = iam_plane.client("iam").create_access_key(UserName=user.user)["AccessKey"]
    delivered: list[tuple[str, Credentials]] = []
    stack = _stack("aws-edge", {"kind": "iam-user", "principal": user.user})
    target = _target(iam_plane, [stack], key_sink=lambda s, k: delivered.append((s, k)))
    target.rotate_credentials("aws-edge")  # two keys (IAM's limit): room is made first
    [(name, fresh)] = delivered
    assert name == "aws-edge"
    assert _key_ids(iam_plane, user.user) == [fresh.access_key_id]
    assert _reads(iam_plane, user, fresh)
    assert not _reads(iam_plane, user, user.key)
    assert second["AccessKeyId"] != fresh.access_key_id
    journal = json.dumps(target.log)
    assert fresh.access_key_id not in journal and fresh.secret_access_key not in journal
    out = capsys.readouterr()
    assert fresh.secret_access_key not in out.out + out.err

    target.revoke_credentials("aws-edge")
    target.rotate_credentials("aws-edge")  # after a revoke: a new key, the dead one stays dead
    assert len(delivered) == 2
    assert _key_ids(iam_plane, user.user) == [delivered[1][1].access_key_id]
    assert _reads(iam_plane, user, delivered[1][1]) and not _reads(iam_plane, user, fresh)


def test_rotate_without_a_key_sink_refuses_and_keeps_the_key(iam_plane: AwsControlPlane) -> None:
    user = _iam_user(iam_plane)
    target = _target(iam_plane, [_stack("aws-edge", {"kind": "iam-user", "principal": user.user})])
    with pytest.raises(LiveTargetError, match="key_sink"):
        target.rotate_credentials("aws-edge")
    assert _key_ids(iam_plane, user.user) == [user.key.access_key_id]


@pytest.mark.parametrize("kind", ["irsa", "azure-workload-identity", "gke-workload-identity"])
def test_workload_identities_have_no_keys_to_revoke(iam_plane: AwsControlPlane, kind: str) -> None:
    target = _target(iam_plane, [_stack("s", {"kind": kind, "principal": "role"})])
    for call in (target.revoke_credentials, target.rotate_credentials):
        with pytest.raises(LiveTargetError, match="no keys to revoke") as raised:
            call("s")
        assert kind in str(raised.value) and "trust" in str(raised.value)
    assert [e["action"] for e in target.log] == ["revoke_credentials", "rotate_credentials"]


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
        stacks = [
            _stack("up", {}, endpoint=ready_server),
            _stack("closed", {}, endpoint=f"http://127.0.0.1:{free_port()}"),
            _stack("hung", {}, endpoint=f"http://127.0.0.1:{hung.getsockname()[1]}"),
        ]
        target = LiveTarget(stacks, dns_provider="aws", dns_name=DNS_NAME, zone_id="Z",
                            route53=None, iam=None, http_timeout_s=0.3)  # fmt: skip
        assert target.health("up") is True
        assert target.health("closed") is False
        assert target.health("hung") is False
    assert [(e["stack"], e["ready"]) for e in target.log] == [
        ("up", True), ("closed", False), ("hung", False)
    ]  # fmt: skip
    with pytest.raises(LiveTargetError, match="no stack 'nope'"):
        target.health("nope")


def test_process_faults_and_redeploy_are_refused_with_the_reason() -> None:
    target = LiveTarget(STACKS, dns_provider="aws", dns_name=DNS_NAME, zone_id="Z",
                        route53=None, iam=None)  # fmt: skip
    for fault in (target.kill, target.restart, target.hang, target.resume):
        with pytest.raises(LiveTargetError, match="rehearsed on the sandbox") as raised:
            fault("aws-primary")
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
        return json.dumps(_outputs("aws-primary", "aws", {"kind": "irsa", "principal": "r"}))

    outputs = stack_outputs(tmp_path, "aws-primary", runner=runner)
    assert seen == [
        ["pulumi", "stack", "output", "--json", "-s", "aws-primary", "--show-secrets=false"]
    ]
    identity = LiveStack.from_output("aws-primary", outputs).identity
    assert identity == {"kind": "irsa", "principal": "r"}
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
        {"Name": name, "Type": "CNAME", "SetIdentifier": s, "Weight": w, "TTL": 60}
        for s, w in (("aws-primary", 80), ("azure-standby", 0), ("gcp-standby", 20))
    ]
    records.append({"Name": f"www.{ZONE}.", "Type": "CNAME", "TTL": 60, "ResourceRecords": []})
    records.append({"Name": f"zzz.{ZONE}.", "Type": "CNAME", "TTL": 60, "ResourceRecords": []})
    route53 = PagedRoute53(records)
    target = LiveTarget(STACKS, dns_provider="aws", dns_name=DNS_NAME, zone_id="Z",
                        route53=route53, iam=None)  # fmt: skip
    assert target.weights() == {"aws-primary": 80, "azure-standby": 0, "gcp-standby": 20}
    assert route53.calls == 4  # three weighted pages, then a page past the name: stop
