"""AWS under an offline plan: what the API would compute for the resources the builders
declare (ARNs, the EKS endpoint and OIDC issuer), the invokes they make, and the properties
`exitplan plan` shows per type. Values are placeholders, marked as such."""

from __future__ import annotations

from components import catalog
from components.providers.plan_values import (
    ACCOUNT,
    PLACEHOLDER_CA,
    Computed,
    Invoke,
    State,
    digest,
    region_of,
)

# ARN formats with no region or account ("Identify AWS resources with Amazon Resource Names":
# S3 bucket arn:aws:s3:::bucket-name; IAM arn:aws:iam::account:role/name, policy/name).
S3_BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
IAM_KINDS = {"aws:iam/role:Role": "role", "aws:iam/policy:Policy": "policy"}


def identifiers(typ: str, name: str, inputs: State) -> State:
    """Every AWS resource has an ARN, in its service's format."""
    if typ in S3_BUCKET_TYPES:
        return {"arn": f"arn:aws:s3:::{inputs.get('bucket', name)}"}
    if typ in IAM_KINDS:
        return {"arn": f"arn:aws:iam::{ACCOUNT}:{IAM_KINDS[typ]}/{inputs.get('name', name)}"}
    service = typ.split(":")[1].split("/")[0]
    return {"arn": f"arn:aws:{service}:us-east-1:{ACCOUNT}:{name}"}


def _eks(name: str, inputs: State, config: State) -> State:
    cluster = inputs.get("name", name)
    region = region_of(inputs, "us-east-1")
    issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{digest(cluster, 32)}"
    return {
        "name": cluster,
        "kubernetesNetworkConfig": {"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"},
        "endpoint": f"https://{digest(cluster, 32)}.gr7.{region}.eks.amazonaws.com",
        # The security group EKS creates for the control plane and the nodes.
        "vpcConfig": {
            **(inputs.get("vpcConfig") or {}),
            "clusterSecurityGroupId": f"sg-{digest(cluster, 17).lower()}",
        },
        "certificateAuthority": {"data": PLACEHOLDER_CA},
        "identities": [{"oidcs": [{"issuer": issuer}]}],
    }


COMPUTED: dict[str, Computed] = {
    "aws:eks/cluster:Cluster": _eks,
    "aws:s3/bucket:Bucket": lambda name, inputs, _c: {"bucket": inputs.get("bucket", name)},
    "aws:ec2/launchTemplate:LaunchTemplate": lambda _n, _i, _c: {"latestVersion": 1},
}


def _zone(args: State) -> State:
    zone_id = f"Z{digest(str(args.get('name', 'zone')), 12)}"
    return {"zoneId": zone_id, "name": args.get("name", ""), "id": zone_id}


def _lb_zone(args: State) -> State:
    """An Elastic Load Balancing hosted zone id (a placeholder: the provider reads its own
    per-region table at deploy time)."""
    key = f"{args.get('region', '')}/{args.get('loadBalancerType', 'application')}"
    zone_id = f"Z{digest(key, 12)}"
    return {"id": zone_id, "region": args.get("region", "")}


def _instances(args: State) -> State:
    """One running instance per filter value, with a documentation-range public (carrier) IP
    (RFC 5737 TEST-NET-1)."""
    values = [v for f in args.get("filters") or [] for v in f.get("values") or []]
    octets = [int(digest(str(v), 2), 16) % 254 + 1 for v in values]
    return {
        "ids": [f"i-{digest(str(v), 17).lower()}" for v in values],
        "publicIps": [f"192.0.2.{o}" for o in octets],
        "privateIps": [f"10.11.0.{o}" for o in octets],
        "ipv6Addresses": [],
        "id": "instances",
    }


# (zone name, instance type) pairs the mocked EC2 does not offer; empty: every type of the
# catalog in every zone. Tests add pairs to see the zone choice follow the offerings.
MISSING_OFFERINGS: set[tuple[str, str]] = set()


def zone_id(region: str, name: str) -> str:
    """A zone's ID as AWS writes them (`use1-az1` for us-east-1a in this placeholder account:
    the name-to-ID mapping is per account)."""
    area, direction, number = region.split("-")
    return f"{area}{direction[0]}{number}-az{ord(name[-1]) - ord('a') + 1}"


def _filter(args: State, name: str) -> list[str] | None:
    values = [f.get("values") or [] for f in args.get("filters") or [] if f.get("name") == name]
    return [str(v) for vs in values for v in vs] if values else None


def _availability_zones(args: State) -> State:
    """The region's zones from the catalog, as `DescribeAvailabilityZones` filters them (all
    are available and need no opt-in here), with the excluded names and IDs left out."""
    region = str(args.get("region", ""))
    excluded = set(args.get("excludeZoneIds") or []) | set(args.get("excludeNames") or [])
    opt_in = _filter(args, "opt-in-status")
    zones = [
        z
        for z in catalog.region("aws", region).zones
        if z not in excluded
        and zone_id(region, z) not in excluded
        and (opt_in is None or "opt-in-not-required" in opt_in)
    ]
    return {
        "names": zones,
        "zoneIds": [zone_id(region, z) for z in zones],
        "groupNames": [region] * len(zones),
        "id": region,
    }


def _instance_type_offerings(args: State) -> State:
    """One row per (zone, type) asked for, except `MISSING_OFFERINGS`."""
    types = _filter(args, "instance-type") or []
    zones = _filter(args, "location") or []
    rows = [(z, t) for z in zones for t in types if (z, t) not in MISSING_OFFERINGS]
    return {
        "locations": [z for z, _ in rows],
        "instanceTypes": [t for _, t in rows],
        "locationTypes": [args.get("locationType", "availability-zone")] * len(rows),
        "id": str(args.get("region", "")),
    }


INVOKES: dict[str, Invoke] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": lambda args, _c: _availability_zones(
        args
    ),
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": lambda args, _c: (
        _instance_type_offerings(args)
    ),
    "aws:route53/getZone:getZone": lambda args, _c: _zone(args),
    "aws:lb/getHostedZoneId:getHostedZoneId": lambda args, _c: _lb_zone(args),
    "aws:ec2/getInstances:getInstances": lambda args, _c: _instances(args),
    "aws:ssm/getParameter:getParameter": lambda args, _c: {
        "name": args.get("name", ""),
        "value": f"ami-{digest(str(args.get('name', '')), 17).lower()}",
        "type": "String",
        "id": args.get("name", ""),
    },
}


# The properties worth a glance per resource type (dotted paths into the inputs).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "cidrBlock"),
    "aws:eks/cluster:Cluster": (
        "version",
        "vpcConfig.endpointPrivateAccess",
        "vpcConfig.publicAccessCidrs",
        "encryptionConfig.resources",
        "enabledClusterLogTypes",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "instanceTypes",
        "amiType",
        "capacityType",
        "scalingConfig",
        "taints",
    ),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "blockPublicAcls",
        "restrictPublicBuckets",
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm",
    ),
    "aws:kms/key:Key": ("enableKeyRotation",),
}
