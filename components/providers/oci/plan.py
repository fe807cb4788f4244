"""OCI under an offline plan: what the API would compute (the OKE endpoints, the Vault's
management endpoint), the invokes the builders make (namespace, availability domains, node
pool options, Oracle services, the cluster's kubeconfig, DNS zones) and the properties
`exitplan plan` shows per type. Values are placeholders (documentation IPs, `plan` OCIDs)."""

from __future__ import annotations

import json

from components import catalog
from components.providers.plan_values import PLACEHOLDER_CA, Computed, Invoke, State, digest

NAMESPACE = "plannamespace"
TENANCY_PREFIX = "Plan"
KUBERNETES_VERSIONS = ("v1.31.10", "v1.32.7", "v1.33.1", "v1.34.1", "v1.35.2")
OSN = "All Plan Services In Oracle Services Network"


def ocid(kind: str, seed: str) -> str:
    """A placeholder OCID of the documented form `ocid1.<type>.oc1..<unique>`."""
    return f"ocid1.{kind}.oc1..plan{digest(seed, 24).lower()}"


def identifiers(typ: str, name: str, inputs: State) -> State:
    """OCI resources carry no identifier the builders read beyond their inputs and `id`."""
    return {}


def _cluster(name: str, inputs: State, _config: State) -> State:
    cluster = inputs.get("name", name)
    return {
        "name": cluster,
        "endpoints": [
            {
                "kubernetes": "",
                "publicEndpoint": "203.0.113.30:6443",
                "privateEndpoint": "10.255.255.254:6443",
            }
        ],
        "availableKubernetesUpgrades": [],
    }


def _vault(name: str, _inputs: State, _config: State) -> State:
    host = digest(name, 12).lower()
    return {
        "managementEndpoint": f"https://{host}-management.kms.plan.invalid",
        "cryptoEndpoint": f"https://{host}-crypto.kms.plan.invalid",
    }


COMPUTED: dict[str, Computed] = {
    "oci:ContainerEngine/cluster:Cluster": _cluster,
    "oci:Kms/vault:Vault": _vault,
    "oci:ObjectStorage/bucket:Bucket": lambda name, inputs, _c: {
        "bucketId": ocid("bucket", name),
        "namespace": inputs.get("namespace", NAMESPACE),
    },
    "oci:HealthChecks/httpMonitor:HttpMonitor": lambda name, _i, _c: {
        "resultsUrl": f"https://healthchecks.plan.invalid/20180501/httpProbeResults/{name}",
    },
}


def _domains(args: State) -> State:
    """Every availability domain of the catalog's OCI regions, with a tenancy prefix."""
    zones = [
        z
        for (cloud, _r), region in catalog.regions().items()
        if cloud == "oci"
        for z in region.zones
    ]
    compartment = args.get("compartmentId", "")
    return {
        "compartmentId": compartment,
        "id": compartment,
        "availabilityDomains": [
            {
                "name": f"{TENANCY_PREFIX}:{zone}",
                "id": ocid("availabilitydomain", zone),
                "compartmentId": compartment,
            }
            for zone in zones
        ],
    }


def _node_pool_options(_args: State) -> State:
    sources = []
    for version in KUBERNETES_VERSIONS:
        release = version.removeprefix("v")
        for variant in ("", "-GPU", "-aarch64"):
            source = f"Oracle-Linux-8.10{variant}-2026.11.01-0-OKE-{release}-800"
            sources.append(
                {"sourceType": "IMAGE", "sourceName": source, "imageId": ocid("image", source)}
            )
    return {
        "id": "all",
        "kubernetesVersions": list(KUBERNETES_VERSIONS),
        "shapes": sorted({t.instance_type for t in catalog.instance_types("oci")}),
        "sources": sources,
        "images": [],
    }


def _kubeconfig(args: State) -> State:
    cluster = str(args.get("clusterId", "cluster"))
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "oci",
            "args": ["ce", "cluster", "generate-token", "--cluster-id", cluster],
        }
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": "https://203.0.113.30:6443",
                    "certificate-authority-data": PLACEHOLDER_CA,
                },
            }
        ],
        "users": [{"name": f"user-{cluster}", "user": user}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"user-{cluster}"}}],
        "current-context": cluster,
    }
    return {"clusterId": cluster, "content": json.dumps(config), "id": cluster}


INVOKES: dict[str, Invoke] = {
    "oci:ObjectStorage/getNamespace:getNamespace": lambda args, _c: {
        "namespace": NAMESPACE,
        "id": NAMESPACE,
        "compartmentId": args.get("compartmentId"),
    },
    "oci:Identity/getAvailabilityDomains:getAvailabilityDomains": lambda args, _c: _domains(args),
    "oci:ContainerEngine/getNodePoolOption:getNodePoolOption": lambda a, _c: _node_pool_options(a),
    "oci:Core/getServices:getServices": lambda _a, _c: {
        "id": "services",
        "services": [
            {
                "id": ocid("service", OSN),
                "name": OSN,
                "cidrBlock": "all-plan-services-in-oracle-services-network",
                "description": OSN,
            }
        ],
    },
    "oci:ContainerEngine/getClusterKubeConfig:getClusterKubeConfig": lambda a, _c: _kubeconfig(a),
    "oci:Dns/getZones:getZones": lambda args, _c: {
        "id": "zones",
        "compartmentId": args.get("compartmentId"),
        "zones": [
            {
                "id": ocid("dns-zone", str(args.get("name", "zone"))),
                "name": args.get("name", ""),
                "zoneType": "PRIMARY",
            }
        ],
    },
}


# The properties worth a glance per resource type (dotted paths into the inputs).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "oci:Core/vcn:Vcn": ("cidrBlocks",),
    "oci:Core/subnet:Subnet": ("cidrBlock", "prohibitPublicIpOnVnic"),
    "oci:ContainerEngine/cluster:Cluster": (
        "type",
        "kubernetesVersion",
        "endpointConfig.isPublicIpEnabled",
        "kmsKeyId",
        "clusterPodNetworkOptions.0.cniType",
    ),
    "oci:ContainerEngine/nodePool:NodePool": (
        "nodeShape",
        "nodeShapeConfig",
        "nodeConfigDetails.size",
        "initialNodeLabels",
    ),
    "oci:ContainerEngine/addon:Addon": ("addonName",),
    "oci:ObjectStorage/bucket:Bucket": ("name", "accessType", "versioning"),
    "oci:Identity/policy:Policy": ("statements",),
    "oci:Dns/steeringPolicy:SteeringPolicy": ("template", "ttl"),
    "oci:HealthChecks/httpMonitor:HttpMonitor": ("intervalInSeconds", "path", "port"),
}
