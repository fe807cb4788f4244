"""Azure stack under Pulumi mocks: AKS with workload identity, GPU pool, storage, identity."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from components import catalog
from components.errors import CatalogError, SpecError
from components.planning.runner import Plan, plan_stack
from components.providers.azure import plan as azure_plan
from components.providers.azure.cluster import (
    AKS_RBAC_CLUSTER_ADMIN,
    azurecli_kubeconfig,
    storage_redundancy,
    vault_name,
)
from components.providers.azure.plan import AKS_SERVER_APP
from components.stack_config import Project
from tests.conftest import ROOT, MakeProject, one, service_config, standby_config

AZURE = ("azure-standby", "azure-edge")
NETWORK = "4d97b98b-1d4f-4787-a291-c67834d212e7"  # Network Contributor
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
CLUSTER = "azure-native:containerservice:ManagedCluster"


@pytest.fixture(scope="module")
def azure(plans: dict[str, Plan]) -> Plan:
    return plans["azure-standby"]


def test_aks_has_oidc_issuer_workload_identity_and_kms(azure: Plan) -> None:
    aks = one(azure, "azure-native:containerservice:ManagedCluster").inputs
    assert aks["kubernetesVersion"] == Project(ROOT).stack("azure-standby").spec.kubernetes_version
    assert aks["oidcIssuerProfile"]["enabled"] is True
    assert aks["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert aks["securityProfile"]["azureKeyVaultKms"]["enabled"] is True
    assert aks["disableLocalAccounts"] is True
    assert aks["apiServerAccessProfile"]["authorizedIPRanges"] == ["203.0.113.0/24"]
    system = aks["agentPoolProfiles"][0]
    assert system["mode"] == "System" and system["vmSize"] == "Standard_D2s_v5"


def test_network_policies_are_enforced_by_cilium_outside_extended_zones(
    azure: Plan, plans: dict[str, Plan]
) -> None:
    profile = one(azure, "azure-native:containerservice:ManagedCluster").inputs["networkProfile"]
    assert (profile["networkDataplane"], profile["networkPolicy"]) == ("cilium", "cilium")
    assert profile["networkPluginMode"] == "overlay"
    edge = one(plans["azure-edge"], "azure-native:containerservice:ManagedCluster").inputs
    assert "networkPolicy" not in edge["networkProfile"]  # unconfirmed there: README gap


def test_gpu_user_pool_has_the_same_taint(azure: Plan) -> None:
    pool = one(azure, "azure-native:containerservice:AgentPool").inputs
    assert pool["mode"] == "User"
    assert pool["vmSize"] == "Standard_NC4as_T4_v3"
    assert pool["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert pool["nodeLabels"]["exitplan.io/gpu-model"] == "T4"
    # azure-standby is a pilot light: no GPU node until it is needed, room for the primary's max.
    assert (pool["minCount"], pool["maxCount"], pool["enableAutoScaling"]) == (0, 4, True)
    assert pool["scaleSetPriority"] == "Regular"


def test_storage_account_locked_down(azure: Plan) -> None:
    account = one(azure, "azure-native:storage:StorageAccount").inputs
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    container = one(azure, "azure-native:storage:BlobContainer").inputs
    assert container["publicAccess"] == "None"
    assert one(azure, "azure-native:storage:BlobServiceProperties").inputs["isVersioningEnabled"]


def test_federated_identity_for_tritons_service_account(azure: Plan) -> None:
    federation = one(azure, "azure-native:managedidentity:FederatedIdentityCredential").inputs
    assert federation["subject"] == "system:serviceaccount:triton:triton"
    assert federation["audiences"] == ["api://AzureADTokenExchange"]
    assert federation["issuer"].startswith("https://eastus.oic.prod-aks.azure.com/")


def test_blob_reader_role_scoped_to_the_container(azure: Plan) -> None:
    grant = one(azure, "azure-native:authorization:RoleAssignment", "-triton-blob-reader").inputs
    assert grant["roleDefinitionId"].endswith("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1")
    assert grant["principalType"] == "ServicePrincipal"
    assert "blobcontainer" in grant["scope"].lower() or "container" in grant["scope"]


def test_workload_identity_wiring_in_kubernetes(azure: Plan) -> None:
    sa = one(azure, "kubernetes:core/v1:ServiceAccount").inputs
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
    pod = one(azure, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_models_copied_by_workload_identity_never_a_storage_key(azure: Plan) -> None:
    pod = one(azure, "kubernetes:apps/v1:Deployment").inputs["spec"]["template"]["spec"]
    fetch = pod["initContainers"][0]
    script = " ".join(fetch["command"])
    assert "--federated-token" in script and "--auth-mode login" in script
    assert "account-key" not in script and "AZURE_STORAGE_KEY" not in script
    assert "--model-repository=/models" in pod["containers"][0]["args"]


VAULT_NAME = re.compile(r"^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


def test_key_vault_names_differ_across_azure_stacks(plans: dict[str, Plan]) -> None:
    """Key Vault names are global: azure-standby and azure-edge serve one service, so a name
    from the service alone (the old `fraudscoringkms`) made the second stack fail."""
    names = {s: one(plans[s], "azure-native:keyvault:Vault").inputs["vaultName"] for s in AZURE}
    assert len(set(names.values())) == len(AZURE), names
    assert all(VAULT_NAME.match(n) for n in names.values()), names


def test_vault_name_is_stable_valid_and_keyed_on_project_stack_role_and_group() -> None:
    spec = Project(ROOT).stack("azure-standby").spec
    name = vault_name(spec, "exitplan", "azure-standby", "rg-1")
    assert name == vault_name(spec, "exitplan", "azure-standby", "rg-1")
    assert VAULT_NAME.match(name) and name.startswith("fraudscoring-")
    others = {
        vault_name(spec, "exitplan", "azure-standby-2", "rg-1"),
        vault_name(spec, "other-project", "azure-standby", "rg-1"),
        vault_name(spec.model_copy(update={"role": "edge"}), "exitplan", "azure-standby", "rg-1"),
        # A redeploy after `pulumi destroy` auto-names a new group: the soft-deleted,
        # purge-protected vault keeps the old name for 90 days, the new one does not need it.
        vault_name(spec, "exitplan", "azure-standby", "rg-2"),
    }
    assert name not in others and len(others) == 4
    long = spec.model_copy(update={"name": "a-very-long-service-name-for-a-vault"})
    assert len(vault_name(long, "exitplan", "azure-standby", "rg-1")) <= 24


def test_zone_redundant_storage_only_where_the_region_has_zones(plans: dict[str, Plan]) -> None:
    """azure-edge's store lives in the Extended Zone's parent region, westus, which has no
    availability zones: Standard_ZRS does not exist there."""
    sku = {
        s: one(plans[s], "azure-native:storage:StorageAccount").inputs["sku"]["name"] for s in AZURE
    }
    assert sku == {"azure-standby": "Standard_ZRS", "azure-edge": "Standard_LRS"}


def test_storage_redundancy_follows_the_catalogs_zones() -> None:
    assert storage_redundancy("eastus") == "Standard_ZRS"
    assert storage_redundancy("westus") == "Standard_LRS"
    with pytest.raises(CatalogError):
        storage_redundancy("mars-central")


def test_every_azure_edge_zones_parent_region_is_in_the_catalog() -> None:
    """The store's SKU is chosen from the parent region's zones, so the region must be known."""
    parents = {t.parent_region for t in catalog.edge_types() if t.cloud == "azure"}
    assert parents and all(catalog.region("azure", p) for p in parents)


def test_control_plane_holds_its_grants_before_the_cluster_is_created(azure: Plan) -> None:
    """AKS checks, at create, that its control-plane identity may join the subnets it brings
    (Network Contributor) and use the KMS key (Key Vault Crypto User): the cluster waits for
    all three grants."""
    grants = {r.name: r.inputs for r in azure.of_type("azure-native:authorization:RoleAssignment")}
    principal = grants["fraud-scoring-standby-kms-crypto-user"]["principalId"]
    network = {n: g for n, g in grants.items() if g["roleDefinitionId"].endswith(NETWORK)}
    scopes = {g["scope"] for g in network.values()}
    assert scopes == {"fraud-scoring-standby-nodes-id", "fraud-scoring-standby-apiserver-id"}
    assert all(g["principalId"] == principal for g in network.values())
    aks = one(azure, "azure-native:containerservice:ManagedCluster")
    assert {"fraud-scoring-standby-kms-crypto-user", *network} <= set(aks.dependencies)


def test_deployer_is_cluster_admin_and_kubernetes_waits_for_it(azure: Plan) -> None:
    """Azure RBAC for Kubernetes with local accounts off: the deployer needs a data-plane role
    (Owner/Contributor carry no dataActions), and every Kubernetes resource must wait for it."""
    grant = one(azure, "azure-native:authorization:RoleAssignment", "-deployer-cluster-admin")
    assert grant.inputs["roleDefinitionId"].endswith(AKS_RBAC_CLUSTER_ADMIN)
    assert grant.inputs["principalId"] == "plan-object"  # the deployer's client.object_id
    assert grant.inputs["scope"] == "fraud-scoring-standby-aks-id"
    provider = one(azure, "pulumi:providers:kubernetes")
    assert grant.name in provider.dependencies


def test_kubeconfig_logs_in_through_the_azure_cli_never_by_device_code(azure: Plan) -> None:
    config = yaml.safe_load(azure.outputs["kubeconfig"])
    login = config["users"][0]["user"]["exec"]
    assert login["command"] == "kubelogin" and "devicecode" not in login["args"]
    assert login["args"][-2:] == ["--login", "azurecli"]
    assert login["args"][login["args"].index("--server-id") + 1] == AKS_SERVER_APP
    assert config["clusters"][0]["cluster"]["certificate-authority-data"]


@pytest.mark.parametrize(
    "args",
    [
        ["get-token", "--server-id", "s", "--login", "devicecode"],
        ["get-token", "-l", "devicecode", "--server-id", "s"],
        ["get-token", "--login=interactive", "--server-id", "s"],
        ["get-token", "--server-id", "s"],
    ],
)
def test_azurecli_kubeconfig_replaces_any_login_mode(args: list[str]) -> None:
    raw = yaml.safe_dump(
        {"users": [{"name": "u", "user": {"exec": {"command": "kubelogin", "args": args}}}]}
    )
    converted = json.loads(azurecli_kubeconfig(raw))["users"][0]["user"]["exec"]["args"]
    assert converted == ["get-token", "--server-id", "s", "--login", "azurecli"]


def test_azurecli_kubeconfig_refuses_a_config_without_kubelogin() -> None:
    raw = yaml.safe_dump({"users": [{"name": "u", "user": {"token": "static"}}]})
    with pytest.raises(ValueError, match="kubelogin"):
        azurecli_kubeconfig(raw)


def test_deployer_may_publish_models_by_default(azure: Plan) -> None:
    """Shared keys are off: without a Blob Data role even an Owner cannot upload a model."""
    grant = one(azure, "azure-native:authorization:RoleAssignment", "-publisher-blob-contributor")
    assert grant.inputs["roleDefinitionId"].endswith(BLOB_DATA_CONTRIBUTOR)
    assert grant.inputs["principalId"] == "plan-object"  # the deployer's client.object_id
    assert grant.inputs["scope"] == "fraud-scoring-standby-models-container-id"


def test_a_configured_publisher_gets_the_blob_contributor_role(make_project: MakeProject) -> None:
    publisher = "0f0e0d0c-0b0a-4909-8807-060504030201"
    project = make_project(
        {
            "aws-primary": service_config(),
            "azure-standby": standby_config("warm", "azure", model_publisher=publisher),
        }
    )
    plan = plan_stack(project, project.stack("azure-standby"))
    grant = one(plan, "azure-native:authorization:RoleAssignment", "-publisher-blob-contributor")
    assert grant.inputs["principalId"] == publisher


def test_publisher_must_be_an_entra_object_id(make_project: MakeProject) -> None:
    config = standby_config("warm", "azure", model_publisher="ci@example.com")
    project = make_project({"aws-primary": service_config(), "azure-standby": config})
    with pytest.raises(SpecError) as caught:
        project.stack("azure-standby").validate()
    assert "model_publisher" in str(caught.value)


def test_parity_reports_the_version_aks_runs_not_the_one_asked_for(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`currentKubernetesVersion` is what the cluster runs; `kubernetesVersion` only echoes
    the spec. A cluster that runs another minor than asked must show it in parity."""
    answer = azure_plan.COMPUTED[CLUSTER]

    def runs_older(name: str, inputs: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        return {**answer(name, inputs, config), "currentKubernetesVersion": "1.29.9"}

    monkeypatch.setitem(azure_plan.COMPUTED, CLUSTER, runs_older)
    plan = plan_stack(project, project.stack("azure-standby"))
    assert plan.outputs["parity"]["Kubernetes minor"] == "1.29"
