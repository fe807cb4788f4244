"""Azure under an offline plan: what ARM would compute (resource IDs, the AKS OIDC issuer,
managed identities' client and principal IDs, key URIs), the invokes the builders make, and
the properties `exitplan plan` shows per type. Values are placeholders, marked as such."""

from __future__ import annotations

import base64
import json

from components.providers.plan_values import Computed, Invoke, State, digest, region_of

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
TENANT = "11111111-1111-1111-1111-111111111111"
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
    return {
        "name": cluster,
        "identity": identity,
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
    cluster = str(args.get("resourceName", "aks"))
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": f"https://{cluster}.plan.invalid:443"}}
        ],
        "users": [{"name": "clusterUser", "user": {"exec": {"command": "kubelogin"}}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": "clusterUser"}}],
        "current-context": cluster,
    }
    return base64.b64encode(json.dumps(config).encode()).decode()


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
