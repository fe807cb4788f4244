"""The VCN of an OKE cluster: a public /28 for the Kubernetes API endpoint (port 6443 open only
to the spec's `api_allowed_cidrs` and the workers), a public /24 for load balancers (Triton's
HTTP port), and a private subnet for the workers, which reach the internet through a NAT
gateway and Oracle services (Object Storage, OKE) through a service gateway."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_oci as oci

from components.catalog.clouds import triton_wire
from components.spec import ServiceSpec

TCP = "6"
ICMP = "1"
ALL = "all"
ANYWHERE = "0.0.0.0/0"
API_PORT = 6443
WORKER_API_PORT = 12250  # workers to the control plane (OKE)
KUBE_PROXY_HEALTH_PORT = 10256  # load balancer health checks of the nodes
NODE_PORTS = (30000, 32767)


@dataclass(frozen=True)
class Network:
    """What the cluster and its pools are placed in."""

    vcn: oci.core.Vcn
    api_subnet: oci.core.Subnet
    lb_subnet: oci.core.Subnet
    nodes: oci.core.Subnet
    # The internet sources allowed to reach the API endpoint, as the security list declares.
    api_public_sources: pulumi.Output[list[str]]


@dataclass(frozen=True)
class Blocks:
    """The spec's CIDR split: workers get half, load balancers a /24, the API endpoint a /28."""

    nodes: ipaddress.IPv4Network
    lb: ipaddress.IPv4Network
    api: ipaddress.IPv4Network


def blocks(spec: ServiceSpec) -> Blocks:
    """The subnets carved from the spec's VCN range."""
    nodes, rest = ipaddress.IPv4Network(spec.network.cidr).subnets(prefixlen_diff=1)
    lb = next(rest.subnets(new_prefix=24))
    api = list(rest.subnets(new_prefix=28))[-1]
    return Blocks(nodes, lb, api)


def dns_label(text: str) -> str:
    """VCN DNS labels: a letter, then letters and digits, at most 15 characters."""
    label = re.sub(r"[^a-z0-9]", "", text.lower())
    return ("v" + label if not label[:1].isalpha() else label)[:15]


def build_network(
    name: str,
    spec: ServiceSpec,
    compartment: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
    invoke: pulumi.InvokeOutputOptions,
) -> Network:
    """VCN, gateways, route tables, security lists and the three subnets."""
    cidr = blocks(spec)
    common: dict[str, Any] = {"compartment_id": compartment, "freeform_tags": tags}
    vcn = oci.core.Vcn(
        f"{name}-vcn",
        cidr_blocks=[spec.network.cidr],
        display_name=name,
        dns_label=dns_label(spec.name),
        opts=opts,
        **common,
    )
    on_vcn = {**common, "vcn_id": vcn.id}
    internet = oci.core.InternetGateway(f"{name}-igw", enabled=True, opts=opts, **on_vcn)
    nat = oci.core.NatGateway(f"{name}-nat", opts=opts, **on_vcn)
    oracle = oci.core.get_services_output(opts=invoke).services.apply(oracle_services_network)
    services = oci.core.ServiceGateway(
        f"{name}-sgw",
        services=[{"service_id": oracle.apply(lambda s: s["id"])}],
        opts=opts,
        **on_vcn,
    )
    osn_cidr = oracle.apply(lambda s: s["cidr_block"])
    public_routes = oci.core.RouteTable(
        f"{name}-public-routes",
        route_rules=[{"network_entity_id": internet.id, "destination": ANYWHERE}],
        opts=opts,
        **on_vcn,
    )
    private_routes = oci.core.RouteTable(
        f"{name}-private-routes",
        route_rules=[
            {"network_entity_id": nat.id, "destination": ANYWHERE},
            {
                "network_entity_id": services.id,
                "destination": osn_cidr,
                "destination_type": "SERVICE_CIDR_BLOCK",
            },
        ],
        opts=opts,
        **on_vcn,
    )
    api_sources = list(spec.network.api_allowed_cidrs)
    api_rules = oci.core.SecurityList(
        f"{name}-api-rules",
        display_name=f"{name}-api",
        ingress_security_rules=[
            *[_tcp_in(source, API_PORT, API_PORT, "Kubernetes API") for source in api_sources],
            _tcp_in(str(cidr.nodes), API_PORT, API_PORT, "workers to the Kubernetes API"),
            _tcp_in(str(cidr.nodes), WORKER_API_PORT, WORKER_API_PORT, "workers to OKE"),
        ],
        egress_security_rules=[
            _out(TCP, str(cidr.nodes), "to the workers"),
            _out(TCP, osn_cidr, "OKE control plane services", (443, 443), service=True),
        ],
        opts=opts,
        **on_vcn,
    )
    node_rules = oci.core.SecurityList(
        f"{name}-node-rules",
        display_name=f"{name}-nodes",
        ingress_security_rules=[
            _in(ALL, str(cidr.nodes), "pod and node traffic"),
            _in(TCP, str(cidr.api), "the control plane"),
            _tcp_in(str(cidr.lb), *NODE_PORTS, "load balancers to node ports"),
            _tcp_in(
                str(cidr.lb), KUBE_PROXY_HEALTH_PORT, KUBE_PROXY_HEALTH_PORT, "LB health checks"
            ),
            oci.core.SecurityListIngressSecurityRuleArgs(
                protocol=ICMP,
                source=ANYWHERE,
                icmp_options=oci.core.SecurityListIngressSecurityRuleIcmpOptionsArgs(
                    type=3, code=4
                ),
                description="path MTU discovery",
            ),
        ],
        egress_security_rules=[_out(ALL, ANYWHERE, "NAT and Oracle services")],
        opts=opts,
        **on_vcn,
    )
    http = triton_wire().http_port
    lb_rules = oci.core.SecurityList(
        f"{name}-lb-rules",
        display_name=f"{name}-load-balancers",
        ingress_security_rules=[_tcp_in(ANYWHERE, http, http, "Triton HTTP")],
        egress_security_rules=[
            _out(TCP, str(cidr.nodes), "to node ports", NODE_PORTS),
            _out(
                TCP,
                str(cidr.nodes),
                "node health checks",
                (KUBE_PROXY_HEALTH_PORT, KUBE_PROXY_HEALTH_PORT),
            ),
        ],
        opts=opts,
        **on_vcn,
    )

    def subnet(part: str, label: str, routes: Any, rules: Any, public: bool) -> oci.core.Subnet:
        """One of the VCN's three subnets (`part`: api, lb or nodes); a private one also
        refuses internet ingress."""
        return oci.core.Subnet(
            f"{name}-{part}",
            cidr_block=str(getattr(cidr, part)),
            display_name=f"{name}-{label}",
            dns_label=part,
            route_table_id=routes.id,
            security_list_ids=[rules.id],
            prohibit_public_ip_on_vnic=not public,
            prohibit_internet_ingress=None if public else True,  # None: not set
            opts=opts,
            **on_vcn,
        )

    api = subnet("api", "api", public_routes, api_rules, public=True)
    lb = subnet("lb", "load-balancers", public_routes, lb_rules, public=True)
    nodes = subnet("nodes", "nodes", private_routes, node_rules, public=False)
    return Network(
        vcn=vcn,
        api_subnet=api,
        lb_subnet=lb,
        nodes=nodes,
        api_public_sources=pulumi.Output.from_input(api_sources),
    )


def oracle_services_network(services: Any) -> dict[str, str]:
    """The `All <region> Services In Oracle Services Network` entry (Object Storage included)."""
    for service in services or []:
        name = str(field_of(service, "name") or "")
        if name.startswith("All ") and name.endswith("Services In Oracle Services Network"):
            return {
                "id": str(field_of(service, "id")),
                "cidr_block": str(field_of(service, "cidr_block")),
            }
    raise ValueError("the region lists no 'All ... Services In Oracle Services Network' entry")


def _tcp_in(
    source: str, low: int, high: int, description: str
) -> oci.core.SecurityListIngressSecurityRuleArgs:
    return _in(
        TCP,
        source,
        description,
        oci.core.SecurityListIngressSecurityRuleTcpOptionsArgs(min=low, max=high),
    )


def _in(
    protocol: str,
    source: str,
    description: str,
    tcp: oci.core.SecurityListIngressSecurityRuleTcpOptionsArgs | None = None,
) -> oci.core.SecurityListIngressSecurityRuleArgs:
    return oci.core.SecurityListIngressSecurityRuleArgs(
        protocol=protocol, source=source, tcp_options=tcp, description=description
    )


def _out(
    protocol: str,
    destination: pulumi.Input[str],
    description: str,
    ports: tuple[int, int] | None = None,
    service: bool = False,
) -> oci.core.SecurityListEgressSecurityRuleArgs:
    return oci.core.SecurityListEgressSecurityRuleArgs(
        protocol=protocol,
        destination=destination,
        destination_type="SERVICE_CIDR_BLOCK" if service else None,
        tcp_options=oci.core.SecurityListEgressSecurityRuleTcpOptionsArgs(
            min=ports[0], max=ports[1]
        )
        if ports
        else None,
        description=description,
    )


def field_of(value: Any, key: str) -> Any:
    """A field of an invoke result or a resource output: a typed object or a plain mapping
    (snake_case or the engine's camelCase)."""
    if isinstance(value, dict):
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        return value.get(key, value.get(camel))
    return getattr(value, key, None)
