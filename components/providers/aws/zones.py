"""The two availability zones an EKS cluster is built in, asked of AWS at deploy time.

Zone names map to physical zones per account, and not every zone takes an EKS control plane or
offers every instance type, so the names cannot come from a static list: the zones are the
region's available, opt-in-free zones (minus the zone IDs EKS refuses), in AWS's order, that
offer every instance type the cluster's node groups use.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.errors import SpecError

ZONES_NEEDED = 2
# Zone IDs EKS refuses for cluster subnets ("Subnet requirements for clusters",
# https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html#cluster-subnets, checked
# 2026-11-30): us-east-1 use1-az3, us-west-1 usw1-az2, ca-central-1 cac1-az3.
EKS_REFUSED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")


def cluster_zones(region: str, instance_types: Sequence[str], parent: pulumi.Resource) -> list[str]:
    """The first two zones of `region` that EKS accepts and that offer every one of
    `instance_types`; a `SpecError` naming the region and types when fewer than two do."""
    invoke = pulumi.InvokeOptions(parent=parent)
    zones = aws.get_availability_zones(
        region=region,
        state="available",
        exclude_zone_ids=list(EKS_REFUSED_ZONE_IDS),
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
        opts=invoke,
    ).names
    offerings = aws.ec2.get_instance_type_offerings(
        region=region,
        location_type="availability-zone",
        filters=[
            aws.ec2.GetInstanceTypeOfferingsFilterArgs(
                name="instance-type", values=sorted(set(instance_types))
            ),
            aws.ec2.GetInstanceTypeOfferingsFilterArgs(name="location", values=list(zones)),
        ],
        opts=invoke,
    )
    offered = set(zip(offerings.locations, offerings.instance_types, strict=True))
    usable = [z for z in zones if all((z, t) in offered for t in instance_types)]
    if len(usable) < ZONES_NEEDED:
        raise SpecError(
            f"only {len(usable)} zone(s) of {region} ({', '.join(usable) or 'none'}) accept an "
            f"EKS cluster and offer {' and '.join(sorted(set(instance_types)))}; EKS needs "
            f"{ZONES_NEEDED} (zones available: {', '.join(zones) or 'none'})",
            field="region",
            fix="choose a region, or GPU/system sizes, offered in two zones of it",
        )
    return usable[:ZONES_NEEDED]
