"""Azure under an offline plan: what ARM would compute (resource IDs, the AKS OIDC issuer,
managed identities' client and principal IDs, key URIs), the invokes the builders make, and
the properties `exitplan plan` shows per type. Values are placeholders, marked as such."""

from __future__ import annotations

import base64

import yaml

from components.providers.plan_values import (
    PLACEHOLDER_CA,
    Computed,
    Invoke,
    State,
    digest,
    region_of,
)

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
# The AKS-managed Entra ID server and client applications every AKS user kubeconfig names
# (learn.microsoft.com/azure/aks/kubelogin-authentication, checked 2026-11-30).
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"
AKS_CLIENT_APP = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
NAME_INPUTS = (
    "resourceName",
    "accountName",
    "containerName",
    "vaultName",
    "keyName",
    "resourceGroupName",
    "virtualNetworkName",
    "agentPoolName",
)


def identifiers(typ: str, name: str, inputs: State) -> State:
    """Every ARM resource has a name (its physical name input) and a resource ID."""
    physical = next((inputs[k] for k in NAME_INPUTS if k in inputs), name)
    return {
        "name": physical,
        "id": f"/subscriptions/{SUBSCRIPTION}/providers/{typ.split(':')[1]}/{name}",
    }


def _identity(name: str, _inputs: State, _config: State) -> State:
    return {
        "clientId": f"22222222-0000-0000-0000-{digest(name, 12).lower()}",
        "principalId": f"33333333-0000-0000-0000-{digest(name, 12).lower()}",
        "tenantId": TENANT,
    }


def _cluster(name: str, inputs: State, config: State) -> State:
    cluster = inputs.get("resourceName", name)
    identity = dict(inputs.get("identity") or {})
    # The API answers user-assigned identities as a map of id -> principal, not the input list.
    identity["userAssignedIdentities"] = {
        uid: _identity(uid, {}, config) for uid in identity.get("userAssignedIdentities") or []
    }
    region = region_of(inputs, "eastus")
    requested = str(inputs.get("kubernetesVersion", ""))
    return {
        "name": cluster,
        "identity": identity,
        # A major.minor request runs that minor's newest GA patch (placeholder patch here).
        "currentKubernetesVersion": requested if requested.count(".") == 2 else f"{requested}.0",
        "fqdn": f"{cluster}.hcp.{region}.azmk8s.io",
        "oidcIssuerProfile": {
            "enabled": True,
            "issuerURL": f"https://{region}.oic.prod-aks.azure.com/{TENANT}/{digest(cluster)}/",
        },
    }


def _key(name: str, inputs: State, _config: State) -> State:
    vault = inputs.get("vaultName", "vault")
    key = inputs.get("keyName", name)
    version = digest(name, 32).lower()
    return {"keyUriWithVersion": f"https://{vault}.vault.azure.net/keys/{key}/{version}"}


COMPUTED: dict[str, Computed] = {
    "azure-native:containerservice:ManagedCluster": _cluster,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:keyvault:Key": _key,
}


def _kubeconfig(args: State) -> str:
    """The user kubeconfig as AKS returns it with `format=exec`: YAML, kubelogin by device
    code (pulumi/pulumi-azure-native#2399)."""
    cluster = str(args.get("resourceName", "aks"))
    user = f"clusterUser_{args.get('resourceGroupName', 'rg')}_{cluster}"
    login = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "kubelogin",
        "args": [
            "get-token",
            "--environment",
            "AzurePublicCloud",
            "--server-id",
            AKS_SERVER_APP,
            "--client-id",
            AKS_CLIENT_APP,
            "--tenant-id",
            TENANT,
            "--login",
            "devicecode",
        ],
        "env": None,
        "provideClusterInfo": False,
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": f"https://{cluster}.plan.invalid:443",
                    "certificate-authority-data": PLACEHOLDER_CA,
                },
            }
        ],
        "users": [{"name": user, "user": {"exec": login}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }
    return base64.b64encode(yaml.safe_dump(config).encode()).decode()


INVOKES: dict[str, Invoke] = {
    "azure-native:authorization:getClientConfig": lambda _a, _c: {
        "clientId": "plan-client",
        "objectId": "plan-object",
        "subscriptionId": SUBSCRIPTION,
        "tenantId": TENANT,
    },
    "azure-native:containerservice:listManagedClusterUserCredentials": lambda args, _c: {
        "kubeconfigs": [{"name": "clusterUser", "value": _kubeconfig(args)}]
    },
}


KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "azure-native:containerservice:ManagedCluster": (
        "kubernetesVersion",
        "oidcIssuerProfile.enabled",
        "securityProfile.workloadIdentity.enabled",
        "securityProfile.azureKeyVaultKms.enabled",
        "apiServerAccessProfile.authorizedIPRanges",
        "disableLocalAccounts",
    ),
    "azure-native:containerservice:AgentPool": (
        "vmSize",
        "minCount",
        "maxCount",
        "nodeTaints",
        "scaleSetPriority",
    ),
    "azure-native:storage:StorageAccount": (
        "accountName",
        "sku.name",
        "allowBlobPublicAccess",
        "allowSharedKeyAccess",
        "minimumTlsVersion",
        "encryption.requireInfrastructureEncryption",
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": ("subject",),
}
