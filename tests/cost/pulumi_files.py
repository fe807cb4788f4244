"""Hand-made `pulumi preview --json` and `pulumi stack export` documents of programs that are not
exitplan's, in the formats Pulumi documents (a preview digest's `steps` with `op`, `urn`,
`provider`, `newState`/`oldState`; a deployment's `resources`), for the cost tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT, STACK = "shop", "dev"


def urn(typ: str, name: str) -> str:
    """A top-level resource's URN in the test program."""
    return f"urn:pulumi:{STACK}::{PROJECT}::{typ}::{name}"


def state(
    typ: str, name: str, inputs: dict[str, Any], provider: str = "", **extra: Any
) -> dict[str, Any]:
    """A resource's state (Pulumi's ResourceV3); `provider` names a provider resource
    ("<package>-<name>")."""
    package = provider.split("-")[0]
    ref = f"{urn(f'pulumi:providers:{package}', provider)}::1234" if provider else ""
    return {
        "urn": urn(typ, name),
        "custom": True,
        "type": typ,
        "inputs": inputs,
        "outputs": {},
        "parent": urn("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}"),
        "provider": ref,
        **extra,
    }


def provider(package: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """A provider resource's state."""
    return state(f"pulumi:providers:{package}", name, inputs)


def preview(
    states: list[dict[str, Any]],
    config: dict[str, str] | None = None,
    ops: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A preview digest creating every state (`ops`: another op by resource name)."""
    steps = []
    for s in states:
        op = (ops or {}).get(s["urn"].rsplit("::", 1)[-1], "create")
        gone = op == "delete"
        step = {"op": op, "urn": s["urn"], "provider": s["provider"]}
        step["oldState" if gone else "newState"] = s
        steps.append(step)
    return {
        "config": config or {},
        "steps": steps,
        "changeSummary": {"create": len(steps)},
        "duration": 1000000,
    }


def export(states: list[dict[str, Any]]) -> dict[str, Any]:
    """A `pulumi stack export` document holding the states as deployed."""
    deployed = [{**s, "id": f"id-{i}", "outputs": dict(s["inputs"])} for i, s in enumerate(states)]
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-12-07T12:00:00Z", "magic": "x", "version": "v3.200.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:x"}},
            "resources": deployed,
        },
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    """The document as a JSON file."""
    path.write_text(json.dumps(document, indent=4), encoding="utf-8")
    return path


def aws_program() -> list[dict[str, Any]]:
    """An EC2 GPU instance and an EKS cluster with a GPU node group, a NAT gateway and its
    address, an application load balancer, a hosted zone, an S3 bucket, an IAM role (free) and
    a CloudWatch log group (no price), in us-east-1 by the provider's region."""
    p = "aws-east"
    return [
        provider("aws", p, {"region": "us-east-1"}),
        state("aws:ec2/instance:Instance", "gpu-box", {"instanceType": "g5.xlarge"}, p),
        state("aws:eks/cluster:Cluster", "eks", {"name": "eks"}, p),
        state(
            "aws:eks/nodeGroup:NodeGroup",
            "gpu-nodes",
            {
                "instanceTypes": ["g4dn.xlarge"],
                "scalingConfig": {"minSize": 2, "maxSize": 5, "desiredSize": 2},
                "capacityType": "ON_DEMAND",
            },
            p,
        ),
        state("aws:ec2/natGateway:NatGateway", "nat", {"subnetId": "s"}, p),
        state("aws:ec2/eip:Eip", "nat-ip", {"domain": "vpc"}, p),
        state("aws:lb/loadBalancer:LoadBalancer", "web", {"loadBalancerType": "application"}, p),
        state("aws:route53/zone:Zone", "zone", {"name": "shop.example."}, p),
        state("aws:s3/bucket:Bucket", "assets", {}, p),
        state("aws:iam/role:Role", "node-role", {"assumeRolePolicy": "{}"}, p),
        state("aws:cloudwatch/logGroup:LogGroup", "logs", {"retentionInDays": 7}, p),
    ]


def gke_program() -> list[dict[str, Any]]:
    """A zonal GKE cluster and an L4 node pool autoscaling 1..3 per zone in two zones, region
    from the stack config's gcp:region, the pool's location a zone."""
    return [
        state("gcp:container/cluster:Cluster", "gke", {"location": "us-central1-a"}),
        state(
            "gcp:container/nodePool:NodePool",
            "l4-pool",
            {
                "location": "us-central1-a",
                "nodeLocations": ["us-central1-a", "us-central1-b"],
                "autoscaling": {"minNodeCount": 1, "maxNodeCount": 3},
                "nodeConfig": {"machineType": "g2-standard-8"},
            },
        ),
        state("gcp:compute/routerNat:RouterNat", "nat", {"region": "us-central1"}),
    ]


def aks_program() -> list[dict[str, Any]]:
    """An AKS cluster (Standard tier, a system pool of 2 D4s_v5) in "East US" and a spot T4
    pool of 3 nodes that names no location (the program's one region applies)."""
    return [
        state(
            "azure-native:containerservice:ManagedCluster",
            "aks",
            {
                "location": "East US",
                "sku": {"name": "Base", "tier": "Standard"},
                "agentPoolProfiles": [{"name": "system", "vmSize": "Standard_D4s_v5", "count": 2}],
            },
        ),
        state(
            "azure-native:containerservice:AgentPool",
            "t4",
            {
                "vmSize": "Standard_NC4as_T4_v3",
                "count": 3,
                "scaleSetPriority": "Spot",
                "nodeLabels": {"pool": "gpu"},
            },
        ),
        state("azure-native:resources:ResourceGroup", "rg", {"location": "eastus"}),
    ]
