"""OCI under Pulumi mocks: an enhanced OKE cluster with a private worker subnet and an API open
only to the allowed CIDRs, a GPU pool from the catalog, a private bucket, a workload-identity
policy scoped to Triton's service account, the init-container copy (never a static key), the
outputs contract, the DNS steering router and the gaps (edge, replication)."""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import catalog
from components.catalog.clouds import facts
from components.catalog.resolve import cheapest_gpu_type
from components.errors import SpecError, UnsupportedFeatureError
from components.outputs import parse_outputs
from components.planning.runner import Plan, plan_stack
from components.providers.oci import build_edge
from components.providers.oci.cluster import _check_overlay, kubernetes_version
from components.providers.oci.dns import record_type
from components.providers.oci.plan import ocid
from components.spec import StandbySpec, parse_spec
from components.stack_config import Project
from components.standby import replication_plan
from tests.conftest import ROOT, one, service, service_config

PLACEHOLDERS = {
    "oci:tenancyOcid": "ocid1.tenancy.oc1..aaaaaaaaplaceholdertenancy",
    "exitplan:ociCompartment": "ocid1.compartment.oc1..aaaaaaaaplaceholdercompartment",
}
STATIC_KEY_MARKERS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "CustomerSecretKey",
    "customerSecretKey",
    "secret_key",
    "authToken",
)


def oci_service(**traffic: Any) -> dict[str, Any]:
    """aws-primary's service on OCI (the GPU OCI offers), optionally owning a router."""
    config = service_config()
    spec = service(config)
    spec.update(
        provider="oci",
        region="us-ashburn-1",
        role="standby",
        model_repository="fraud-scoring-models-iad",
        network={"cidr": "10.40.0.0/16", "api_allowed_cidrs": ["203.0.113.0/24"]},
    )
    spec["gpu"].update(model="A10", min_memory_gib=24)
    config["config"].update(PLACEHOLDERS)
    if traffic:
        config["config"]["exitplan:traffic"] = traffic
    return config


def write_project(root: Path, stacks: dict[str, dict[str, Any]]) -> Project:
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "stacks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "stacks" / "__main__.py", root / "stacks" / "__main__.py")
    for name, content in stacks.items():
        (root / "stacks" / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(content))
    return Project(root)


def plan_of(root: Path, stacks: dict[str, dict[str, Any]], name: str) -> Plan:
    project = write_project(root, stacks)
    return plan_stack(project, project.stack(name))


@pytest.fixture(scope="module")
def oci(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    root = tmp_path_factory.mktemp("oci")
    return plan_of(root, {"aws-primary": service_config(), "oci-svc": oci_service()}, "oci-svc")


def gpu_image() -> str:
    """The mocks' GPU node image name for the newest 1.35 patch."""
    return "Oracle-Linux-8.10-GPU-2026.11.01-0-OKE-1.35.2-800"


def inputs_of(plan: Plan, typ: str, suffix: str = "") -> dict[str, Any]:
    return one(plan, typ, suffix).inputs


def test_enhanced_oke_with_secrets_key_and_api_in_its_subnet(oci: Plan) -> None:
    cluster = inputs_of(oci, "oci:ContainerEngine/cluster:Cluster")
    assert cluster["type"] == "ENHANCED_CLUSTER"  # workload identity needs it
    assert cluster["kubernetesVersion"].startswith("v1.35.")
    assert cluster["endpointConfig"]["isPublicIpEnabled"] is True
    assert cluster["endpointConfig"]["subnetId"] == "fraud-scoring-api-id"
    assert cluster["kmsKeyId"] == "fraud-scoring-secrets-key-id"
    assert cluster["options"]["serviceLbSubnetIds"] == ["fraud-scoring-lb-id"]
    key = inputs_of(oci, "oci:Kms/key:Key")
    assert key["keyShape"] == {"algorithm": "AES", "length": 32}
    statements = inputs_of(oci, "oci:Identity/policy:Policy", "-secrets-key-policy")["statements"]
    assert all("fraud-scoring-secrets-key-id" in s for s in statements[1:])


def test_api_reachable_only_from_allowed_cidrs_and_workers_private(oci: Plan) -> None:
    rules = inputs_of(oci, "oci:Core/securityList:SecurityList", "-api-rules")
    api_sources = {
        r["source"]
        for r in rules["ingressSecurityRules"]
        if r.get("tcpOptions", {}).get("min") == 6443
    }
    assert api_sources == {"203.0.113.0/24", "10.40.0.0/17"}
    nodes = inputs_of(oci, "oci:Core/subnet:Subnet", "-nodes")
    assert nodes["prohibitPublicIpOnVnic"] is True
    assert nodes["prohibitInternetIngress"] is True
    subnets = [
        ipaddress.IPv4Network(s.inputs["cidrBlock"]) for s in oci.of_type("oci:Core/subnet:Subnet")
    ]
    vcn = ipaddress.IPv4Network("10.40.0.0/16")
    assert all(s.subnet_of(vcn) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    routes = inputs_of(oci, "oci:Core/routeTable:RouteTable", "-private-routes")["routeRules"]
    assert {r.get("destinationType", "CIDR_BLOCK") for r in routes} == {
        "CIDR_BLOCK",
        "SERVICE_CIDR_BLOCK",
    }


def test_gpu_pool_shape_from_the_catalog_labelled_and_tainted(oci: Plan) -> None:
    pool = inputs_of(oci, "oci:ContainerEngine/nodePool:NodePool", "-gpu")
    spec = parse_spec(service(oci_service()), source="oci-svc.yaml")
    wanted = cheapest_gpu_type("oci", "us-ashburn-1", spec.gpu)
    assert pool["nodeShape"] == wanted.instance_type == "VM.GPU.A10.1"
    assert "nodeShapeConfig" not in pool  # a fixed GPU shape
    labels = {label["key"]: label["value"] for label in pool["initialNodeLabels"]}
    assert labels == {"exitplan.io/pool": "gpu", "exitplan.io/gpu-model": "A10"}
    init = base64.b64decode(pool["nodeMetadata"]["user_data"]).decode()
    assert "--register-with-taints=nvidia.com/gpu=present:NoSchedule" in init
    details = pool["nodeConfigDetails"]
    assert details["size"] == 1
    placements = details["placementConfigs"]
    assert [p["availabilityDomain"].split(":")[-1] for p in placements] == list(
        catalog.region("oci", "us-ashburn-1").zones
    )
    assert all(p["subnetId"] == "fraud-scoring-nodes-id" for p in placements)
    assert pool["nodeSourceDetails"]["imageId"] == ocid("image", gpu_image())
    assert (
        pool["kubernetesVersion"]
        == inputs_of(oci, "oci:ContainerEngine/cluster:Cluster")["kubernetesVersion"]
    )


def test_system_pool_flex_shape_sized_by_the_catalog_row(oci: Plan) -> None:
    pool = inputs_of(oci, "oci:ContainerEngine/nodePool:NodePool", "-system")
    assert pool["nodeShape"] == "VM.Standard.E4.Flex"
    assert pool["nodeShapeConfig"] == {"ocpus": 1, "memoryInGbs": 8}
    assert pool["nodeConfigDetails"]["size"] == 2
    assert "nodeMetadata" not in pool


def test_device_plugin_and_autoscaler_are_oke_add_ons(oci: Plan) -> None:
    names = {
        a.inputs["addonName"]: a.inputs for a in oci.of_type("oci:ContainerEngine/addon:Addon")
    }
    assert set(names) == {
        "NvidiaGpuPlugin",
        "ClusterAutoscaler",
        "CertManager",
        "KubernetesMetricsServer",
    }
    config = {c["key"]: c["value"] for c in names["ClusterAutoscaler"]["configurations"]}
    assert config == {"authType": "workload", "nodes": "1:4:fraud-scoring-gpu-id"}
    assert facts("oci").device_plugin_managed
    # The Triton layer deploys no device-plugin DaemonSet of its own on OCI.
    assert not [r for r in oci.of_type("kubernetes:apps/v1:DaemonSet")]


def test_bucket_private_versioned_in_the_namespace(oci: Plan) -> None:
    bucket = inputs_of(oci, "oci:ObjectStorage/bucket:Bucket")
    assert bucket["accessType"] == "NoPublicAccess"
    assert bucket["versioning"] == "Enabled"
    assert bucket["name"] == "fraud-scoring-models-iad"
    assert bucket["namespace"] == "plannamespace"  # from get_namespace at deploy time


def test_triton_policy_reads_one_bucket_as_one_service_account_of_one_cluster(oci: Plan) -> None:
    (statement,) = inputs_of(oci, "oci:Identity/policy:Policy", "-triton-policy")["statements"]
    assert statement.startswith("Allow any-user to read objects in compartment id ")
    for condition in (
        "request.principal.type = 'workload'",
        "request.principal.namespace = 'triton'",
        "request.principal.service_account = 'triton'",
        "request.principal.cluster_id = 'fraud-scoring-oke-id'",
        "target.bucket.name = 'fraud-scoring-models-iad'",
    ):
        assert condition in statement
    assert "manage" not in statement


def test_models_copied_by_workload_identity_never_a_static_key(oci: Plan) -> None:
    pod = inputs_of(oci, "kubernetes:apps/v1:Deployment")["spec"]["template"]["spec"]
    (fetch,) = pod["initContainers"]
    assert fetch["image"] == catalog.image("oci-cli").image
    script = fetch["command"][-1]
    assert "--auth oke_workload_identity" in script
    assert "--bucket-name fraud-scoring-models-iad --download-dir /sync/staging" in script
    assert "OCI_RESOURCE_PRINCIPAL_REGION=us-ashburn-1" in script
    triton = next(c for c in pod["containers"] if c["name"] == "tritonserver")
    assert "--model-repository=/models" in triton["args"]
    everything = json.dumps([r.inputs for r in oci.resources])
    assert not [m for m in STATIC_KEY_MARKERS if m in everything]
    assert not [r for r in oci.resources if "Key" in r.type and r.type != "oci:Kms/key:Key"]
    assert (
        oci.outputs["parity"]["model access"]
        == "a model-sync sidecar copies it with workload identity"
    )
    assert "triton-native-store" in facts("oci").gaps


def test_outputs_match_the_contract_with_an_ip_endpoint(oci: Plan) -> None:
    outputs = parse_outputs("oci-svc", oci.outputs)
    assert outputs.provider == "oci"
    assert outputs.endpoint_kind == "ip"
    ipaddress.IPv4Address(outputs.endpoint.removeprefix("http://").rsplit(":", 1)[0])
    assert outputs.model_repository_uri == "oci://fraud-scoring-models-iad"
    assert outputs.identity.kind == "oke-workload-identity"
    assert outputs.identity.principal == "fraud-scoring-oke-id/triton/triton"
    assert outputs.gpu_instance_type == "VM.GPU.A10.1"
    assert "kubeconfig" in oci.secret_outputs
    kubeconfig = json.loads(oci.outputs["kubeconfig"])
    assert kubeconfig["users"][0]["user"]["exec"]["command"] == "oci"  # short-lived tokens
    assert oci.outputs["parity"]["encryption"].startswith("secrets: customer-managed key")
    assert "public limited to 1 CIDR(s)" in oci.outputs["parity"]["public exposure"]


def router_stacks(**traffic: Any) -> dict[str, dict[str, Any]]:
    settings = {
        "dns_provider": "oci",
        "zone": "fraud.example.com",
        "ttl_s": 60,
        "health_check": {"interval_s": 30, "failure_threshold": 3},
        "weights": {"oci-svc": 100, "aws-primary": 0},
        **traffic,
    }
    return {"aws-primary": service_config(), "oci-svc": oci_service(**settings)}


def test_router_fails_over_with_a_public_health_check(tmp_path: Path) -> None:
    failover = {"primary": "oci-svc", "secondary": "aws-primary"}
    plan = plan_of(tmp_path, router_stacks(failover=failover), "oci-svc")
    monitor = inputs_of(plan, "oci:HealthChecks/httpMonitor:HttpMonitor")
    assert (monitor["protocol"], monitor["port"], monitor["path"]) == (
        "HTTP",
        8000,
        "/v2/health/ready",
    )
    assert monitor["intervalInSeconds"] == 30 and monitor["timeoutInSeconds"] <= 30
    assert len(monitor["targets"]) == 2
    policy = inputs_of(plan, "oci:Dns/steeringPolicy:SteeringPolicy")
    assert policy["template"] == "FAILOVER"
    assert [r["ruleType"] for r in policy["rules"]] == ["FILTER", "HEALTH", "PRIORITY", "LIMIT"]
    answers = {a["name"]: a for a in policy["answers"]}
    assert answers["oci-svc"]["rtype"] == "A"  # an OKE load balancer reports an IP
    assert answers["aws-primary"]["rtype"] == "CNAME"  # an NLB a hostname
    assert not any(a.get("isDisabled") for a in answers.values())
    attachment = inputs_of(plan, "oci:Dns/steeringPolicyAttachment:SteeringPolicyAttachment")
    assert attachment["domainName"] == "score.fraud.example.com"
    assert plan.outputs["traffic"]["health_checked"] is True


def test_router_load_balances_by_weight_without_failover(tmp_path: Path) -> None:
    weights = {"oci-svc": 90, "aws-primary": 10}
    plan = plan_of(tmp_path, router_stacks(weights=weights), "oci-svc")
    policy = inputs_of(plan, "oci:Dns/steeringPolicy:SteeringPolicy")
    assert policy["template"] == "LOAD_BALANCE"
    weighted = next(r for r in policy["rules"] if r["ruleType"] == "WEIGHTED")
    assert {d["answerCondition"]: d["value"] for d in weighted["defaultAnswerDatas"]} == {
        "answer.name == 'oci-svc'": 90,
        "answer.name == 'aws-primary'": 10,
    }


def test_router_refuses_an_interval_oci_health_checks_do_not_offer(tmp_path: Path) -> None:
    stacks = router_stacks(health_check={"interval_s": 20, "failure_threshold": 3})
    project = write_project(tmp_path, stacks)
    with pytest.raises(SpecError) as caught:
        _ = project.stack("oci-svc").traffic
    assert caught.value.field == "exitplan:traffic.health_check.interval_s"
    assert facts("oci").dns_health_intervals == (10, 30, 60)


def test_router_refuses_weights_beside_a_failover_primary(tmp_path: Path) -> None:
    stacks = router_stacks(
        weights={"oci-svc": 50, "aws-primary": 50},
        failover={"primary": "oci-svc", "secondary": "aws-primary"},
    )
    with pytest.raises(Exception, match="priority or splits by weight"):
        plan_of(tmp_path, stacks, "oci-svc")


def test_edge_is_a_gap_with_its_reason() -> None:
    with pytest.raises(UnsupportedFeatureError, match="edge-zones: exitplan supports no OCI edge"):
        build_edge("e", None, None, None, None, None, None)  # type: ignore[arg-type]


def test_replication_from_other_clouds_is_a_gap_covered_by_publishing(project: Project) -> None:
    primary = project.stack("aws-primary").spec
    standby = StandbySpec(
        primary="aws-primary",
        level="warm",
        provider="oci",
        region="us-ashburn-1",
        model_repository="fraud-scoring-models-iad",
        network={"cidr": "10.40.0.0/16", "api_allowed_cidrs": ["203.0.113.0/24"]},
    )
    plan = replication_plan(primary, standby)
    assert plan.startswith("published to every store (Object Storage copies objects only")
    for source in ("aws", "azure", "gcp"):
        assert facts("oci").lacks(f"replication-from-{source}")


def test_vcn_overlapping_the_overlay_is_refused() -> None:
    config = copy.deepcopy(service(oci_service()))
    config["network"]["cidr"] = "10.96.0.0/16"
    with pytest.raises(SpecError) as caught:
        _check_overlay(parse_spec(config, source="x.yaml"))
    assert caught.value.field == "network.cidr"


def test_kubernetes_version_is_the_newest_patch_of_the_minor() -> None:
    assert kubernetes_version(["v1.32.7", "v1.33.1", "v1.33.10", "v1.34.1"], "1.33") == "v1.33.10"
    with pytest.raises(SpecError):
        kubernetes_version(["v1.32.7"], "1.33")


def test_record_type_follows_the_endpoint() -> None:
    assert record_type("198.51.100.7") == "A"
    assert record_type("abc.elb.amazonaws.com") == "CNAME"


def test_oke_runs_metrics_server_after_cert_manager(plans: dict[str, Plan]) -> None:
    """Review J6: OKE deploys no metrics-server (the HPA would never scale); its add-on needs
    cert-manager first."""
    addons = {
        r.inputs["addonName"]: r
        for r in plans["oci-standby"].of_type("oci:ContainerEngine/addon:Addon")
    }
    assert {"CertManager", "KubernetesMetricsServer"} <= set(addons)
    assert addons["CertManager"].name in addons["KubernetesMetricsServer"].dependencies
