"""AWS stack under Pulumi mocks: network, EKS, node groups, S3 and IRSA as the issue asks."""

from __future__ import annotations

import base64
import ipaddress
import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import pytest

from components.catalog.helm import helm_chart
from components.planning.runner import Plan
from components.providers.aws import addons, edge
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
    policy = json.loads(one(aws, "aws:iam/rolePolicy:RolePolicy", "-read-models").inputs["policy"])
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
    env = {e["name"]: e.get("value") for e in container["env"]}
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


RELEASE = "kubernetes:helm.sh/v3:Release"


def test_load_balancer_controller_is_a_pinned_release_with_its_irsa_role(aws: Plan) -> None:
    """B1: `aws-load-balancer-type: external` needs the controller; the chart is pinned from
    the catalog, its values name the cluster, region and VPC, its service account its role."""
    chart = helm_chart("aws-load-balancer-controller")
    release = one(aws, RELEASE, "-lbc")
    inputs = release.inputs
    assert (inputs["chart"], inputs["version"]) == ("aws-load-balancer-controller", chart.version)
    assert inputs["repositoryOpts"]["repo"] == "https://aws.github.io/eks-charts"
    assert inputs["namespace"] == "kube-system"
    values = inputs["values"]
    assert values["clusterName"] == "fraud-scoring" and values["region"] == "us-east-1"
    assert values["vpcId"] == "fraud-scoring-vpc-id"
    account = values["serviceAccount"]
    assert account["name"] == "aws-load-balancer-controller" and account["create"] is True
    role_arn = account["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.endswith("fraud-scoring-lbc-irsa")
    trust = json.loads(one(aws, "aws:iam/role:Role", "-lbc-irsa").inputs["assumeRolePolicy"])
    sub = next(
        v for k, v in trust["Statement"][0]["Condition"]["StringEquals"].items() if "sub" in k
    )
    assert sub == "system:serviceaccount:kube-system:aws-load-balancer-controller"
    policy = json.loads(one(aws, "aws:iam/policy:Policy", "-lbc-policy").inputs["policy"])
    actions = {a for s in policy["Statement"] for a in _list(s["Action"])}
    assert {
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
    } <= actions
    assert "fraud-scoring-lbc-policy-attachment" in release.dependencies


def test_triton_waits_for_the_add_ons_it_needs(aws: Plan) -> None:
    """The Service and HPA go through a Kubernetes provider built once the controller,
    metrics-server and the autoscaler are installed."""
    service = next(
        s
        for s in aws.of_type("kubernetes:core/v1:Service")
        if s.inputs["spec"]["type"] == "LoadBalancer"
    )
    provider = next(r for r in aws.resources if r.name == service.provider)
    assert {"fraud-scoring-lbc", "fraud-scoring-metrics-server", "fraud-scoring-autoscaler"} <= set(
        provider.dependencies
    )


def test_metrics_server_is_the_eks_add_on(aws: Plan) -> None:
    addon = one(aws, "aws:eks/addon:Addon", "-metrics-server").inputs
    assert (addon["addonName"], addon["clusterName"]) == ("metrics-server", "fraud-scoring")


def test_network_policies_are_enforced_by_the_vpc_cni(aws: Plan) -> None:
    """checkov's NetworkPolicy objects are enforced only once the VPC CNI's agent is on."""
    addon = one(aws, "aws:eks/addon:Addon", "-vpc-cni").inputs
    assert (addon["addonName"], addon["clusterName"]) == ("vpc-cni", "fraud-scoring")
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert aws.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")


def test_cluster_autoscaler_discovers_this_clusters_groups_and_scales_only_them(aws: Plan) -> None:
    """Item 7: `max_nodes` means on EKS what it means on GKE and AKS."""
    chart = helm_chart("cluster-autoscaler")
    inputs = one(aws, RELEASE, "-autoscaler").inputs
    assert (inputs["chart"], inputs["version"]) == ("cluster-autoscaler", chart.version)
    assert inputs["repositoryOpts"]["repo"] == "https://kubernetes.github.io/autoscaler"
    values = inputs["values"]
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == "us-east-1"
    assert values["autoDiscovery"]["clusterName"] == "fraud-scoring"
    role_arn = values["rbac"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role_arn.endswith("fraud-scoring-autoscaler-irsa")
    policy = json.loads(
        one(aws, "aws:iam/rolePolicy:RolePolicy", "-autoscaler-policy").inputs["policy"]
    )
    write = next(s for s in policy["Statement"] if "autoscaling:SetDesiredCapacity" in s["Action"])
    assert write["Condition"] == {
        "Null": {"aws:ResourceTag/k8s.io/cluster-autoscaler/fraud-scoring": "false"}
    }
    gpu = one(aws, "aws:eks/nodeGroup:NodeGroup", "-gpu").inputs
    assert gpu["scalingConfig"]["maxSize"] == 4  # what the autoscaler may grow to


def test_load_balancer_controller_policy_must_match_the_pinned_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinned = helm_chart("aws-load-balancer-controller")
    addons.load_balancer_controller_policy.cache_clear()
    monkeypatch.setattr(addons, "helm_chart", lambda _n: replace(pinned, app_version="v9.9.9"))
    with pytest.raises(ValueError, match=r"v9\.9\.9"):
        addons.load_balancer_controller_policy()
    addons.load_balancer_controller_policy.cache_clear()


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _pod(plan: Plan) -> dict[str, Any]:
    spec: dict[str, Any] = one(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]
    return spec["template"]["spec"]


def test_wavelength_nodes_keep_the_primarys_pods_off(plans: dict[str, Plan]) -> None:
    """M2: the edge nodes carry the same GPU label and taint as the primary's pool, so a taint
    of their own keeps the primary's replicas off the zone's single GPU; the edge Triton and the
    device plugin tolerate it, the primary's Triton does not."""
    zone = "us-east-1-wl1-bos-wlz-1"
    template = one(plans["aws-wavelength"], "aws:ec2/launchTemplate:LaunchTemplate").inputs
    user_data = base64.b64decode(template["userData"]).decode()
    assert f"exitplan.io/edge={zone}:NoSchedule" in user_data
    assert f"exitplan.io/edge={zone}" in user_data.split("--node-labels=")[1].split("\n")[0]
    edge = {t["key"] for t in _pod(plans["aws-wavelength"])["tolerations"]}
    primary = {t["key"] for t in _pod(plans["aws-primary"])["tolerations"]}
    assert "exitplan.io/edge" in edge and "exitplan.io/edge" not in primary
    plugin = one(plans["aws-primary"], "kubernetes:apps/v1:DaemonSet").inputs["spec"]["template"]
    assert "exitplan.io/edge" in {t["key"] for t in plugin["spec"]["tolerations"]}


def test_wavelength_zone_group_is_opted_in_before_its_subnet(plans: dict[str, Plan]) -> None:
    """M4: a subnet in a Wavelength Zone fails until the account opts in to its group."""
    plan = plans["aws-wavelength"]
    group = one(plan, "aws:ec2/availabilityZoneGroup:AvailabilityZoneGroup")
    assert group.inputs == {"groupName": "us-east-1-wl1", "optInStatus": "opted-in"}
    subnet = one(plan, "aws:ec2/subnet:Subnet")
    assert group.name in subnet.dependencies
    assert edge.zone_group("us-west-2-wl1-las-wlz-1") == "us-west-2-wl1"


def test_wavelength_endpoint_is_a_carrier_ip_on_a_pinned_open_node_port(
    plans: dict[str, Plan],
) -> None:
    """M1: the NodePort is pinned, opened to the carrier network on the nodes, and the
    endpoint names a node's carrier IP and that port."""
    plan = plans["aws-wavelength"]
    service = one(plan, "kubernetes:core/v1:Service", "-edge-service").inputs["spec"]
    assert {p["name"]: p["nodePort"] for p in service["ports"]} == {"http": 30800, "grpc": 30801}
    access = one(plan, "aws:ec2/securityGroup:SecurityGroup", "-carrier-access")
    rule = access.inputs["ingress"][0]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 30800, 30801)
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    groups = template["networkInterfaces"][0]["securityGroups"]
    assert f"{access.name}-id" in groups and groups[0].startswith("sg-")  # the cluster's too
    endpoint = urlparse(plan.outputs["endpoint"])
    assert endpoint.port == 30800
    assert ipaddress.IPv4Address(endpoint.hostname) in ipaddress.IPv4Network("192.0.2.0/24")
    assert plan.outputs["endpoint_kind"] == "ip"
