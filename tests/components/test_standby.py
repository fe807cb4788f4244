"""WarmStandby under Pulumi mocks: levels size the standby, models replicate where the cloud
offers a managed copy, and the standby's parity with the primary."""

from __future__ import annotations

import pytest

from components import catalog
from components.errors import SpecError
from components.planning.runner import Plan, plan_stack
from components.stack_config import Project
from tests.conftest import MakeProject, one, service_config, standby_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
GPU_POOL = {
    "gcp": ("gcp:container/nodePool:NodePool", "-gpu"),
    "azure": ("azure-native:containerservice:AgentPool", "-gpu"),
}


def _plan(make_project: MakeProject, level: str, provider: str) -> Plan:
    project = make_project(
        {"aws-primary": service_config(), "standby": standby_config(level, provider)}
    )
    return plan_stack(project, project.stack("standby"))


def _gpu_min_max(plan: Plan, provider: str) -> tuple[int, int]:
    typ, suffix = GPU_POOL[provider]
    pool = one(plan, typ, suffix).inputs
    if provider == "gcp":
        return pool["autoscaling"]["totalMinNodeCount"], pool["autoscaling"]["totalMaxNodeCount"]
    return pool["minCount"], pool["maxCount"]


# The primary (aws-primary) runs 1-4 GPU nodes and 1-4 Triton replicas.
@pytest.mark.parametrize("provider", ["gcp", "azure"])
@pytest.mark.parametrize(
    ("level", "nodes", "replicas"),
    [("hot", (1, 4), 1), ("warm", (1, 4), 1), ("pilot-light", (0, 4), 0)],
)
def test_levels_size_gpu_pool_and_replicas(
    make_project: MakeProject,
    provider: str,
    level: str,
    nodes: tuple[int, int],
    replicas: int,
) -> None:
    plan = _plan(make_project, level, provider)
    assert _gpu_min_max(plan, provider) == nodes
    assert one(plan, DEPLOYMENT).inputs["spec"]["replicas"] == replicas
    hpa = one(plan, HPA).inputs["spec"]
    # A pilot light keeps an HPA of minimum 1: idle while its Deployment is at 0 replicas
    # (implicit maintenance-mode deactivation), in charge once a failover scales it up.
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (max(replicas, 1), 4)
    assert plan.outputs["standby_level"] == level


def test_hot_matches_a_primary_with_more_capacity(make_project: MakeProject) -> None:
    primary = service_config()
    primary["config"]["exitplan:service"]["gpu"]["min_nodes"] = 3
    primary["config"]["exitplan:service"]["triton"]["min_replicas"] = 2
    project = make_project({"aws-primary": primary, "hot": standby_config("hot")})
    plan = plan_stack(project, project.stack("hot"))
    assert _gpu_min_max(plan, "gcp") == (3, 4)
    assert one(plan, DEPLOYMENT).inputs["spec"]["replicas"] == 2


def test_gcp_standby_replicates_from_s3_with_storage_transfer(plans: dict[str, Plan]) -> None:
    plan = plans["gcp-standby"]
    job = one(plan, "gcp:storage/transferJob:TransferJob").inputs
    source = job["transferSpec"]["awsS3DataSource"]
    assert source["bucketName"] == "fraud-scoring-models-use1"
    assert source["roleArn"].startswith("arn:aws:iam::123456789012:role/")
    assert "accessKeyId" not in str(job), "no static AWS keys"
    assert job["transferSpec"]["gcsDataSink"]["bucketName"] == "fraud-scoring-models-usc1"
    assert job["schedule"]["repeatInterval"] == "3600s"
    writer = one(plan, "gcp:storage/bucketIAMMember:BucketIAMMember", "-transfer-writer").inputs
    assert writer["member"].endswith("@storage-transfer-service.iam.gserviceaccount.com")
    assert plan.outputs["model_replication"] == "managed copy from aws"


def test_azure_standby_has_no_managed_copy_and_says_why(
    plans: dict[str, Plan], project: Project
) -> None:
    plan = plans["azure-standby"]
    assert not [r for r in plan.resources if "transfer" in r.type.lower()]
    assert plan.outputs["model_replication"].startswith("published to every store")
    assert "azure replication-from-aws" in project.stack("azure-standby").gaps


def test_gcp_standby_from_s3_needs_a_role(make_project: MakeProject) -> None:
    config = standby_config("warm")
    del config["config"]["exitplan:standby"]["replication_role_arn"]
    project = make_project({"aws-primary": service_config(), "standby": config})
    with pytest.raises(SpecError) as caught:
        plan_stack(project, project.stack("standby"))
    assert caught.value.field == "exitplan:standby.replication_role_arn"


def test_standby_serves_the_primarys_models_and_triton(plans: dict[str, Plan]) -> None:
    for name in ("gcp-standby", "azure-standby"):
        facts = plans[name].outputs["parity"]
        assert facts["models"] == plans["aws-primary"].outputs["parity"]["models"]
        assert facts["triton version"] == plans["aws-primary"].outputs["triton_version"]
        assert facts["triton version"] == catalog.default_triton_version()
