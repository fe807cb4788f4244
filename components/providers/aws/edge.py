"""AWS Wavelength: GPU (or CPU) nodes in a Wavelength Zone joined to the parent region's EKS
cluster of the service stack.

EKS managed node groups are not supported in Wavelength Zones; AWS documents self-managed
nodes there (https://docs.aws.amazon.com/eks/latest/userguide/eks-outposts-self-managed-nodes.html
and https://docs.aws.amazon.com/wavelength/latest/developerguide/wavelength-quotas.html): a
launch template with the EKS-optimized AMI, an Auto Scaling group in the Wavelength subnet, a
carrier gateway for carrier IPs, and an EKS access entry for the node role."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws

from components.catalog.clouds import GPU_NODE_LABEL
from components.catalog.resolve import EdgePlan
from components.providers.aws.addons import autoscaler_tags
from components.providers.aws.cluster import FACTS, node_role
from components.providers.base import (
    EDGE_TAINT_KEY,
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    TRITON_NODE_PORTS,
    CloudCluster,
    EdgeCluster,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
)
from components.spec import EdgeSpec, ServiceSpec

ZONE_LABEL = "topology.kubernetes.io/zone"
AMI_PARAMETER = (
    "/aws/service/eks/optimized-ami/{version}/amazon-linux-2023/x86_64/"
    "{flavour}/recommended/image_id"
)
VOLUME_GIB = 200
BOUNDARY = "EXITPLAN"


def build_edge(
    name: str,
    spec: ServiceSpec,
    edge: EdgeSpec,
    plan: EdgePlan,
    attachment: pulumi.Output[dict[str, Any]],
    service_kubeconfig: pulumi.Output[str],
    parent: pulumi.Resource,
) -> EdgeCluster:
    """Carrier gateway, Wavelength subnet and route, self-managed nodes joined to EKS."""
    opts = pulumi.ResourceOptions(parent=parent)
    tags = {**spec.tags, "exitplan:service": spec.name, "exitplan:role": "edge"}
    vpc_id = attachment.apply(lambda a: str(a["vpc_id"]))
    cluster_name = attachment.apply(lambda a: str(a["cluster_name"]))
    block = aws.ec2.VpcIpv4CidrBlockAssociation(
        f"{name}-cidr", vpc_id=vpc_id, cidr_block=edge.network.cidr, opts=opts
    )
    carrier = aws.ec2.CarrierGateway(f"{name}-carrier-gateway", vpc_id=vpc_id, tags=tags, opts=opts)
    # A Wavelength Zone serves an account only once its zone group is opted in (else the subnet
    # fails "zone not enabled"); destroying the resource does not opt out.
    opt_in = aws.ec2.AvailabilityZoneGroup(
        f"{name}-zone-group", group_name=zone_group(plan.zone), opt_in_status="opted-in", opts=opts
    )
    subnet = aws.ec2.Subnet(
        f"{name}-subnet",
        vpc_id=vpc_id,
        cidr_block=edge.network.cidr,
        availability_zone=plan.zone,
        tags={**tags, "Name": f"{name}-{plan.zone}"},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[block, opt_in])),
    )
    routes = aws.ec2.RouteTable(
        f"{name}-rt",
        vpc_id=vpc_id,
        routes=[{"cidr_block": "0.0.0.0/0", "carrier_gateway_id": carrier.id}],
        tags=tags,
        opts=opts,
    )
    aws.ec2.RouteTableAssociation(
        f"{name}-rta", subnet_id=subnet.id, route_table_id=routes.id, opts=opts
    )
    role, attachments = node_role(name, tags, opts)
    profile = aws.iam.InstanceProfile(f"{name}-node-profile", role=role.name, opts=opts)
    access = aws.eks.AccessEntry(
        f"{name}-access",
        cluster_name=cluster_name,
        principal_arn=role.arn,
        type="EC2_LINUX",
        tags=tags,
        opts=opts,
    )
    carrier_access = _carrier_access(name, vpc_id, tags, opts)
    template = _launch_template(
        name, spec, edge, plan, attachment, profile, carrier_access, tags, opts
    )
    nodes = aws.autoscaling.Group(
        f"{name}-nodes",
        vpc_zone_identifiers=[subnet.id],
        min_size=edge.min_nodes,
        max_size=edge.node_ceiling,
        desired_capacity=edge.min_nodes,
        launch_template={"id": template.id, "version": template.latest_version.apply(str)},
        tags=cluster_name.apply(lambda cluster: _group_tags(name, cluster)),
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[access, *attachments])
        ),
    )
    cloud = CloudCluster(
        cluster_name=cluster_name,
        kubeconfig=pulumi.Output.secret(service_kubeconfig),
        kubernetes_version=attachment.apply(lambda a: str(a["kubernetes_version"])),
        identity=WorkloadIdentity(
            kind=FACTS.identity_kind,
            principal=attachment.apply(lambda a: str(a["triton_role_arn"])),
            # Triton's service account already exists in the parent cluster, annotated.
            service_account_annotations={},
        ),
        model_source=ModelSource(
            uri=attachment.apply(lambda a: str(a["model_repository_uri"])),
            env={"AWS_DEFAULT_REGION": plan.parent_region, "AWS_REGION": plan.parent_region},
        ),
        encryption=pulumi.Output.from_input(encryption_summary(True)),
        api_exposure=pulumi.Output.from_input(
            "API: the parent EKS cluster's; nodes reached on carrier IPs"
        ),
        gpu_pool=nodes,
        load_balancer_annotations={},
        model_store_name=attachment.apply(lambda a: _bucket(str(a["model_repository_uri"]))),
    )
    # Network Load Balancers do not run in Wavelength Zones: clients reach the nodes' carrier
    # IPs on a NodePort.
    return EdgeCluster(
        cloud,
        shared_cluster=True,
        zone_selector={ZONE_LABEL: plan.zone},
        service_type="NodePort",
        endpoint=_carrier_endpoint(nodes, parent),
    )


def _group_tags(name: str, cluster: str) -> list[aws.autoscaling.GroupTagArgsDict]:
    """The Auto Scaling group's tags: the cluster's ownership and the node name (on the
    instances too), and Cluster Autoscaler's auto-discovery tags, which its IAM policy's
    conditions also name (on the group only; review M3/J7)."""
    discovery: list[aws.autoscaling.GroupTagArgsDict] = [
        {"key": key, "value": value, "propagate_at_launch": False}
        for key, value in autoscaler_tags(cluster).items()
    ]
    return [
        {"key": f"kubernetes.io/cluster/{cluster}", "value": "owned", "propagate_at_launch": True},
        {"key": "Name", "value": f"{name}-node", "propagate_at_launch": True},
        *discovery,
    ]


def _carrier_access(
    name: str, vpc_id: pulumi.Output[str], tags: dict[str, str], opts: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """Triton's pinned node ports open to the carrier network (its devices have no fixed
    range), added to the nodes beside the cluster's own security group."""
    ports = sorted(TRITON_NODE_PORTS.values())
    return aws.ec2.SecurityGroup(
        f"{name}-carrier-access",
        vpc_id=vpc_id,
        description="Triton node ports from the carrier network",
        ingress=[
            {
                "protocol": "tcp",
                "from_port": ports[0],
                "to_port": ports[-1],
                "cidr_blocks": ["0.0.0.0/0"],
                "description": "Triton HTTP and gRPC node ports",
            }
        ],
        tags=tags,
        opts=opts,
    )


def _carrier_endpoint(nodes: aws.autoscaling.Group, parent: pulumi.Resource) -> pulumi.Output[str]:
    """`http://<carrier IP>:<HTTP node port>` of the group's first running node, read once the
    group holds its minimum (EC2 reports a carrier IP as the instance's public IP). A replaced
    node changes it: the next `pulumi up` reads it again."""
    found = aws.ec2.get_instances_output(
        filters=nodes.name.apply(
            lambda group: [
                aws.ec2.GetInstancesFilterArgs(name="tag:aws:autoscaling:groupName", values=[group])
            ]
        ),
        instance_state_names=["running"],
        opts=pulumi.InvokeOutputOptions(parent=parent, depends_on=[nodes]),
    )
    port = TRITON_NODE_PORTS["http"]
    return found.public_ips.apply(lambda ips: f"http://{sorted(ips)[0]}:{port}" if ips else "")


def _launch_template(
    name: str,
    spec: ServiceSpec,
    edge: EdgeSpec,
    plan: EdgePlan,
    attachment: pulumi.Output[dict[str, Any]],
    profile: aws.iam.InstanceProfile,
    carrier_access: aws.ec2.SecurityGroup,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.ec2.LaunchTemplate:
    flavour = "nvidia" if plan.on_gpu else "standard"
    ami = aws.ssm.get_parameter_output(
        name=AMI_PARAMETER.format(version=spec.kubernetes_version, flavour=flavour),
        opts=pulumi.InvokeOutputOptions(parent=opts.parent),
    )
    # The pool label stays `gpu` on GPU nodes (the device plugin DaemonSet selects it); the
    # edge taint keeps the regional service's pods, which select the same GPU model, off the
    # zone's nodes, and only a deployment pinned to the zone tolerates it.
    labels = {"exitplan.io/pool": "gpu" if plan.on_gpu else "edge-cpu", EDGE_TAINT_KEY: plan.zone}
    taints = []
    if plan.on_gpu:
        labels[GPU_NODE_LABEL] = plan.instance.gpu_model
        taints.append(f"{GPU_TAINT_KEY}={GPU_TAINT_VALUE}:NoSchedule")
    taints.append(f"{EDGE_TAINT_KEY}={plan.zone}:NoSchedule")
    return aws.ec2.LaunchTemplate(
        f"{name}-nodes",
        image_id=ami.value,
        instance_type=plan.instance.instance_type,
        iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
        user_data=attachment.apply(lambda a: node_user_data(a, labels, taints)),
        network_interfaces=[
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                device_index=0,
                associate_carrier_ip_address="true",
                security_groups=[
                    attachment.apply(lambda a: str(a["cluster_security_group_id"])),
                    carrier_access.id,
                ],
            )
        ],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_tokens="required", http_put_response_hop_limit=2
        ),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                # Wavelength Zones offer gp2 EBS volumes only.
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=VOLUME_GIB, volume_type="gp2", encrypted="true"
                ),
            )
        ],
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type="instance", tags=tags)
        ],
        opts=opts,
    )


def node_user_data(attachment: dict[str, Any], labels: dict[str, str], taints: list[str]) -> str:
    """The AL2023 `nodeadm` NodeConfig that joins a node to the cluster, base64-encoded."""
    flags = ["--node-labels=" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))]
    if taints:
        flags.append("--register-with-taints=" + ",".join(taints))
    flag_lines = "".join(f"      - {flag}\n" for flag in flags)
    node_config = (
        "apiVersion: node.eks.aws/v1alpha1\n"
        "kind: NodeConfig\n"
        "spec:\n"
        "  cluster:\n"
        f"    name: {attachment['cluster_name']}\n"
        f"    apiServerEndpoint: {attachment['endpoint']}\n"
        f"    certificateAuthority: {attachment['certificate_authority']}\n"
        f"    cidr: {attachment['service_cidr']}\n"
        "  kubelet:\n"
        "    flags:\n"
        f"{flag_lines}"
    )
    document = (
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"\n\n'
        f"--{BOUNDARY}\n"
        "Content-Type: application/node.eks.aws\n\n"
        f"---\n{node_config}\n"
        f"--{BOUNDARY}--\n"
    )
    return base64.b64encode(document.encode()).decode()


def zone_group(zone: str) -> str:
    """A Wavelength Zone's group, which the account opts in to: `us-east-1-wl1` for
    `us-east-1-wl1-bos-wlz-1` (https://docs.aws.amazon.com/wavelength/latest/developerguide/
    get-started-wavelength.html, `aws ec2 modify-availability-zone-group --group-name`)."""
    return zone.rsplit("-", 3)[0]


def _bucket(uri: str) -> str:
    """`models-bucket` from `s3://models-bucket`."""
    return urlparse(uri).netloc
