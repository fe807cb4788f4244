"""EdgeDeployment under Pulumi mocks, per cloud, and the edge pre-flight from catalog data."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from components.errors import CatalogError, SpecError
from components.planning.runner import Plan, plan_stack
from tests.conftest import MakeProject, one, service_config, stack_config


def test_wavelength_carrier_gateway_subnet_and_route(plans: dict[str, Plan]) -> None:
    plan = plans["aws-wavelength"]
    one(plan, "aws:ec2/carrierGateway:CarrierGateway")
    subnet = one(plan, "aws:ec2/subnet:Subnet").inputs
    assert subnet["availabilityZone"] == "us-east-1-wl1-bos-wlz-1"
    assert subnet["cidrBlock"] == "10.11.0.0/20"
    assert (
        one(plan, "aws:ec2/vpcIpv4CidrBlockAssociation:VpcIpv4CidrBlockAssociation").inputs[
            "cidrBlock"
        ]
        == "10.11.0.0/20"
    )
    route = one(plan, "aws:ec2/routeTable:RouteTable").inputs["routes"][0]
    assert route["cidrBlock"] == "0.0.0.0/0" and route["carrierGatewayId"]


def test_wavelength_self_managed_gpu_nodes_join_the_parent_cluster(plans: dict[str, Plan]) -> None:
    plan = plans["aws-wavelength"]
    parent = plans["aws-primary"].outputs["cluster_name"]  # what its stack reference answers
    assert plan.of_type("aws:eks/nodeGroup:NodeGroup") == [], "no managed node groups in Wavelength"
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["instanceType"] == "g4dn.2xlarge"
    assert template["networkInterfaces"][0]["associateCarrierIpAddress"] == "true"
    user_data = base64.b64decode(template["userData"]).decode()
    assert "kind: NodeConfig" in user_data and f"name: {parent}" in user_data
    assert "--register-with-taints=nvidia.com/gpu=present:NoSchedule" in user_data
    group = one(plan, "aws:autoscaling/group:Group").inputs
    assert (group["minSize"], group["maxSize"]) == (1, 2)
    access = one(plan, "aws:eks/accessEntry:AccessEntry").inputs
    assert access["type"] == "EC2_LINUX" and access["clusterName"] == parent


def test_wavelength_triton_is_pinned_to_the_zone_in_the_shared_cluster(
    plans: dict[str, Plan],
) -> None:
    plan = plans["aws-wavelength"]
    pod = one(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["topology.kubernetes.io/zone"] == "us-east-1-wl1-bos-wlz-1"
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert plan.of_type("kubernetes:core/v1:Namespace") == [], "the parent cluster has it"
    assert (
        one(plan, "kubernetes:core/v1:Service", "-edge-service").inputs["spec"]["type"]
        == "NodePort"
    )


def test_azure_extended_zone_cluster_serves_on_cpu(plans: dict[str, Plan]) -> None:
    plan = plans["azure-edge"]
    aks = one(plan, "azure-native:containerservice:ManagedCluster").inputs
    assert aks["extendedLocation"] == {"name": "losangeles", "type": "EdgeZone"}
    assert aks["location"] == "westus"
    pool = one(plan, "azure-native:containerservice:AgentPool").inputs
    assert pool["vmSize"] == "Standard_D8s_v5"
    assert "nodeTaints" not in pool and "gpuProfile" not in pool
    container = one(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert "nvidia.com/gpu" not in str(container["resources"])
    assert "--model-config-name=cpu" in container["args"]
    assert plan.outputs["parity"]["serving"] == "CPU"


def test_distributed_cloud_cluster_node_pool_and_fleet(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-edge"]
    cluster = one(plan, "gcp:edgecontainer/cluster:Cluster").inputs
    assert cluster["location"] == "us-central1"
    assert cluster["fleet"]["project"] == "projects/123456789012"
    assert cluster["deletionPolicy"] == "PREVENT"
    enabled = {r.inputs["service"] for r in plan.of_type("gcp:projects/service:Service")}
    assert {"edgecontainer.googleapis.com", "gkehub.googleapis.com"} <= enabled
    gdc = one(plan, "gcp:edgecontainer/cluster:Cluster")
    assert any(d.endswith("-api-edgecontainer") for d in gdc.dependencies)
    assert cluster["authorization"]["adminUsers"]["username"] == "ml-platform-lead@example.com"
    pool = one(plan, "gcp:edgecontainer/nodePool:NodePool").inputs
    assert (pool["nodeLocation"], pool["nodeCount"]) == ("us-central1-edge-den1", 1)
    binding = one(plan, "gcp:serviceaccount/iAMMember:IAMMember")
    assert (
        binding.inputs["member"]
        == "serviceAccount:fraud-scoring-edge-placeholder.svc.id.goog[triton/triton]"
    )
    assert gdc.name in binding.dependencies
    assert plan.outputs["parity"]["serving"] == "CPU"


def test_distributed_cloud_load_balancer_pools_control_plane_and_version(
    plans: dict[str, Plan],
) -> None:
    plan = plans["gcp-edge"]
    cluster = one(plan, "gcp:edgecontainer/cluster:Cluster").inputs
    assert cluster["externalLoadBalancerIpv4AddressPools"] == ["192.0.2.10-192.0.2.20"]
    local = cluster["controlPlane"]["local"]
    assert (local["nodeLocation"], local["nodeCount"]) == ("us-central1-edge-den1", 1)
    assert local["sharedDeploymentPolicy"] == "ALLOWED"  # one node runs Triton too
    # The release the cluster reports, not the service's Kubernetes minor.
    assert plan.outputs["parity"]["Kubernetes minor"] == "Distributed Cloud 1.11"


@pytest.mark.parametrize(
    ("pools", "problem"),
    [
        ([], "address pools"),
        (["10.31.1.0/24"], "overlaps"),
        (["192.0.2.20-192.0.2.10"], "empty"),
        (["not-an-ip"], "not an IPv4 range"),
    ],
)
def test_distributed_cloud_needs_usable_load_balancer_pools(
    make_project: MakeProject, pools: list[str], problem: str
) -> None:
    stack = _edge(make_project, "gcp-edge", load_balancer_pools=pools)
    with pytest.raises(SpecError) as caught:
        plan_stack(stack.project, stack)
    assert caught.value.field == "exitplan:edge.load_balancer_pools"
    assert problem in caught.value.problem


def test_distributed_cloud_admin_must_be_an_account_email(make_project: MakeProject) -> None:
    with pytest.raises(SpecError) as caught:
        _edge(make_project, "gcp-edge", admin_user="ml-platform-admins").validate()
    assert "admin_user" in str(caught.value)


def test_distributed_cloud_copies_models_with_fleet_workload_identity(
    plans: dict[str, Plan],
) -> None:
    """No GKE metadata server on a rack, and Triton's GCS client cannot exchange a token: an
    model-sync sidecar copies the bucket with a projected token the fleet's pool accepts."""
    plan = plans["gcp-edge"]
    pod = one(plan, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]
    spec = pod["spec"]
    fetch = spec["initContainers"][0]
    assert fetch["image"].startswith("gcr.io/google.com/cloudsdktool/google-cloud-cli:")
    assert fetch["command"][-2:] == ["gs://fraud-scoring-models-den1", "/sync/staging"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}
    config_path = "/var/run/secrets/exitplan/cloud/credential-configuration.json"
    assert env["CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE"] == config_path
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == config_path
    volume = next(v for v in spec["volumes"] if v["name"] == "cloud-credentials")
    token = volume["projected"]["sources"][0]["serviceAccountToken"]
    assert token["audience"] == "fraud-scoring-edge-placeholder.svc.id.goog"
    assert {
        "name": "cloud-credentials",
        "mountPath": "/var/run/secrets/exitplan/cloud",
        "readOnly": True,
    } in fetch["volumeMounts"]
    configuration = json.loads(
        pod["metadata"]["annotations"]["exitplan.io/gcp-credential-configuration"]
    )
    assert configuration["type"] == "external_account"
    assert configuration["audience"] == (
        "identitynamespace:fraud-scoring-edge-placeholder.svc.id.goog:https://gkehub.googleapis.com/"
        "projects/fraud-scoring-edge-placeholder/locations/global/memberships/fraud-scoring-edge"
    )
    assert configuration["credential_source"]["file"] == "/var/run/secrets/exitplan/cloud/token"
    assert configuration["service_account_impersonation_url"].endswith(
        "/serviceAccounts/fraud-scoring-edge-triton@fraud-scoring-edge-placeholder.iam.gserviceaccount.com"
        ":generateAccessToken"
    )
    triton = spec["containers"][0]
    assert "--model-repository=/models" in triton["args"]
    assert "cloud-credentials" not in str(triton["volumeMounts"]), "only the copy holds the token"
    sa = one(plan, "kubernetes:core/v1:ServiceAccount").inputs["metadata"]
    assert "iam.gke.io/gcp-service-account" not in (sa.get("annotations") or {})
    assert plan.outputs["parity"]["identity kind"] == "fleet-workload-identity"
    account = one(plan, "gcp:serviceaccount/account:Account").inputs
    assert account["accountId"] == "fraud-scoring-edge-triton"


def _edge(make_project: MakeProject, name: str, **edit: Any) -> Any:
    config = stack_config(name)
    config["config"]["exitplan:edge"].update(edit)
    project = make_project({"aws-primary": service_config(), name: config})
    return project.stack(name)


def test_unknown_zone_lists_the_clouds_zones(make_project: MakeProject) -> None:
    with pytest.raises(CatalogError) as caught:
        _edge(make_project, "aws-wavelength", zone="us-east-1-wl1-nyc-wlz-9").validate()
    assert caught.value.field == "exitplan:edge.zone"
    assert "us-east-1-wl1-bos-wlz-1" in caught.value.fix
    assert caught.value.file.endswith("Pulumi.aws-wavelength.yaml")


def test_a_gpu_the_zone_lacks_fails_listing_what_it_has(make_project: MakeProject) -> None:
    stack = _edge(make_project, "aws-wavelength", gpu={"model": "L4", "min_memory_gib": 24})
    with pytest.raises(CatalogError) as caught:
        stack.validate()
    assert caught.value.field == "exitplan:edge.gpu"
    assert "g4dn.2xlarge (1x T4 16 GiB)" in caught.value.fix


def test_wavelength_needs_an_aws_service_stack_in_the_parent_region(
    make_project: MakeProject,
) -> None:
    with pytest.raises(SpecError) as caught:
        _edge(make_project, "aws-wavelength", zone="us-west-2-wl1-las-wlz-1").validate()
    assert caught.value.field == "exitplan:edge.service"
    assert "us-west-2" in caught.value.problem


def test_an_edge_cluster_of_its_own_needs_a_model_store(make_project: MakeProject) -> None:
    config = stack_config("azure-edge")
    del config["config"]["exitplan:edge"]["model_repository"]
    project = make_project({"aws-primary": service_config(), "azure-edge": config})
    with pytest.raises(SpecError) as caught:
        project.stack("azure-edge").validate()
    assert caught.value.field == "exitplan:edge.model_repository"


def test_wavelength_group_is_discovered_by_cluster_autoscaler(plans: dict[str, Plan]) -> None:
    """Review M3/J7: auto-discovery and the autoscaler's IAM conditions need both tags on the
    Auto Scaling group (not on the instances)."""
    group = one(plans["aws-wavelength"], "aws:autoscaling/group:Group")
    tags = {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in group.inputs["tags"]}
    cluster = next(k for k in tags if k.startswith("kubernetes.io/cluster/")).rsplit("/", 1)[1]
    assert tags["k8s.io/cluster-autoscaler/enabled"] == ("true", False)
    assert tags[f"k8s.io/cluster-autoscaler/{cluster}"] == ("owned", False)
    assert group.inputs["maxSize"] == 2


def test_wavelength_endpoint_gap_is_stated_with_its_source() -> None:
    """Review M1: the unrouted single-node endpoint is a catalog gap with a source."""
    from components.catalog.clouds import facts

    gap = facts("aws").gaps["edge-stable-endpoint"]
    assert "carrier IP" in gap.reason and "health-checks" in gap.reason
    assert gap.provenance.source.startswith("https://docs.aws.amazon.com/wavelength/")
