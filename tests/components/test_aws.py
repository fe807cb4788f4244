"""AWS stack under Pulumi mocks: network, EKS, node groups, S3 and IRSA as the issue asks."""

from __future__ import annotations

import json

import pytest

from components.planning.runner import Plan
from tests.conftest import one


@pytest.fixture(scope="module")
def aws(plans: dict[str, Plan]) -> Plan:
    return plans["aws-primary"]


def test_vpc_has_public_and_private_subnets_in_two_zones(aws: Plan) -> None:
    subnets = aws.of_type("aws:ec2/subnet:Subnet")
    public = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert len(public) == 2 and len(private) == 2
    assert len({s.inputs["availabilityZone"] for s in private}) == 2
    assert len(aws.of_type("aws:ec2/natGateway:NatGateway")) == 2


def test_eks_private_endpoint_limited_public_access_kms_and_logs(aws: Plan) -> None:
    eks = one(aws, "aws:eks/cluster:Cluster").inputs
    assert eks["version"] == "1.35"
    assert eks["vpcConfig"]["endpointPrivateAccess"] is True
    assert eks["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    assert eks["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms")
    assert set(eks["enabledClusterLogTypes"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    assert one(aws, "aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_oidc_provider_trusts_sts(aws: Plan) -> None:
    oidc = one(aws, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert oidc["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")


def test_gpu_node_group_taint_labels_and_nvidia_ami(aws: Plan) -> None:
    gpu = one(aws, "aws:eks/nodeGroup:NodeGroup", "-gpu").inputs
    assert gpu["amiType"] == "AL2023_x86_64_NVIDIA"
    assert gpu["instanceTypes"] == ["g4dn.xlarge"]
    assert gpu["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
    assert gpu["labels"]["exitplan.io/gpu-model"] == "T4"
    assert gpu["scalingConfig"] == {"minSize": 1, "desiredSize": 1, "maxSize": 4}
    assert gpu["capacityType"] == "ON_DEMAND"
    system = one(aws, "aws:eks/nodeGroup:NodeGroup", "-system").inputs
    assert system["instanceTypes"] == ["m6i.large"]
    assert "taints" not in system


def test_model_bucket_versioned_encrypted_and_never_public(aws: Plan) -> None:
    assert one(aws, "aws:s3/bucket:Bucket").inputs["bucket"] == "fraud-scoring-models-use1"
    block = one(aws, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    versioning = one(aws, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse = one(
        aws,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"


def test_irsa_role_trusts_only_tritons_service_account(aws: Plan) -> None:
    role = one(aws, "aws:iam/role:Role", "-triton-irsa").inputs
    statement = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = statement["Condition"]["StringEquals"]
    subs = [v for k, v in conditions.items() if k.endswith(":sub")]
    assert subs == ["system:serviceaccount:triton:triton"]
    assert [v for k, v in conditions.items() if k.endswith(":aud")] == ["sts.amazonaws.com"]


def test_irsa_policy_reads_only_its_bucket(aws: Plan) -> None:
    policy = json.loads(one(aws, "aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    resources = [r for s in policy["Statement"] for r in s["Resource"] if "s3" in r]
    assert resources and all("fraud-scoring-models" in r for r in resources)
    assert not any(r == "*" for s in policy["Statement"] for r in s["Resource"])


def test_service_account_annotated_with_role_and_no_static_keys(aws: Plan) -> None:
    sa = one(aws, "kubernetes:core/v1:ServiceAccount").inputs
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam")
    container = one(aws, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"][
        "containers"
    ][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)
    assert "--model-repository=s3://fraud-scoring-models-use1" in container["args"]


def test_device_plugin_deployed_on_eks(aws: Plan) -> None:
    plugin = one(aws, "kubernetes:apps/v1:DaemonSet").inputs
    assert plugin["metadata"]["namespace"] == "kube-system"
    assert plugin["spec"]["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"


@pytest.mark.parametrize("component", ["GpuInferenceCluster", "TrafficRouter"])
def test_every_child_is_parented_and_named_after_its_component(aws: Plan, component: str) -> None:
    parent = one(aws, f"exitplan:index:{component}")
    children = [r for r in aws.resources if r.parent == parent.name]
    assert len(children) >= 3
    assert all(r.name.startswith(f"{parent.name}-") for r in children)
    orphans = [r.name for r in aws.resources if r.custom and not r.parent]
    assert all(r.startswith(("aws", "default")) or "organization/" in r for r in orphans)
    assert aws.outputs["kubeconfig"] and "kubeconfig" in aws.secret_outputs


def test_nlb_checks_triton_readiness_over_http_on_the_http_port(aws: Plan) -> None:
    """An NLB target group checks TCP unless told HTTP (the path alone is ignored), and the
    gRPC port's target group would check gRPC's port, which answers no HTTP."""
    service = next(
        s.inputs
        for s in aws.of_type("kubernetes:core/v1:Service")
        if s.inputs["spec"]["type"] == "LoadBalancer"
    )
    annotations = service["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"
    assert annotations[prefix + "protocol"] == "HTTP"
    assert annotations[prefix + "port"] == "8000"
    assert annotations[prefix + "path"] == "/v2/health/ready"
