"""GCP stack under Pulumi mocks: private GKE with workload identity, GPU pool, GCS, SA."""

from __future__ import annotations

import pytest

from components.planning.runner import Plan, plan_stack
from components.providers.gcp import plan as gcp_plan
from components.providers.gcp.apis import GKE_APIS, TRANSFER_APIS
from components.providers.gcp.cluster import DEFAULT_ZONES, initial_per_zone
from tests.conftest import MakeProject, one, service_config, stack_config


@pytest.fixture(scope="module")
def gcp(plans: dict[str, Plan]) -> Plan:
    return plans["gcp-standby"]


def test_subnet_has_secondary_ranges(gcp: Plan) -> None:
    subnet = one(gcp, "gcp:compute/subnetwork:Subnetwork").inputs
    assert {r["rangeName"] for r in subnet["secondaryIpRanges"]} == {"pods", "services"}
    assert subnet["privateIpGoogleAccess"] is True


def test_gke_private_shielded_workload_identity_and_encrypted(gcp: Plan) -> None:
    gke = one(gcp, "gcp:container/cluster:Cluster").inputs
    pool = gke["workloadIdentityConfig"]["workloadPool"]
    assert pool == "fraud-scoring-prod-placeholder.svc.id.goog"
    assert gke["privateClusterConfig"]["enablePrivateNodes"] is True
    assert gke["enableShieldedNodes"] is True
    assert gke["databaseEncryption"]["state"] == "ENCRYPTED"
    assert gke["masterAuthorizedNetworksConfig"]["cidrBlocks"][0]["cidrBlock"] == "203.0.113.0/24"
    assert gke["removeDefaultNodePool"] is True


def test_network_policies_are_enforced_by_dataplane_v2(gcp: Plan) -> None:
    assert one(gcp, "gcp:container/cluster:Cluster").inputs["datapathProvider"] == (
        "ADVANCED_DATAPATH"
    )
    assert gcp.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")


def test_gpu_pool_accelerators_driver_and_zones(gcp: Plan) -> None:
    pool = one(gcp, "gcp:container/nodePool:NodePool", "-gpu").inputs
    config = pool["nodeConfig"]
    accelerator = config["guestAccelerators"][0]
    assert (accelerator["type"], accelerator["count"]) == ("nvidia-tesla-t4", 1)
    assert accelerator["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
    assert config["machineType"] == "n1-standard-4"
    # GKE taints the GPU nodes itself (nvidia.com/gpu=present:NoSchedule): none declared.
    assert "taints" not in config
    toleration = one(gcp, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"][
        "tolerations"
    ]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in toleration
    assert config["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
    assert config["shieldedInstanceConfig"]["enableSecureBoot"] is True
    assert pool["nodeLocations"] and all(
        z.startswith("us-central1-") for z in pool["nodeLocations"]
    )


def test_bucket_uniform_versioned_and_never_public(gcp: Plan) -> None:
    bucket = one(gcp, "gcp:storage/bucket:Bucket").inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["versioning"]["enabled"] is True


def test_service_account_reads_bucket_and_binds_tritons_ksa(gcp: Plan) -> None:
    viewer = one(gcp, "gcp:storage/bucketIAMMember:BucketIAMMember", "-object-viewer").inputs
    assert viewer["role"] == "roles/storage.objectViewer"
    assert viewer["member"].startswith("serviceAccount:fraud-scoring-standby-triton@")
    # Review J1: Triton's GCS client reads the bucket's metadata first (storage.buckets.get).
    reader = one(gcp, "gcp:storage/bucketIAMMember:BucketIAMMember", "-triton-bucket-reader")
    assert reader.inputs["role"] == "roles/storage.legacyBucketReader"
    assert reader.inputs["member"] == viewer["member"]
    binding = one(gcp, "gcp:serviceaccount/iAMMember:IAMMember")
    assert binding.inputs["role"] == "roles/iam.workloadIdentityUser"
    assert (
        binding.inputs["member"]
        == "serviceAccount:fraud-scoring-prod-placeholder.svc.id.goog[triton/triton]"
    )
    # The pool exists only once the cluster does: the binding waits for it.
    assert one(gcp, "gcp:container/cluster:Cluster").name in binding.dependencies
    sa = one(gcp, "kubernetes:core/v1:ServiceAccount").inputs
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith(
        "fraud-scoring-standby-triton@"
    )


def test_no_device_plugin_on_gke(gcp: Plan) -> None:
    assert gcp.of_type("kubernetes:apps/v1:DaemonSet") == []


def test_node_service_account_has_the_default_node_role(gcp: Plan) -> None:
    roles = {
        r.inputs["role"]
        for r in gcp.of_type("gcp:projects/iAMMember:IAMMember")
        if "-nodes-" in r.name
    }
    assert roles == {"roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader"}


def test_initial_node_counts_are_per_zone(gcp: Plan) -> None:
    """GKE multiplies initial_node_count by the pool's zones: the warm GPU pool (minimum 1
    over four T4 zones) starts empty and the autoscaler adds the one node Triton's pod needs;
    the system pool (2 nodes) starts with one per default zone, within its maximum of 3."""
    gpu = one(gcp, "gcp:container/nodePool:NodePool", "-gpu").inputs
    assert len(gpu["nodeLocations"]) == 4
    assert (
        gpu["initialNodeCount"] * len(gpu["nodeLocations"])
        <= gpu["autoscaling"]["totalMinNodeCount"]
    )
    system = one(gcp, "gcp:container/nodePool:NodePool", "-system").inputs
    started = system["initialNodeCount"] * DEFAULT_ZONES
    assert system["autoscaling"]["totalMinNodeCount"] <= started
    assert started <= system["autoscaling"]["totalMaxNodeCount"]


@pytest.mark.parametrize(
    ("total", "zones", "gpu", "expected"),
    [(1, 4, True, 0), (4, 4, True, 1), (5, 4, True, 1), (2, 3, False, 1), (4, 3, False, 2)],
)
def test_initial_per_zone(total: int, zones: int, gpu: bool, expected: int) -> None:
    assert initial_per_zone(total, zones, gpu=gpu) == expected


def test_reported_kubernetes_version_is_the_control_planes(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parity reads master_version (what runs), not the min_master_version floor: a channel
    that runs a newer minor than the floor shows that minor."""
    cluster = "gcp:container/cluster:Cluster"
    computed = gcp_plan.COMPUTED[cluster]
    monkeypatch.setitem(
        gcp_plan.COMPUTED,
        cluster,
        lambda name, inputs, config: {
            **computed(name, inputs, config),
            "masterVersion": "1.99.2-gke.7",
        },
    )
    project = make_project(
        {"aws-primary": service_config(), "gcp-standby": stack_config("gcp-standby")}
    )
    plan = plan_stack(project, project.stack("gcp-standby"))
    assert plan.outputs["parity"]["Kubernetes minor"] == "1.99"


def test_deletion_protection_is_on_by_default_and_configurable(
    gcp: Plan, make_project: MakeProject
) -> None:
    assert one(gcp, "gcp:container/cluster:Cluster").inputs["deletionProtection"] is True
    config = stack_config("gcp-standby")
    config["config"]["exitplan:standby"]["deletion_protection"] = False
    project = make_project({"aws-primary": service_config(), "gcp-standby": config})
    plan = plan_stack(project, project.stack("gcp-standby"))
    assert one(plan, "gcp:container/cluster:Cluster").inputs["deletionProtection"] is False


def test_apis_are_enabled_before_the_resources_that_need_them(gcp: Plan) -> None:
    """A new project has almost no API enabled: each resource waits for its API."""
    services = {r.inputs["service"]: r.name for r in gcp.of_type("gcp:projects/service:Service")}
    assert {f"{api}.googleapis.com" for api in (*GKE_APIS, *TRANSFER_APIS)} <= set(services)
    assert all(
        not r.inputs["disableOnDestroy"] for r in gcp.of_type("gcp:projects/service:Service")
    )
    needs = {
        "gcp:container/cluster:Cluster": "container",
        "gcp:kms/keyRing:KeyRing": "cloudkms",
        "gcp:compute/network:Network": "compute",
        "gcp:serviceaccount/account:Account": "iam",
        "gcp:storage/transferJob:TransferJob": "storagetransfer",
    }
    for typ, api in needs.items():
        for resource in gcp.of_type(typ):
            assert services[f"{api}.googleapis.com"] in resource.dependencies, resource.name


def test_transfer_starts_on_the_deployment_date(
    gcp: Plan, make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start date in the past delays the first copy to the next day: the schedule starts
    on the day of the deployment (EXITPLAN_TODAY in the suite), with no time of day (at once)."""
    job = one(gcp, "gcp:storage/transferJob:TransferJob").inputs["schedule"]
    assert job["scheduleStartDate"] == {"year": 2026, "month": 11, "day": 30}
    assert "startTimeOfDay" not in job
    monkeypatch.setenv("EXITPLAN_TODAY", "2027-02-03")
    project = make_project(
        {"aws-primary": service_config(), "gcp-standby": stack_config("gcp-standby")}
    )
    later = one(
        plan_stack(project, project.stack("gcp-standby")), "gcp:storage/transferJob:TransferJob"
    )
    assert later.inputs["schedule"]["scheduleStartDate"] == {"year": 2027, "month": 2, "day": 3}


def test_transfer_agent_gets_object_admin_and_bucket_reader_only(gcp: Plan) -> None:
    grants = {
        r.inputs["role"]: r
        for r in gcp.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if "-transfer-" in r.name
    }
    assert set(grants) == {"roles/storage.objectAdmin", "roles/storage.legacyBucketReader"}
    assert all(g.inputs["bucket"] == "fraud-scoring-models-usc1" for g in grants.values())
    job = one(gcp, "gcp:storage/transferJob:TransferJob")
    assert {g.name for g in grants.values()} <= set(job.dependencies)
