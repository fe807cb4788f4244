"""`TrafficRouter`: one public name for the service, owned by the DNS the stack config names,
routing over the stacks' Triton endpoints by weight (and failover where the DNS can)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pulumi

from components.catalog.clouds import AddressKind, facts
from components.providers.base import RoutedEndpoint
from components.providers.registry import builders
from components.spec import TrafficSpec

if TYPE_CHECKING:
    from components.stack_config import Stack

TYPE = "exitplan:index:TrafficRouter"


@dataclass(frozen=True)
class Site:
    """Where a routed stack serves: what its endpoint's host is, its cloud and its region."""

    kind: AddressKind
    provider: str
    region: str


def site(stack: Stack) -> Site:
    """A routed stack's site from its config and the catalog, known before any address is:
    its cloud's load-balancer address kind, or IPs for edge nodes joined to the service's
    cluster (no load balancer runs in a Wavelength Zone: a NodePort on carrier IPs)."""
    spec = stack.spec
    joined = stack.edge is not None and facts(stack.edge.provider).edge_joins_service_cluster
    kind: AddressKind = "ip" if joined else facts(spec.provider).lb_address
    return Site(kind, spec.provider, spec.region)


@dataclass(frozen=True)
class TrafficRouterArgs:
    """The public name, the router settings, each routed stack's endpoint URL and site."""

    dns_name: str
    traffic: TrafficSpec
    endpoints: Mapping[str, pulumi.Output[str]]
    sites: Mapping[str, Site]


def endpoint_host(url: str) -> str:
    """`abc.elb.amazonaws.com` from `http://abc.elb.amazonaws.com:8000`."""
    return urlparse(url).hostname or url


class TrafficRouter(pulumi.ComponentResource):
    """The DNS records, health checks or profiles that route the public name."""

    public_name: pulumi.Output[str]
    summary: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: TrafficRouterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        traffic = args.traffic
        endpoints = {
            stack: RoutedEndpoint(
                host=url.apply(endpoint_host),
                kind=args.sites[stack].kind,
                provider=args.sites[stack].provider,
                region=args.sites[stack].region,
            )
            for stack, url in args.endpoints.items()
        }
        routed = builders(traffic.dns_provider).build_router(
            name, args.dns_name, traffic, endpoints, self
        )
        self.public_name = pulumi.Output.from_input(routed.public_name)
        self.summary = pulumi.Output.from_input(
            {
                "public_name": routed.public_name,
                "dns_provider": traffic.dns_provider,
                "weights": dict(routed.weights),
                "failover": traffic.failover.model_dump() if traffic.failover else None,
                "health_checked": routed.health_checked,
                "ttl_s": traffic.ttl_s,
            }
        )
        self.register_outputs({"public_name": self.public_name, "summary": self.summary})
