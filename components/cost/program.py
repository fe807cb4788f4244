"""Any Pulumi program's monthly cost, from its preview or state (`components.cost.pulumi_json`):
every resource whose type the cost engine prices, on the cloud its type token names, in the
region its inputs, its provider or the stack config give, through the same pricers as
exitplan's own stacks. A resource that cannot be priced is listed with why: a type with no
price (unless the catalog lists it as free), no region, or inputs its pricer needs missing or
unknown until deployed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from components.catalog.clouds import cloud_of_token, facts
from components.catalog.free_types import free_reason
from components.cost.lines import Line, StackCost, Unpriced
from components.cost.profile import Profile
from components.cost.pulumi_json import Program
from components.cost.resources import Context, Priced, pricers
from components.errors import ExitplanError
from components.planning.runner import PlannedResource

KIND = "program"  # the kind of a program that is not exitplan's (lines and --json)
SERVICE = "kubernetes:core/v1:Service"
# Input keys naming where a resource runs, the most specific first.
WHERE_KEYS = ("region", "location", "zone", "availabilityZone")
# Config keys naming a provider's default region, by the Pulumi package's config key.
CONFIG_KEYS = ("region", "location", "zone")
REGION = re.compile(r"^[a-z]+(?:-[a-z]+)*-?\d*$")
AWS_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")  # us-east-1a -> us-east-1
GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")  # us-central1-a -> us-central1


def price_program(program: Program, profile: Profile) -> StackCost:
    """Price every resource of the program at the profile (node pools and groups, as for a
    stack: the profile's count within their bounds; instances all month)."""
    resources = program.plan.resources
    clouds = sorted({c for r in resources if (c := cloud_of_token(r.type))})
    regions = _regions(program, clouds)
    lines: list[Line] = []
    unpriced: list[Unpriced] = []
    for r in resources:
        for item in _price(program, r, clouds, regions, profile):
            if isinstance(item, Line):
                lines.append(item)
            else:
                unpriced.append(item)
    notes = [
        f"{program.source} {program.path}: {len(resources)} resources, "
        f"{len(lines)} lines priced, {len(unpriced)} resources not priced",
        f"utilisation: {profile.origin}",
    ]
    return StackCost(
        program.name,
        "+".join(clouds) or "none",
        KIND,
        None,
        tuple(lines),
        tuple(unpriced),
        tuple(notes),
    )


def _price(
    program: Program,
    r: PlannedResource,
    clouds: list[str],
    regions: dict[str, str],
    profile: Profile,
) -> Iterator[Priced]:
    """The lines of one resource, or why it has none."""
    pricer = pricers().get(r.type)
    if pricer is None:
        if r.custom and free_reason(r.type) is None:
            yield Unpriced(program.name, r.name, r.type, "no price for this type in the catalog")
        return
    if r.type == SERVICE and r.inputs.get("spec", {}).get("type") != "LoadBalancer":
        return  # only a LoadBalancer Service creates something billed
    cloud = cloud_of_token(r.type) or (clouds[0] if len(clouds) == 1 else None)
    if cloud is None:
        reason = f"its cluster's cloud is not known: the program uses {len(clouds)} clouds"
        yield Unpriced(program.name, r.name, r.type, reason)
        return
    region = _where(r.inputs) or _where(program.providers.get(r.provider, {}))
    region = region or regions.get(cloud, "")
    if not region:
        package = facts(cloud).pulumi_package
        reason = f"no region: set it on the resource or its provider, or {package}:region"
        yield Unpriced(program.name, r.name, r.type, reason)
        return
    ctx = Context(program.name, cloud, region, KIND, program.plan, profile)
    try:
        yield from list(pricer(ctx, r))
    except (ExitplanError, KeyError, TypeError, ValueError, IndexError) as exc:
        reason = f"an input its price needs is missing or unknown until deployed: {exc}"
        yield Unpriced(program.name, r.name, r.type, reason)


def _regions(program: Program, clouds: list[str]) -> dict[str, str]:
    """Each cloud's default region: its provider config in the stack config, else the one
    region every resource and provider of that cloud names."""
    found: dict[str, str] = {}
    for cloud in clouds:
        package = facts(cloud).pulumi_package
        config = {k: program.config.get(f"{package}:{k}") for k in CONFIG_KEYS}
        named = {
            region
            for r in program.plan.resources
            if cloud_of_token(r.type) == cloud
            for region in [_where(r.inputs), _where(program.providers.get(r.provider, {}))]
            if region
        }
        default = _where(config) or (named.pop() if len(named) == 1 else "")
        if default:
            found[cloud] = default
    return found


def _where(inputs: dict[str, Any]) -> str:
    """The region the inputs name (a zone's region), or "" when none or not a region (an
    unknown or secret value)."""
    for key in WHERE_KEYS:
        value = inputs.get(key)
        if isinstance(value, str) and value:
            region = region_of(value)
            if region:
                return region
    return ""


def region_of(value: str) -> str:
    """A region from a region, a zone (`us-east-1a`, `us-central1-a`) or an Azure display
    name (`East US`); "" for anything else."""
    text = value.strip().lower().replace(" ", "")
    for zone in (AWS_ZONE, GCP_ZONE):
        match = zone.match(text)
        if match:
            return match.group(1)
    return text if REGION.match(text) else ""
