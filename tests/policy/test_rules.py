"""Every rule of the pack fails on a broken planned stack and passes on a sound one. The
stacks are the session's offline plans, copied and changed in memory (never re-planned)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from components.planning.runner import Plan, PlannedResource
from components.policy.deploy_rules import (
    AKS_DATA_PLANE_ROLES,
    INGRESS_RULES,
    KMS_ROLES,
    NETWORK_CONTRIBUTOR,
)
from components.policy.offline import CROSS_STACK, check_plans
from components.policy.pack import POLICIES
from tests.policy.helpers import add, depend, drop, edit, named, resource, violations

AKS = "azure-native:containerservice:ManagedCluster"
ROLE = "azure-native:authorization:RoleAssignment"
SERVICE = "kubernetes:core/v1:Service"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RECORD = "aws:route53/record:Record"
LB_TYPE = "service.beta.kubernetes.io/aws-load-balancer-type"
Change = Callable[[Plan], Plan]


def same(plan: Plan) -> Plan:
    return plan


def _role(r: PlannedResource, *ids: str) -> bool:
    return r.type == ROLE and str(r.inputs.get("roleDefinitionId", "")).rsplit("/", 1)[-1] in ids


def _one(plan: Plan, typ: str) -> PlannedResource:
    found = plan.of_type(typ)
    assert len(found) == 1, f"expected one {typ}"
    return found[0]


def _public(r: PlannedResource) -> bool:
    return (r.inputs.get("spec") or {}).get("type") in ("LoadBalancer", "NodePort")


def _annotate(plan: Plan, key: str, value: str) -> Plan:
    def change(r: PlannedResource) -> PlannedResource:
        if r.type != SERVICE or not _public(r):
            return r
        inputs = copy.deepcopy(r.inputs)
        inputs.setdefault("metadata", {}).setdefault("annotations", {})[key] = value
        return replace(r, inputs=inputs)

    return replace(plan, resources=[change(r) for r in plan.resources])


# --- AWS Load Balancer Controller -----------------------------------------------------------


def _no_lbc(plan: Plan) -> Plan:
    bare = drop(plan, lambda r: r.inputs.get("chart") == "aws-load-balancer-controller")
    return _annotate(bare, LB_TYPE, "external")


def _lbc(plan: Plan, wait: bool) -> Plan:
    release = resource(
        "kubernetes:helm.sh/v3:Release", "lbc", {"chart": "aws-load-balancer-controller"}
    )
    with_release = add(_no_lbc(plan), release)
    return depend(with_release, SERVICE, ("lbc",), _public) if wait else with_release


def _lbc_through_provider(plan: Plan) -> Plan:
    """The Service's Kubernetes provider waits for the release (so the Service does too)."""
    installed = _lbc(plan, wait=False)
    provider = next(r.provider for r in installed.of_type(SERVICE) if _public(r))
    return depend(installed, "pulumi:providers:kubernetes", ("lbc",), lambda r: r.name == provider)


# --- AKS grants ------------------------------------------------------------------------------


def _without_data_plane_role(plan: Plan) -> Plan:
    bare = drop(plan, lambda r: _role(r, *AKS_DATA_PLANE_ROLES))
    return edit(bare, AKS, "aadProfile.adminGroupObjectIDs", None)


def _data_plane_role(plan: Plan) -> Plan:
    cluster = named(plan, AKS)[0]
    grant = resource(
        ROLE,
        "deployer-admin",
        {"roleDefinitionId": "/providers/x/roleDefinitions/b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"},
        cluster,
    )
    return add(_without_data_plane_role(plan), grant)


def _subnets(plan: Plan) -> list[str]:
    subnets = set(named(plan, "azure-native:network:Subnet"))
    return [d for d in _one(plan, AKS).dependencies if d in subnets]


def _without_subnet_grants(plan: Plan) -> Plan:
    return drop(plan, lambda r: _role(r, NETWORK_CONTRIBUTOR))


def _subnet_grants(plan: Plan, wait: bool) -> Plan:
    grants = [
        resource(ROLE, f"nc-{s}", {"roleDefinitionId": f"/r/{NETWORK_CONTRIBUTOR}"}, s)
        for s in _subnets(plan)
    ]
    granted = add(_without_subnet_grants(plan), *grants)
    if not wait:
        return granted
    deps = (*_one(plan, AKS).dependencies, *(g.name for g in grants))
    return depend(granted, AKS, deps)


def _kms_grants(plan: Plan) -> list[str]:
    return [r.name for r in plan.resources if _role(r, *KMS_ROLES)]


def _cluster_waits_for_kms(plan: Plan, wait: bool) -> Plan:
    deps = [d for d in _one(plan, AKS).dependencies if d not in _kms_grants(plan)]
    return depend(plan, AKS, (*deps, *(_kms_grants(plan) if wait else ())))


# --- GKE workload identity binding ----------------------------------------------------------


def _pool_binding(r: PlannedResource) -> bool:
    return ".svc.id.goog[" in str(r.inputs.get("member", ""))


def _binding_waits(plan: Plan, wait: bool) -> Plan:
    cluster = named(plan, "gcp:container/cluster:Cluster")[0]
    deps = (cluster,) if wait else ()
    return depend(plan, "gcp:serviceaccount/iAMMember:IAMMember", deps, _pool_binding)


# --- NodePort --------------------------------------------------------------------------------


def _node_ports(plan: Plan, ports: tuple[int | None, ...], opened: bool) -> Plan:
    closed = drop(plan, lambda r: r.type in INGRESS_RULES)
    for index, port in enumerate(ports):
        closed = edit(
            closed,
            SERVICE,
            f"spec.ports.{index}.nodePort",
            port,
            lambda r: (r.inputs.get("spec") or {}).get("type") == "NodePort",
        )
    if not opened:
        return closed
    rule = resource(
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "edge-node-ports",
        {"fromPort": 30800, "toPort": 30801, "ipProtocol": "tcp", "cidrIpv4": "10.0.0.0/8"},
    )
    return add(closed, rule)


# --- DNS records -----------------------------------------------------------------------------


def _record(name: str, typ: str, records: list[str], set_id: str = "") -> PlannedResource:
    inputs: dict[str, Any] = {"zoneId": "Z1", "name": "score.example.org", "type": typ}
    inputs.update(records=records, setIdentifier=set_id, weightedRoutingPolicies=[{"weight": 1}])
    return resource(RECORD, name, inputs)


def _health_check(**inputs: Any) -> PlannedResource:
    return resource("aws:route53/healthCheck:HealthCheck", "hc", {"type": "HTTP", **inputs})


def _record_set(typ: str, rrdatas: list[str]) -> PlannedResource:
    inputs = {
        "name": "score.example.org.",
        "type": typ,
        "routingPolicy": {"wrrs": [{"rrdatas": rrdatas}]},
    }
    return resource("gcp:dns/recordSet:RecordSet", "wrr", inputs)


# --- Triton ----------------------------------------------------------------------------------

TRITON = "spec.template.spec.containers.0"
GKE_POOL = "gcp:container/nodePool:NodePool"
GKE_DRIVER = "nodeConfig.guestAccelerators.0.gpuDriverInstallationConfig"
RESTRICTED = [
    "--model-repository=s3://models",
    "--http-restricted-api=model-repository:x-admin=secret",
    "--grpc-restricted-protocol=model-repository,shared-memory:x-admin=secret",
]


def _services_private(plan: Plan) -> Plan:
    return edit(plan, SERVICE, "spec.type", "ClusterIP")


# (rule, stack, breaks it, keeps it) -------------------------------------------------------
CASES: list[tuple[str, str, Change, Change]] = [
    ("aws-lb-controller-present", "aws-primary", _no_lbc, lambda p: _lbc(p, wait=True)),
    (
        "aws-lb-controller-present",
        "aws-primary",
        lambda p: _lbc(p, wait=False),
        _lbc_through_provider,
    ),
    (
        "global-names-unique",
        "aws-primary",
        lambda p: add(
            p,
            resource("aws:s3/bucket:Bucket", "twin", dict(_one(p, "aws:s3/bucket:Bucket").inputs)),
        ),
        same,
    ),
    (
        "azure-zrs-needs-zones",
        "azure-edge",
        lambda p: edit(p, "azure-native:storage:StorageAccount", "sku.name", "Standard_ZRS"),
        lambda p: edit(p, "azure-native:storage:StorageAccount", "sku.name", "Standard_LRS"),
    ),
    (
        "azure-zrs-needs-zones",
        "azure-standby",
        lambda p: edit(p, "azure-native:storage:StorageAccount", "location", "westus"),
        lambda p: edit(p, "azure-native:storage:StorageAccount", "sku.name", "Standard_ZRS"),
    ),
    ("aks-deployer-data-plane-role", "azure-standby", _without_data_plane_role, _data_plane_role),
    (
        "aks-deployer-data-plane-role",
        "azure-edge",
        _without_data_plane_role,
        lambda p: edit(_without_data_plane_role(p), AKS, "aadProfile.adminGroupObjectIDs", ["g"]),
    ),
    (
        "aks-subnet-grants-before-cluster",
        "azure-standby",
        _without_subnet_grants,
        lambda p: _subnet_grants(p, wait=True),
    ),
    (
        "aks-subnet-grants-before-cluster",
        "azure-standby",
        lambda p: _subnet_grants(p, wait=False),
        lambda p: _subnet_grants(p, wait=True),
    ),
    (
        "aks-kms-grant-before-cluster",
        "azure-standby",
        lambda p: _cluster_waits_for_kms(p, wait=False),
        lambda p: _cluster_waits_for_kms(p, wait=True),
    ),
    (
        "gke-workload-identity-after-pool",
        "gcp-standby",
        lambda p: _binding_waits(p, wait=False),
        lambda p: _binding_waits(p, wait=True),
    ),
    (
        "nodeport-pinned-and-open",
        "aws-wavelength",
        lambda p: _node_ports(p, (None, None), opened=True),
        lambda p: _node_ports(p, (30800, 30801), opened=True),
    ),
    (
        "nodeport-pinned-and-open",
        "aws-wavelength",
        lambda p: _node_ports(p, (30800, 30801), opened=False),
        lambda p: _node_ports(p, (30800, 30801), opened=True),
    ),
    (
        "kubernetes-version-supported",
        "aws-primary",
        lambda p: edit(p, "aws:eks/cluster:Cluster", "version", "1.31"),
        lambda p: edit(p, "aws:eks/cluster:Cluster", "version", "1.35"),
    ),
    (
        "kubernetes-version-supported",
        "oci-standby",
        lambda p: edit(p, "oci:ContainerEngine/cluster:Cluster", "kubernetesVersion", "v1.99.0"),
        lambda p: edit(p, "oci:ContainerEngine/cluster:Cluster", "kubernetesVersion", "v1.35.2"),
    ),
    (
        "kubernetes-version-support-ending",
        "aws-primary",
        lambda p: edit(p, "aws:eks/cluster:Cluster", "version", "1.34"),
        lambda p: edit(p, "aws:eks/cluster:Cluster", "version", "1.35"),
    ),
    (
        "route53-record-type-matches-target",
        "aws-primary",
        lambda p: add(p, _record("r", "CNAME", ["198.51.100.16"])),
        lambda p: add(
            p, _record("r", "A", ["198.51.100.16"]), _record("h", "CNAME", ["lb.example.org"])
        ),
    ),
    (
        "route53-record-type-matches-target",
        "aws-primary",
        lambda p: add(p, _record("r", "A", ["lb.example.org"])),
        same,
    ),
    (
        "route53-health-check-ip",
        "aws-primary",
        lambda p: add(p, _health_check(fqdn="198.51.100.16", port=8000)),
        lambda p: add(p, _health_check(ipAddress="198.51.100.16", port=8000)),
    ),
    (
        "route53-one-type-per-name",
        "aws-primary",
        lambda p: add(
            p,
            _record("a", "A", ["198.51.100.16"], "a"),
            _record("b", "CNAME", ["lb.example.org"], "b"),
        ),
        lambda p: add(
            p, _record("a", "A", ["198.51.100.16"], "a"), _record("b", "A", ["198.51.100.17"], "b")
        ),
    ),
    (
        "cloud-dns-record-type-matches-target",
        "gcp-standby",
        lambda p: add(p, _record_set("CNAME", ["198.51.100.16."])),
        lambda p: add(p, _record_set("A", ["198.51.100.16"])),
    ),
    (
        "s3-public-access-blocked",
        "aws-primary",
        lambda p: edit(
            p, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "blockPublicPolicy", False
        ),
        same,
    ),
    (
        "s3-public-access-blocked",
        "aws-primary",
        lambda p: drop(
            p, lambda r: r.type == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
        ),
        same,
    ),
    (
        "gcs-public-access-prevented",
        "gcp-standby",
        lambda p: edit(p, "gcp:storage/bucket:Bucket", "publicAccessPrevention", "inherited"),
        same,
    ),
    (
        "azure-blob-public-access-off",
        "azure-standby",
        lambda p: edit(p, "azure-native:storage:StorageAccount", "allowBlobPublicAccess", True),
        same,
    ),
    (
        "azure-container-not-public",
        "azure-standby",
        lambda p: edit(p, "azure-native:storage:BlobContainer", "publicAccess", "Container"),
        same,
    ),
    (
        "oci-bucket-not-public",
        "oci-standby",
        lambda p: edit(p, "oci:ObjectStorage/bucket:Bucket", "accessType", "ObjectRead"),
        same,
    ),
    (
        "s3-encrypted-with-kms",
        "aws-primary",
        lambda p: edit(
            p,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm",
            "AES256",
        ),
        same,
    ),
    (
        "eks-secrets-encrypted",
        "aws-primary",
        lambda p: edit(p, "aws:eks/cluster:Cluster", "encryptionConfig", None),
        same,
    ),
    (
        "aks-secrets-encrypted",
        "azure-standby",
        lambda p: edit(p, AKS, "securityProfile.azureKeyVaultKms.enabled", False),
        same,
    ),
    (
        "gke-secrets-encrypted",
        "gcp-standby",
        lambda p: edit(p, "gcp:container/cluster:Cluster", "databaseEncryption.state", "DECRYPTED"),
        same,
    ),
    (
        "oke-secrets-encrypted",
        "oci-standby",
        lambda p: edit(p, "oci:ContainerEngine/cluster:Cluster", "kmsKeyId", None),
        same,
    ),
    (
        "no-static-cloud-keys",
        "aws-primary",
        lambda p: add(p, resource("aws:iam/accessKey:AccessKey", "ci-key", {"user": "ci"})),
        same,
    ),
    (
        "no-static-cloud-keys",
        "gcp-standby",
        lambda p: add(p, resource("gcp:serviceaccount/key:Key", "sa-key", {})),
        same,
    ),
    (
        "azure-storage-no-shared-key",
        "azure-standby",
        lambda p: edit(p, "azure-native:storage:StorageAccount", "allowSharedKeyAccess", True),
        same,
    ),
    (
        "aks-local-accounts-disabled",
        "azure-standby",
        lambda p: edit(p, AKS, "disableLocalAccounts", False),
        same,
    ),
    (
        "eks-workload-identity",
        "aws-primary",
        lambda p: drop(
            p, lambda r: r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
        ),
        same,
    ),
    (
        "aks-workload-identity",
        "azure-standby",
        lambda p: edit(p, AKS, "oidcIssuerProfile.enabled", False),
        same,
    ),
    (
        "aks-workload-identity",
        "azure-edge",
        lambda p: edit(p, AKS, "securityProfile.workloadIdentity", None),
        same,
    ),
    (
        "gke-workload-identity",
        "gcp-standby",
        lambda p: edit(p, "gcp:container/cluster:Cluster", "workloadIdentityConfig", None),
        same,
    ),
    (
        "oke-workload-identity",
        "oci-standby",
        lambda p: edit(p, "oci:ContainerEngine/cluster:Cluster", "type", "BASIC_CLUSTER"),
        same,
    ),
    (
        "eks-api-not-open",
        "aws-primary",
        lambda p: edit(p, "aws:eks/cluster:Cluster", "vpcConfig.publicAccessCidrs", ["0.0.0.0/0"]),
        same,
    ),
    (
        "eks-api-not-open",
        "aws-primary",
        lambda p: edit(
            p,
            "aws:eks/cluster:Cluster",
            "vpcConfig.publicAccessCidrs",
            ["0.0.0.0/1", "128.0.0.0/1"],
        ),
        lambda p: edit(p, "aws:eks/cluster:Cluster", "vpcConfig.endpointPublicAccess", False),
    ),
    (
        "aks-api-not-open",
        "azure-standby",
        lambda p: edit(p, AKS, "apiServerAccessProfile.authorizedIPRanges", ["0.0.0.0/0"]),
        same,
    ),
    (
        "gke-api-not-open",
        "gcp-standby",
        lambda p: edit(
            p,
            "gcp:container/cluster:Cluster",
            "masterAuthorizedNetworksConfig.cidrBlocks",
            [{"cidrBlock": "0.0.0.0/0"}],
        ),
        same,
    ),
    (
        "oke-api-not-open",
        "oci-standby",
        lambda p: add(
            p,
            resource(
                "oci:Core/securityList:SecurityList",
                "open-api",
                {
                    "ingressSecurityRules": [
                        {
                            "source": "0.0.0.0/0",
                            "protocol": "6",
                            "tcpOptions": {"min": 6443, "max": 6443},
                        }
                    ]
                },
            ),
        ),
        same,
    ),
    (
        "required-tags",
        "azure-standby",
        lambda p: edit(p, "azure-native:resources:ResourceGroup", "tags", {"owner": "ml-platform"}),
        same,
    ),
    (
        "required-tags",
        "aws-primary",
        lambda p: edit(p, "pulumi:providers:aws", "defaultTags", None),
        same,
    ),
    (
        "triton-model-control-restricted",
        "aws-primary",
        lambda p: edit(p, DEPLOYMENT, f"{TRITON}.args", ["--model-repository=s3://models"]),
        lambda p: edit(p, DEPLOYMENT, f"{TRITON}.args", RESTRICTED),
    ),
    (
        "triton-model-control-restricted",
        "gcp-standby",
        lambda p: edit(
            p, DEPLOYMENT, f"{TRITON}.args", ["--http-restricted-api=model-repository:k=v"]
        ),
        lambda p: _services_private(
            edit(p, DEPLOYMENT, f"{TRITON}.args", ["--model-repository=gs://m"])
        ),
    ),
    (
        "pods-run-as-non-root",
        "aws-primary",
        lambda p: edit(p, DEPLOYMENT, f"{TRITON}.securityContext.runAsNonRoot", False),
        same,
    ),
    (
        "pods-run-as-non-root",
        "gcp-standby",
        lambda p: edit(p, DEPLOYMENT, "spec.template.spec.securityContext.runAsUser", 0),
        same,
    ),
    (
        "containers-memory-limits",
        "aws-primary",
        lambda p: edit(p, DEPLOYMENT, f"{TRITON}.resources.limits.memory", None),
        same,
    ),
    (
        # Review J1: without legacyBucketReader the identity lacks storage.buckets.get, which
        # Triton's GCS client reads first (GetBucketMetadata in IsDirectory).
        "triton-identity-reads-store",
        "gcp-standby",
        lambda p: drop(p, lambda r: r.name.endswith("-triton-bucket-reader")),
        same,
    ),
    (
        "triton-identity-reads-store",
        "aws-primary",
        lambda p: edit(
            p,
            "aws:iam/rolePolicy:RolePolicy",
            "policy",
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
            '["s3:GetObject"], "Resource": ["arn:aws:s3:::fraud-scoring-models-use1/*"]}]}',
            lambda r: r.name.endswith("-triton-read-models"),
        ),
        same,
    ),
    (
        # Review J2: oci-standby's copy step signs in with the pod's token (OKE workload
        # identity); a pod that does not mount it never gets its models.
        "copy-step-token-mounted",
        "oci-standby",
        lambda p: edit(p, DEPLOYMENT, "spec.template.spec.automountServiceAccountToken", False),
        same,
    ),
    (
        # Review J3: a one-shot copy at pod start (no restartPolicy: Always) copies an empty
        # store on first deploy, and poll mode watches only the copy.
        "local-repository-synced",
        "azure-edge",
        lambda p: edit(p, DEPLOYMENT, "spec.template.spec.initContainers.0.restartPolicy", None),
        same,
    ),
    (
        "local-repository-synced",
        "oci-standby",
        lambda p: edit(p, DEPLOYMENT, "spec.template.spec.initContainers.0.startupProbe", None),
        same,
    ),
    (
        "triton-pdb-present",
        "aws-primary",
        lambda p: drop(p, lambda r: r.type == "kubernetes:policy/v1:PodDisruptionBudget"),
        same,
    ),
    (
        "triton-hpa-present",
        "aws-primary",
        lambda p: drop(p, lambda r: r.type == "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"),
        same,
    ),
    (
        # GKE LATEST installs R570; 25.06's CUDA 12.9 needs R575 (24.10's 12.6 needs R560).
        "gpu-driver-meets-triton",
        "gcp-standby",
        lambda p: edit(p, DEPLOYMENT, f"{TRITON}.image", "nvcr.io/nvidia/tritonserver:25.06-py3"),
        same,
    ),
    (
        "gpu-driver-sourced",
        "gcp-standby",
        lambda p: edit(p, GKE_POOL, f"{GKE_DRIVER}.gpuDriverVersion", "DEFAULT"),
        same,
    ),
]


@pytest.mark.parametrize(
    ("rule", "stack", "breaks", "keeps"),
    CASES,
    ids=[f"{rule}-{stack}-{i}" for i, (rule, stack, _, _) in enumerate(CASES)],
)
def test_rule_fails_on_the_broken_stack_and_passes_the_sound_one(
    plans: dict[str, Plan], rule: str, stack: str, breaks: Change, keeps: Change
) -> None:
    broken = violations(breaks(plans[stack]), rule)
    assert broken, f"{rule} saw nothing wrong"
    assert {v.rule for v in broken} == {rule}
    assert all(v.stack == stack and v.message and v.fix for v in broken)
    assert violations(keeps(plans[stack]), rule) == []


def test_every_rule_has_a_breaking_case() -> None:
    assert {p.name for p in POLICIES} == {rule for rule, *_ in CASES}


def test_support_ending_is_advisory_and_past_support_mandatory(plans: dict[str, Plan]) -> None:
    ending = violations(
        edit(plans["aws-primary"], "aws:eks/cluster:Cluster", "version", "1.34"),
        "kubernetes-version-support-ending",
    )
    past = violations(
        edit(plans["aws-primary"], "aws:eks/cluster:Cluster", "version", "1.31"),
        "kubernetes-version-supported",
    )
    assert [v.enforcement for v in ending] == ["advisory"]
    assert [v.enforcement for v in past] == ["mandatory"]
    assert "2025-11-26" in past[0].message  # the calendar's end of standard support for EKS 1.31


def test_today_moves_the_support_verdict(
    plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    current = edit(plans["aws-primary"], "aws:eks/cluster:Cluster", "version", "1.35")
    assert violations(current, "kubernetes-version-supported") == []
    monkeypatch.setenv("EXITPLAN_TODAY", "2027-04-01")  # EKS 1.35 ends 2027-03-27
    assert violations(current, "kubernetes-version-supported")


def test_system_daemonsets_may_run_as_root(plans: dict[str, Plan]) -> None:
    root_plugin = edit(
        plans["aws-primary"],
        "kubernetes:apps/v1:DaemonSet",
        "spec.template.spec.containers.0.securityContext.runAsNonRoot",
        False,
    )
    assert violations(root_plugin, "pods-run-as-non-root") == []
    moved = edit(root_plugin, "kubernetes:apps/v1:DaemonSet", "metadata.namespace", "triton")
    assert violations(moved, "pods-run-as-non-root")


def test_unique_names_are_checked_across_stacks(plans: dict[str, Plan]) -> None:
    vault = "azure-native:keyvault:Vault"
    standby, edge = plans["azure-standby"], plans["azure-edge"]
    taken = _one(standby, vault).inputs["vaultName"]
    clash = check_plans([standby, edit(edge, vault, "vaultName", taken)])
    found = [v for v in clash.violations if v.rule == "global-names-unique"]
    assert [v.stack for v in found] == [CROSS_STACK]
    assert "azure-standby/" in found[0].message and "azure-edge/" in found[0].message
    apart = check_plans([standby, edge])
    assert [v for v in apart.violations if v.rule == "global-names-unique"] == []
