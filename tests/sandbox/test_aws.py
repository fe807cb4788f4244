"""The sandbox's AWS control plane for real: moto_server on a free 127.0.0.1 port with IAM
authentication switched on after the admin is made. One control plane per module, stopped (and
checked gone) even when a test fails. Tests named `test_moto_fact_*` pin what moto 5.2 itself
does, so that a moto upgrade that changes it is noticed."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from components.providers.aws.cluster import read_only_bucket_policy
from sandbox.aws import ADMIN_USER, AwsControlPlane, Credentials, moto_equivalent
from sandbox.errors import SandboxError
from sandbox.processes import free_port, pid_alive
from tests.conftest import ROOT

OBJECT = b"model bytes"


@dataclass
class Plane:
    """The module's running control plane and what the fixture set up in it."""

    control: AwsControlPlane
    admin: Credentials
    buckets: dict[str, str]
    keys: dict[str, Credentials]


def _client(plane: AwsControlPlane, service: str, creds: Credentials) -> Any:
    return boto3.client(
        service,
        endpoint_url=plane.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def planned_read(bucket: str) -> str:
    """The policy document the AWS builder plans for Triton's identity on `bucket`."""
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    return json.dumps(read_only_bucket_policy(f"arn:aws:s3:::{bucket}", key))


def _bucket(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _reset_auth(plane: AwsControlPlane, value: str) -> None:
    """POST moto's reset-auth: "0" = auth from the next request on, "inf" = never."""
    request = urllib.request.Request(
        f"{plane.endpoint}/moto-api/reset-auth",
        data=value.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    control = AwsControlPlane(tmp_path_factory.mktemp("aws"), free_port())
    pid = control.start()
    try:
        admin = control.bootstrap_admin()
        control.enable_auth()  # everything below runs under IAM authentication
        buckets = {stack: _bucket(stack) for stack in ("alpha", "beta")}
        keys = {
            stack: control.setup_stack(stack, bucket, [planned_read(bucket)])
            for stack, bucket in buckets.items()
        }
        s3 = _client(control, "s3", admin)
        for bucket in buckets.values():
            s3.put_object(Bucket=bucket, Key="model.onnx", Body=OBJECT)
        yield Plane(control, admin, buckets, keys)
    finally:
        control.stop()
        assert not pid_alive(pid), f"moto_server (pid {pid}) still runs after stop()"


def test_credentials_env_names_endpoint_keys_and_region() -> None:
    env = Credentials("AKIA1", "secret").env("http://127.0.0.1:1", region="eu-west-1")
    assert env == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ACCESS_KEY_ID": "AKIA1",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        control = AwsControlPlane(tmp_path, port)
        with pytest.raises(SandboxError, match=f"port {port}"):
            control.start()
    assert control.pid is None


def test_admin_key_is_saved_private(plane: Plane) -> None:
    path = plane.control.workdir / "admin.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "access_key_id": plane.admin.access_key_id,
        "secret_access_key": plane.admin.secret_access_key,
    }
    user = _client(plane.control, "iam", plane.admin).get_user(UserName=ADMIN_USER)
    assert user["User"]["UserName"] == ADMIN_USER


def test_after_enable_auth_requests_without_valid_keys_are_refused(plane: Plane) -> None:
    unknown = Credentials("AKIA" + "X" * 16, "not-a-secret")
    with pytest.raises(ClientError) as excinfo:
        _client(plane.control, "s3", unknown).list_buckets()
    assert _code(excinfo) == "InvalidAccessKeyId"
    wrong_secret = Credentials(plane.admin.access_key_id, "wrong")
    with pytest.raises(ClientError) as excinfo:
        _client(plane.control, "s3", wrong_secret).list_buckets()
    assert _code(excinfo) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as excinfo:
        _client(plane.control, "iam", unknown).list_users()
    assert _code(excinfo) == "InvalidClientTokenId"
    names = {b["Name"] for b in _client(plane.control, "s3", plane.admin).list_buckets()["Buckets"]}
    assert set(plane.buckets.values()) <= names


def test_stack_key_reads_its_bucket_and_resource_level_policy_denies_the_other(
    plane: Plane,
) -> None:
    """moto's server enforces the inline policy's actions AND resources for S3: alpha's key
    reads (GetObject, ListBucket) alpha's bucket only; everything else is AccessDenied."""
    alpha = _client(plane.control, "s3", plane.keys["alpha"])
    own, other = plane.buckets["alpha"], plane.buckets["beta"]
    assert alpha.get_object(Bucket=own, Key="model.onnx")["Body"].read() == OBJECT
    assert [o["Key"] for o in alpha.list_objects_v2(Bucket=own)["Contents"]] == ["model.onnx"]
    for call in (
        lambda: alpha.get_object(Bucket=other, Key="model.onnx"),
        lambda: alpha.list_objects_v2(Bucket=other),
        lambda: alpha.put_object(Bucket=own, Key="x", Body=b"x"),  # read-only
        lambda: alpha.list_buckets(),  # no s3:ListAllMyBuckets
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _code(excinfo) == "AccessDenied"
    beta = _client(plane.control, "s3", plane.keys["beta"])
    assert beta.get_object(Bucket=other, Key="model.onnx")["Body"].read() == OBJECT
    with pytest.raises(ClientError) as excinfo:
        beta.get_object(Bucket=own, Key="model.onnx")
    assert _code(excinfo) == "AccessDenied"


def test_vault_returns_the_stacks_key_which_cannot_read_the_vault(plane: Plane) -> None:
    assert plane.control.vault_get("alpha") == plane.keys["alpha"]
    assert plane.control.vault_get("beta") == plane.keys["beta"]
    secrets = _client(plane.control, "secretsmanager", plane.keys["alpha"])
    with pytest.raises(ClientError) as excinfo:
        secrets.get_secret_value(SecretId="exitplan/alpha/store")
    assert "AccessDenied" in str(excinfo.value)  # moto answers XML with code "403"
    with pytest.raises(SandboxError, match="exitplan/missing/store"):
        plane.control.vault_get("missing")


def test_vault_put_and_read_any_string_map(plane: Plane) -> None:
    plane.control.vault_put("azure-standby", {"AZURE_STORAGE_CONNECTION_STRING": "one"})
    plane.control.vault_put("azure-standby", {"AZURE_STORAGE_CONNECTION_STRING": "two"})
    assert plane.control.vault_read("azure-standby") == {"AZURE_STORAGE_CONNECTION_STRING": "two"}
    with pytest.raises(SandboxError, match="holds no AWS key"):
        plane.control.vault_get("azure-standby")
    assert plane.control.admin_env()["AWS_ACCESS_KEY_ID"] == plane.admin.access_key_id


def test_revoke_cuts_one_stack_off_and_rotate_restores_it(plane: Plane) -> None:
    control = plane.control
    gamma_bucket, delta_bucket = _bucket("gamma"), _bucket("delta")
    gamma = control.setup_stack("gamma", gamma_bucket, [planned_read(gamma_bucket)])
    delta = control.setup_stack("delta", delta_bucket, [planned_read(delta_bucket)])
    admin_s3 = _client(control, "s3", plane.admin)
    admin_s3.put_object(Bucket=gamma_bucket, Key="m", Body=OBJECT)
    admin_s3.put_object(Bucket=delta_bucket, Key="m", Body=OBJECT)
    assert control.credential_state("gamma") == {"key_id": gamma.access_key_id, "status": "active"}

    assert control.revoke("gamma") == gamma.access_key_id
    with pytest.raises(ClientError) as excinfo:
        _client(control, "s3", gamma).get_object(Bucket=gamma_bucket, Key="m")
    assert _code(excinfo) == "InvalidAccessKeyId"
    assert _client(control, "s3", delta).get_object(Bucket=delta_bucket, Key="m")["Body"].read()
    assert control.vault_get("gamma") == gamma  # the vault keeps the dead key
    assert control.credential_state("gamma") == {"key_id": gamma.access_key_id, "status": "revoked"}
    assert control.credential_state("delta")["status"] == "active"

    fresh = control.rotate("gamma")
    assert fresh.access_key_id != gamma.access_key_id
    assert control.vault_get("gamma") == fresh
    assert control.credential_state("gamma") == {"key_id": fresh.access_key_id, "status": "active"}
    got = _client(control, "s3", fresh).get_object(Bucket=gamma_bucket, Key="m")
    assert got["Body"].read() == OBJECT

    again = control.rotate("gamma")  # rotating a live key deletes the previous one
    iam = _client(control, "iam", plane.admin)
    listed = iam.list_access_keys(UserName="exitplan-gamma")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [again.access_key_id]
    with pytest.raises(ClientError) as excinfo:
        _client(control, "s3", fresh).get_object(Bucket=gamma_bucket, Key="m")
    assert _code(excinfo) == "InvalidAccessKeyId"


def test_moto_fact_inactive_key_is_still_accepted_only_a_deleted_key_is_rejected(
    plane: Plane,
) -> None:
    """moto 5.2 fact: `update_access_key(Status="Inactive")` is recorded but not enforced;
    the Inactive key still signs requests that succeed. Only `delete_access_key` makes moto
    refuse the key (InvalidAccessKeyId). That is why `revoke` deletes the key."""
    control, bucket = plane.control, _bucket("epsilon")
    key = control.setup_stack("epsilon", bucket, [planned_read(bucket)])
    _client(control, "s3", plane.admin).put_object(Bucket=bucket, Key="m", Body=OBJECT)
    iam = _client(control, "iam", plane.admin)
    iam.update_access_key(
        UserName="exitplan-epsilon", AccessKeyId=key.access_key_id, Status="Inactive"
    )
    listed = iam.list_access_keys(UserName="exitplan-epsilon")["AccessKeyMetadata"]
    assert [k["Status"] for k in listed] == ["Inactive"]
    s3 = _client(control, "s3", key)
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == OBJECT  # still accepted
    iam.delete_access_key(UserName="exitplan-epsilon", AccessKeyId=key.access_key_id)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="m")
    assert _code(excinfo) == "InvalidAccessKeyId"


def test_moto_fact_route53_get_calls_fail_under_auth_while_posts_work(plane: Plane) -> None:
    """moto 5.2 fact: under IAM auth every Route 53 GET (ListHostedZones, GetHostedZone,
    ListResourceRecordSets, ...) is refused even with the admin's valid key: moto recomputes
    the SigV4 signature over the request headers as if they were the body, so the check fails
    (SignatureDoesNotMatch), answered as a bare 403 with an empty error code. POSTs
    (CreateHostedZone, ChangeResourceRecordSets) pass."""
    r53 = _client(plane.control, "route53", plane.admin)
    zone = r53.create_hosted_zone(Name="fact.test", CallerReference=uuid.uuid4().hex)
    zone_id = zone["HostedZone"]["Id"]
    r53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [_cname("UPSERT", "www.fact.test", "fact.example.net")]},
    )
    for call in (
        lambda: r53.list_hosted_zones(),
        lambda: r53.get_hosted_zone(Id=zone_id),
        lambda: r53.list_resource_record_sets(HostedZoneId=zone_id),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert _code(excinfo) == ""


def _cname(action: str, name: str, target: str) -> dict[str, Any]:
    record = {"Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": target}]}
    return {"Action": action, "ResourceRecordSet": record}


def test_hosted_zone_creates_the_zone_and_its_cname_records(plane: Plane) -> None:
    records = {"api.exitplan.test": "alpha.example.net", "www.exitplan.test": "beta.example.net"}
    zone_id = plane.control.hosted_zone("exitplan.test", records)
    assert zone_id and "/" not in zone_id
    r53 = _client(plane.control, "route53", plane.admin)
    _reset_auth(plane.control, "inf")  # read the zone back with auth briefly off
    try:
        zone = r53.get_hosted_zone(Id=zone_id)["HostedZone"]
        listed = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    finally:
        _reset_auth(plane.control, "0")
    assert zone["Name"] == "exitplan.test."
    assert zone["Config"]["PrivateZone"] is False
    cnames = {
        r["Name"].rstrip("."): r["ResourceRecords"][0]["Value"]
        for r in listed
        if r["Type"] == "CNAME"
    }
    assert cnames == records
    with pytest.raises(ClientError):  # auth is on again: the GET fails (see the fact above)
        r53.list_hosted_zones()
    # Under auth, a POST shows the record too: moto deletes a record only given its exact
    # values, so deleting with another target is refused and with the real one accepted.
    wrong = _cname("DELETE", "api.exitplan.test", "x.example.net")
    with pytest.raises(ClientError) as excinfo:
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [wrong]})
    assert _code(excinfo) == "InvalidInput"
    right = _cname("DELETE", "api.exitplan.test", "alpha.example.net")
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [right]})


CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from sandbox.aws import AwsControlPlane
    control = AwsControlPlane(Path(sys.argv[1]), int(sys.argv[2]))
    pid = control.start()
    print(json.dumps({"pid": pid}), flush=True)
    control.bootstrap_admin()
    control.enable_auth()
    control.setup_stack("omega", "omega-models", [])
    """
)


def test_control_plane_outlives_its_starter_and_attach_reuses_and_stops_it(
    tmp_path: Path,
) -> None:
    port = free_port()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pid = int(json.loads(child.stdout.splitlines()[0])["pid"]) if child.stdout else 0
    try:
        assert child.returncode == 0, child.stderr
        assert pid_alive(pid), "moto_server died with the process that started it"
        control = AwsControlPlane.attach(tmp_path, port, pid)
        key = control.vault_get("omega")
        assert control.credential_state("omega") == {
            "key_id": key.access_key_id,
            "status": "active",
        }
        control.stop()
        assert not pid_alive(pid)
        with pytest.raises(SandboxError, match="not running"):
            AwsControlPlane.attach(tmp_path, port, pid)
    finally:
        if pid and pid_alive(pid):
            os.kill(pid, 9)


def test_moto_fact_head_bucket_is_checked_as_s3_headbucket_which_iam_has_not(
    plane: Plane,
) -> None:
    """moto checks HEAD on a bucket as "s3:HeadBucket" (moto/s3/responses.py ACTION_MAP); AWS
    checks s3:ListBucket for HeadBucket, which Triton's S3 client sends first. The planned
    policy alone is refused HEAD by moto; its moto equivalent is not. When this fails, moto
    has fixed its mapping and `moto_equivalent` can go."""
    control, admin = plane.control, plane.admin
    bucket = _bucket("head")
    _client(control, "s3", admin).create_bucket(Bucket=bucket)
    iam = _client(control, "iam", admin)
    iam.create_user(UserName="exitplan-head")
    iam.put_user_policy(
        UserName="exitplan-head", PolicyName="planned", PolicyDocument=planned_read(bucket)
    )
    made = iam.create_access_key(UserName="exitplan-head")["AccessKey"]
    key = Credentials(made["AccessKeyId"], made["SecretAccessKey"])
    with pytest.raises(ClientError) as excinfo:
        _client(control, "s3", key).head_bucket(Bucket=bucket)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert _client(control, "s3", key).list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    equivalent = json.loads(moto_equivalent(planned_read(bucket)))
    listing = next(s for s in equivalent["Statement"] if "s3:ListBucket" in s["Action"])
    assert listing["Action"] == ["s3:ListBucket", "s3:HeadBucket"]


def test_a_stand_in_holds_only_the_planned_grants(plane: Plane) -> None:
    """The stand-in principal of a planned identity gets the planned documents and nothing
    else: with none planned it reads nothing; with the read policy of one bucket it lists
    and reads that bucket (HEAD included) and no other."""
    control, admin = plane.control, plane.admin
    bare, other = _bucket("bare"), plane.buckets["alpha"]
    nothing = control.setup_stack("bare", bare, [])
    _client(control, "s3", admin).put_object(Bucket=bare, Key="m", Body=OBJECT)
    with pytest.raises(ClientError) as excinfo:
        _client(control, "s3", nothing).get_object(Bucket=bare, Key="m")
    assert _code(excinfo) == "AccessDenied"
    reader = control.setup_stack("reader", _bucket("reader"), [planned_read(bare)])
    s3 = _client(control, "s3", reader)
    s3.head_bucket(Bucket=bare)
    assert s3.get_object(Bucket=bare, Key="m")["Body"].read() == OBJECT
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=other, Key="model.onnx")
    assert _code(excinfo) == "AccessDenied"
