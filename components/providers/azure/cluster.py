"""Azure: VNet, AKS (OIDC issuer, workload identity, Key Vault KMS, API server VNet
integration), a GPU user pool, a locked-down storage account and a federated identity for
Triton that can only read its container."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re

import pulumi
import pulumi_azure_native as azure
import yaml

from components import catalog
from components.catalog.clouds import GPU_NODE_LABEL, facts, triton_wire
from components.catalog.clouds import storage_account_name as account_of
from components.catalog.resolve import ResolvedPlan
from components.providers.azure.access import wait_for_access
from components.providers.base import (
    FETCH_STAGING,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    TRITON_NAMESPACE,
    TRITON_SERVICE_ACCOUNT,
    CloudCluster,
    ModelFetch,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
    exposure_summary,
    running_under_mocks,
)
from components.spec import ServiceSpec

FACTS = facts("azure")

# Built-in role definition IDs (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
LOAD_BALANCER_ANNOTATIONS = {
    "service.beta.kubernetes.io/azure-load-balancer-health-probe-request-path": (
        triton_wire().ready_path
    ),
}


def pulumi_provider(spec: ServiceSpec) -> pulumi.ProviderResource:
    """The Azure Native provider for the spec's region (subscription from the environment)."""
    return azure.Provider("azure-native", location=spec.region)


def build_cluster(
    name: str,
    spec: ServiceSpec,
    plan: ResolvedPlan,
    parent: pulumi.Resource,
    extended_zone: str | None = None,
) -> CloudCluster:
    """AKS with system and GPU pools, a storage container and workload identity for Triton;
    in an Azure Extended Zone (`extended_zone`) when given."""
    opts = pulumi.ResourceOptions(parent=parent)
    placed = (
        azure.containerservice.ExtendedLocationArgs(name=extended_zone, type="EdgeZone")
        if extended_zone
        else None
    )
    tags = {**spec.tags, "exitplan-service": spec.name, "exitplan-role": spec.role}
    client = azure.authorization.get_client_config_output(
        opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    group = azure.resources.ResourceGroup(f"{name}-rg", location=spec.region, tags=tags, opts=opts)
    node_subnet, api_subnet = _network(name, spec, group, tags, opts, extended_zone)
    control_plane, kms_key, grants = _control_plane(
        name, spec, group, {"nodes": node_subnet, "apiserver": api_subnet}, client, tags, opts
    )
    cluster = azure.containerservice.ManagedCluster(
        f"{name}-aks",
        resource_name_=name,
        resource_group_name=group.name,
        location=spec.region,
        extended_location=placed,
        dns_prefix=name,
        kubernetes_version=spec.kubernetes_version,
        identity=azure.containerservice.ManagedClusterIdentityArgs(
            type=azure.containerservice.ResourceIdentityType.USER_ASSIGNED,
            user_assigned_identities=[control_plane.id],
        ),
        oidc_issuer_profile={"enabled": True},
        security_profile={
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": {
                "enabled": True,
                "key_id": kms_key.key_uri_with_version,
                "key_vault_network_access": "Public",
            },
        },
        aad_profile={"managed": True, "enable_azure_rbac": True},
        disable_local_accounts=True,
        api_server_access_profile={
            "enable_vnet_integration": True,
            "subnet_id": api_subnet.id,
            "authorized_ip_ranges": list(spec.network.api_allowed_cidrs),
        },
        network_profile=_network_profile(extended_zone),
        agent_pool_profiles=[
            azure.containerservice.ManagedClusterAgentPoolProfileArgs(
                name="system",
                mode=azure.containerservice.AgentPoolMode.SYSTEM,
                vm_size=plan.system_instance.instance_type,
                count=spec.system_pool.nodes,
                os_type=azure.containerservice.OSType.LINUX,
                vnet_subnet_id=node_subnet.id,
                availability_zones=list(plan.region.zones) or None,
                node_taints=["CriticalAddonsOnly=true:NoSchedule"],
            )
        ],
        tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=grants)),
    )
    gpu_pool = _gpu_pool(name, spec, plan, group, cluster, node_subnet, tags, opts)
    account, container = _model_store(name, spec, group, tags, opts)
    # Shared keys are off, so only a data-plane role lets anyone write models, an Owner too.
    _assign(
        f"{name}-publisher-blob-contributor",
        spec.model_publisher or client.object_id,
        STORAGE_BLOB_DATA_CONTRIBUTOR,
        container.id,
        client,
        opts,
    )
    identity = _triton_identity(name, spec, group, cluster, container, client, tags, opts)
    deployer = _assign(
        f"{name}-deployer-cluster-admin",
        client.object_id,
        AKS_RBAC_CLUSTER_ADMIN,
        cluster.id,
        client,
        opts,
    )
    return CloudCluster(
        cluster_name=cluster.name,
        kubeconfig=pulumi.Output.secret(_kubeconfig(group, cluster, deployer, parent)),
        # What the cluster runs (major.minor.patch), not the spec's major.minor echoed back.
        kubernetes_version=cluster.current_kubernetes_version.apply(lambda v: v or ""),
        identity=WorkloadIdentity(
            kind=FACTS.identity_kind,
            principal=identity.client_id,
            service_account_annotations={"azure.workload.identity/client-id": identity.client_id},
            pod_labels={"azure.workload.identity/use": "true"},
        ),
        model_source=_model_source(spec, plan, account, identity),
        encryption=cluster.security_profile.apply(_encryption),
        api_exposure=cluster.api_server_access_profile.apply(_exposure),
        gpu_pool=gpu_pool,
        load_balancer_annotations=LOAD_BALANCER_ANNOTATIONS,
        model_store_name=container.name,
    )


def _network_profile(
    extended_zone: str | None,
) -> azure.containerservice.ContainerServiceNetworkProfileArgsDict:
    """Azure CNI overlay; outside an Extended Zone powered by Cilium, which enforces Kubernetes
    NetworkPolicy (Triton's objects; `network_policy: cilium` needs the Cilium dataplane:
    learn.microsoft.com/azure/aks/azure-cni-powered-by-cilium, checked 2026-12-07). In an
    Extended Zone its support is unconfirmed (README, checkov), so the objects go unenforced."""
    if extended_zone:
        return {"network_plugin": "azure", "network_plugin_mode": "overlay"}
    return {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium",
        "network_policy": "cilium",
    }


def _network(
    name: str,
    spec: ServiceSpec,
    group: azure.resources.ResourceGroup,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    extended_zone: str | None,
) -> tuple[azure.network.Subnet, azure.network.Subnet]:
    cidr = ipaddress.IPv4Network(spec.network.cidr)
    nodes_block, rest = list(cidr.subnets(prefixlen_diff=1))
    api_block = next(rest.subnets(new_prefix=28))
    vnet = azure.network.VirtualNetwork(
        f"{name}-vnet",
        resource_group_name=group.name,
        location=spec.region,
        address_space={"address_prefixes": [spec.network.cidr]},
        extended_location=(
            azure.network.ExtendedLocationArgs(name=extended_zone, type="EdgeZone")
            if extended_zone
            else None
        ),
        tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(ignore_changes=["subnets"])),
    )
    nodes = azure.network.Subnet(
        f"{name}-nodes",
        resource_group_name=group.name,
        virtual_network_name=vnet.name,
        address_prefix=str(nodes_block),
        opts=opts,
    )
    api = azure.network.Subnet(
        f"{name}-apiserver",
        resource_group_name=group.name,
        virtual_network_name=vnet.name,
        address_prefix=str(api_block),
        delegations=[
            {"name": "aks-apiserver", "service_name": "Microsoft.ContainerService/managedClusters"}
        ],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[nodes])),
    )
    return nodes, api


def _control_plane(
    name: str,
    spec: ServiceSpec,
    group: azure.resources.ResourceGroup,
    subnets: dict[str, azure.network.Subnet],
    client: pulumi.Output[azure.authorization.GetClientConfigResult],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[
    azure.managedidentity.UserAssignedIdentity,
    azure.keyvault.Key,
    list[azure.authorization.RoleAssignment],
]:
    """The control plane's identity, its KMS key and the grants AKS checks at create time.

    AKS needs this identity to hold Network Contributor on the subnets it is given (API Server
    VNet Integration with your own VNet) and Key Vault Crypto User on the KMS vault before
    create; `az aks create` grants them itself, ARM and Pulumi must declare them first.
    Sources (checked 2026-11-30): learn.microsoft.com/azure/aks/api-server-vnet-integration
    (bring your own VNet: assign permissions) and
    learn.microsoft.com/azure/aks/use-kms-etcd-encryption.
    """
    identity = azure.managedidentity.UserAssignedIdentity(
        f"{name}-control-plane",
        resource_group_name=group.name,
        location=spec.region,
        tags=tags,
        opts=opts,
    )
    project, stack = pulumi.get_project(), pulumi.get_stack()
    vault = group.name.apply(lambda rg: vault_name(spec, project, stack, rg))
    key, kms_grant = _kms(name, spec, vault, group, identity, client, tags, opts)
    network = [
        _grant(f"{name}-{label}-network", identity, NETWORK_CONTRIBUTOR, subnet.id, client, opts)
        for label, subnet in subnets.items()
    ]
    return identity, key, [kms_grant, *network]


def _kms(
    name: str,
    spec: ServiceSpec,
    vault: pulumi.Output[str],
    group: azure.resources.ResourceGroup,
    control_plane: azure.managedidentity.UserAssignedIdentity,
    client: pulumi.Output[azure.authorization.GetClientConfigResult],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[azure.keyvault.Key, azure.authorization.RoleAssignment]:
    """Key Vault key for etcd secrets (KMS v2) and the control plane's grant to use it."""
    key_vault = azure.keyvault.Vault(
        f"{name}-kv",
        resource_group_name=group.name,
        location=spec.region,
        vault_name=vault,
        properties=azure.keyvault.VaultPropertiesArgs(
            tenant_id=client.tenant_id,
            sku=azure.keyvault.SkuArgs(
                family=azure.keyvault.SkuFamily.A, name=azure.keyvault.SkuName.STANDARD
            ),
            enable_rbac_authorization=True,
            enable_purge_protection=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=90,
        ),
        tags=tags,
        opts=opts,
    )
    key = azure.keyvault.Key(
        f"{name}-kms-key",
        resource_group_name=group.name,
        vault_name=key_vault.name,
        key_name="etcd-secrets",
        properties={"kty": "RSA", "key_size": 2048, "key_ops": ["encrypt", "decrypt"]},
        opts=opts,
    )
    grant = _grant(
        f"{name}-kms-crypto-user", control_plane, KEY_VAULT_CRYPTO_USER, key_vault.id, client, opts
    )
    return key, grant


def _gpu_pool(
    name: str,
    spec: ServiceSpec,
    plan: ResolvedPlan,
    group: azure.resources.ResourceGroup,
    cluster: azure.containerservice.ManagedCluster,
    subnet: azure.network.Subnet,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> azure.containerservice.AgentPool:
    spot = spec.gpu.capacity_type == "spot"
    on_gpu = plan.gpu_instance.gpu_count > 0
    return azure.containerservice.AgentPool(
        f"{name}-gpu" if on_gpu else f"{name}-inference",
        resource_group_name=group.name,
        resource_name_=cluster.name,
        agent_pool_name="gpu" if on_gpu else "inference",
        mode="User",
        os_type="Linux",
        vm_size=plan.gpu_instance.instance_type,
        count=spec.gpu.min_nodes,
        enable_auto_scaling=True,
        min_count=spec.gpu.min_nodes,
        max_count=spec.gpu.max_nodes,
        vnet_subnet_id=subnet.id,
        gpu_profile={"driver": "Install"} if on_gpu else None,
        node_taints=[f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule"] if on_gpu else None,
        node_labels={"exitplan.io/pool": "gpu", GPU_NODE_LABEL: spec.gpu.model}
        if on_gpu
        else {"exitplan.io/pool": "inference-cpu"},
        scale_set_priority="Spot" if spot else "Regular",
        scale_set_eviction_policy="Delete" if spot else None,
        spot_max_price=-1 if spot else None,
        tags=tags,
        opts=opts,
    )


def _model_store(
    name: str,
    spec: ServiceSpec,
    group: azure.resources.ResourceGroup,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[azure.storage.StorageAccount, azure.storage.BlobContainer]:
    account = azure.storage.StorageAccount(
        f"{name}-models",
        resource_group_name=group.name,
        location=spec.region,
        account_name=storage_account_name(spec),
        kind="StorageV2",
        sku={"name": storage_redundancy(spec.region)},
        allow_blob_public_access=False,
        allow_shared_key_access=False,
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        encryption={
            "require_infrastructure_encryption": True,
            "key_source": "Microsoft.Storage",
            "services": {"blob": {"enabled": True, "key_type": "Account"}},
        },
        tags=tags,
        opts=opts,
    )
    azure.storage.BlobServiceProperties(
        f"{name}-models-versioning",
        resource_group_name=group.name,
        account_name=account.name,
        blob_services_name="default",
        is_versioning_enabled=True,
        delete_retention_policy={"enabled": True, "days": 30},
        opts=opts,
    )
    container = azure.storage.BlobContainer(
        f"{name}-models-container",
        resource_group_name=group.name,
        account_name=account.name,
        container_name=spec.model_repository,
        public_access=azure.storage.PublicAccess.NONE,
        opts=opts,
    )
    return account, container


def _triton_identity(
    name: str,
    spec: ServiceSpec,
    group: azure.resources.ResourceGroup,
    cluster: azure.containerservice.ManagedCluster,
    container: azure.storage.BlobContainer,
    client: pulumi.Output[azure.authorization.GetClientConfigResult],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> azure.managedidentity.UserAssignedIdentity:
    identity = azure.managedidentity.UserAssignedIdentity(
        f"{name}-triton-identity",
        resource_group_name=group.name,
        location=spec.region,
        tags=tags,
        opts=opts,
    )
    azure.managedidentity.FederatedIdentityCredential(
        f"{name}-triton-federation",
        resource_group_name=group.name,
        resource_name_=identity.name,
        issuer=cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else ""),
        subject=f"system:serviceaccount:{TRITON_NAMESPACE}:{TRITON_SERVICE_ACCOUNT}",
        audiences=[TOKEN_AUDIENCE],
        opts=opts,
    )
    _grant(
        f"{name}-triton-blob-reader", identity, STORAGE_BLOB_DATA_READER, container.id, client, opts
    )
    return identity


def _model_source(
    spec: ServiceSpec,
    plan: ResolvedPlan,
    account: azure.storage.StorageAccount,
    identity: azure.managedidentity.UserAssignedIdentity,
) -> ModelSource:
    """`as://` with managed identity where Triton supports it; else a workload-identity copy."""
    uri = account.name.apply(lambda _a: FACTS.store_uri(spec.model_repository))
    if plan.triton.azure_managed_identity:
        return ModelSource(
            uri=uri,
            env={
                "AZURE_STORAGE_AUTH_TYPE": "managed_identity",
                "AZURE_STORAGE_CLIENT_ID": identity.client_id,
            },
        )
    # Copied by the model-sync sidecar (`components.model_sync`), which runs this copy every
    # minute and moves only the files that changed into Triton's repository. The image tag is
    # Azure CLI 2.89.0's (github.com/Azure/azure-cli/releases/tag/azure-cli-2.89.0, 2026-08-04);
    # that MCR serves it under that tag follows MCR's per-release tags and was not pulled here.
    cli = catalog.image("azure-cli")
    script = (
        'az login --service-principal -u "$AZURE_CLIENT_ID" -t "$AZURE_TENANT_ID" '
        '--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --output none && '
        f"az storage blob download-batch --auth-mode login --account-name "
        f"{storage_account_name(spec)} --source {spec.model_repository} "
        f"--destination {FETCH_STAGING} --output none"
    )
    return ModelSource(
        uri=uri, env={}, fetch=ModelFetch(image=cli.image, command=["sh", "-c", script])
    )


def storage_account_name(spec: ServiceSpec) -> str:
    """Storage account names are 3-24 lowercase letters and digits, globally unique."""
    return account_of(spec.model_repository)


def storage_redundancy(region: str) -> str:
    """Zone-redundant storage where the region has availability zones, else locally redundant:
    ZRS is offered only in zonal regions (not in westus, an Extended Zone's parent region;
    learn.microsoft.com/azure/storage/common/redundancy-regions-zrs, checked 2026-11-30)."""
    return "Standard_ZRS" if catalog.region("azure", region).zones else "Standard_LRS"


def vault_name(spec: ServiceSpec, project: str, stack: str, group: str) -> str:
    """A Key Vault name: global, 3-24 letters, digits and hyphens, starting with a letter
    (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules, checked
    2026-11-30). The service's name and a hash of project, stack, role and resource group, so
    two stacks of one service never collide and a stack keeps its vault's name while its group
    lives. A purge-protected vault keeps its name for the 90-day soft-delete retention after
    `pulumi destroy`; a redeploy gets a new auto-named group, hence a new vault name."""
    key = f"{project}/{stack}/{spec.role}/{group}"
    return f"{_compact(spec.name, 13)}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _compact(text: str, limit: int) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())[:limit]


def _grant(
    name: str,
    identity: azure.managedidentity.UserAssignedIdentity,
    role_id: str,
    scope: pulumi.Input[str],
    client: pulumi.Output[azure.authorization.GetClientConfigResult],
    opts: pulumi.ResourceOptions,
) -> azure.authorization.RoleAssignment:
    """One built-in role for a user-assigned identity, on one scope only."""
    return _assign(name, identity.principal_id, role_id, scope, client, opts, "ServicePrincipal")


def _assign(
    name: str,
    principal: pulumi.Input[str],
    role_id: str,
    scope: pulumi.Input[str],
    client: pulumi.Output[azure.authorization.GetClientConfigResult],
    opts: pulumi.ResourceOptions,
    principal_type: str | None = None,
) -> azure.authorization.RoleAssignment:
    """One built-in role for a principal (a user, group or service principal: ARM looks up
    the type when none is given), on one scope only."""
    return azure.authorization.RoleAssignment(
        name,
        principal_id=principal,
        principal_type=principal_type,
        role_definition_id=_role(client, role_id),
        scope=scope,
        opts=opts,
    )


def _role(
    client: pulumi.Output[azure.authorization.GetClientConfigResult], role_id: str
) -> pulumi.Output[str]:
    return client.subscription_id.apply(
        lambda sub: (
            f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role_id}"
        )
    )


def _kubeconfig(
    group: azure.resources.ResourceGroup,
    cluster: azure.containerservice.ManagedCluster,
    deployer: azure.authorization.RoleAssignment,
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """The Entra ID user kubeconfig (local accounts are disabled), logging in through the Azure
    CLI. It carries the deployer's cluster-admin grant as a dependency and, under `pulumi up`,
    resolves only once that grant works on the cluster (Azure RBAC takes minutes to apply:
    `access.wait_for_access`), so the Kubernetes provider and every resource it creates wait
    for it."""
    creds = azure.containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=group.name,
        resource_name=cluster.name,
        format="exec",
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    return pulumi.Output.all(creds.kubeconfigs, deployer.id).apply(
        lambda args: _granted(azurecli_kubeconfig(base64.b64decode(args[0][0]["value"]).decode()))
    )


def _granted(kubeconfig: str) -> str:
    """The kubeconfig once its user's role works; offline plans and previews do not wait."""
    if running_under_mocks() or pulumi.runtime.is_dry_run():
        return kubeconfig
    return wait_for_access(kubeconfig)


def azurecli_kubeconfig(raw: str) -> str:
    """The AKS exec kubeconfig with kubelogin's login switched to the Azure CLI's session.

    AKS returns `kubelogin get-token ... --login devicecode`, an interactive prompt that hangs
    inside the Pulumi Kubernetes provider and that Conditional Access blocks
    (pulumi/pulumi-azure-native#2399, Azure/AKS#4990); `az aks get-credentials` now converts it
    the same way (`kubelogin convert-kubeconfig -l azurecli`, Azure/azure-cli#32167). Sources:
    azure.github.io/kubelogin/concepts/login-modes/azurecli.html, checked 2026-11-30."""
    config = yaml.safe_load(raw)
    users = [u["user"]["exec"] for u in config.get("users") or [] if "exec" in u.get("user", {})]
    converted = [u for u in users if u.get("command") == "kubelogin"]
    if not converted:
        raise ValueError("the AKS user kubeconfig has no kubelogin exec user to convert")
    for user in converted:
        user["args"] = [*_without_login(user.get("args") or []), "--login", "azurecli"]
    return json.dumps(config)


def _without_login(args: list[str]) -> list[str]:
    """kubelogin arguments without the login mode (`--login MODE`, `-l MODE`, `--login=MODE`)."""
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--login", "-l"):
            skip = True
        elif not arg.startswith("--login="):
            kept.append(arg)
    return kept


def _encryption(
    profile: azure.containerservice.outputs.ManagedClusterSecurityProfileResponse | None,
) -> str:
    kms = profile.azure_key_vault_kms if profile else None
    return encryption_summary(bool(kms and kms.enabled))


def _exposure(
    profile: azure.containerservice.outputs.ManagedClusterAPIServerAccessProfileResponse | None,
) -> str:
    if profile is None:
        return exposure_summary(False, [])
    return exposure_summary(
        bool(profile.enable_vnet_integration), list(profile.authorized_ip_ranges or [])
    )
