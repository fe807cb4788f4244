"""AWS: VPC over two AZs (asked of AWS at deploy time, `zones.py`), EKS (private endpoint, KMS
secrets, logs), managed node groups, an encrypted versioned S3 model bucket and an IRSA role
that can only read it."""

from __future__ import annotations

import ipaddress
import json

import pulumi
import pulumi_aws as aws

from components.catalog.clouds import GPU_NODE_LABEL, facts, triton_wire
from components.catalog.resolve import ResolvedPlan
from components.providers.aws.addons import IrsaRoles, build_addons
from components.providers.aws.zones import cluster_zones
from components.providers.base import (
    GPU_TAINT_KEY,
    GPU_TAINT_VALUE,
    TRITON_NAMESPACE,
    TRITON_SERVICE_ACCOUNT,
    CloudCluster,
    ModelSource,
    WorkloadIdentity,
    encryption_summary,
    exec_kubeconfig,
    exposure_summary,
)
from components.spec import ServiceSpec

FACTS = facts("aws")

CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
# Its NVIDIA driver branch is catalog data (gpu_drivers.csv), checked against Triton's CUDA by
# policy gpu-driver-meets-triton; no AMI release_version is pinned (none is sourced here).
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"
SYSTEM_AMI_TYPE = "AL2023_x86_64_STANDARD"
NODE_POLICIES = {
    "worker": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "cni": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "ecr": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
}
# AWS Load Balancer Controller Service annotations
# (kubernetes-sigs/aws-load-balancer-controller docs/guide/service/annotations.md). NLB target
# groups check TCP unless the protocol is HTTP (the path alone is ignored), and each port's
# target group checks its own port unless told: gRPC's 8001 answers no HTTP readiness, so both
# check Triton's HTTP readiness on the HTTP port.
LOAD_BALANCER_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "HTTP",
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": str(triton_wire().http_port),
    "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": triton_wire().ready_path,
}
EKS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def pulumi_provider(spec: ServiceSpec) -> pulumi.ProviderResource:
    """The AWS provider for the spec's region, tagging everything it creates."""
    return aws.Provider("aws", region=spec.region, default_tags={"tags": dict(spec.tags)})


def build_cluster(
    name: str, spec: ServiceSpec, plan: ResolvedPlan, parent: pulumi.Resource
) -> CloudCluster:
    """EKS with a system and a GPU managed node group, an S3 model bucket and IRSA for Triton."""
    opts = pulumi.ResourceOptions(parent=parent)
    tags = {**spec.tags, "exitplan:service": spec.name, "exitplan:role": spec.role}
    zones = cluster_zones(
        spec.region,
        [plan.gpu_instance.instance_type, plan.system_instance.instance_type],
        parent,
    )
    vpc, private_subnets, public_subnets = _network(name, spec, zones, tags, opts)
    key = aws.kms.Key(
        f"{name}-secrets-key",
        description=f"EKS secrets envelope and model bucket encryption for {spec.name}",
        enable_key_rotation=True,
        deletion_window_in_days=30,
        tags=tags,
        opts=opts,
    )
    cluster = _eks(name, spec, private_subnets + public_subnets, key, tags, opts)
    oidc = aws.iam.OpenIdConnectProvider(
        f"{name}-oidc",
        url=cluster.identities[0].oidcs[0].issuer,
        client_id_lists=["sts.amazonaws.com"],
        tags=tags,
        opts=opts,
    )
    system_pool, gpu_pool = _node_groups(name, spec, plan, cluster, private_subnets, tags, opts)
    bucket = _model_bucket(name, spec, key, tags, opts)
    irsa = IrsaRoles(oidc, tags, opts)
    role = _triton_role(name, irsa, bucket, key, opts)
    kubeconfig: pulumi.Output[str] = pulumi.Output.secret(_kubeconfig(cluster, spec.region))
    addons = build_addons(
        name, spec.region, cluster, vpc.id, irsa, kubeconfig, [system_pool, gpu_pool], opts
    )
    return CloudCluster(
        cluster_name=cluster.name,
        # Triton's Kubernetes provider takes this kubeconfig once the add-ons are installed,
        # so its LoadBalancer Service and HPA are created after the controllers serving them.
        kubeconfig=pulumi.Output.all(kubeconfig, *(a.id for a in addons)).apply(lambda v: v[0]),
        kubernetes_version=cluster.version,
        identity=WorkloadIdentity(
            kind=FACTS.identity_kind,
            principal=role.arn,
            service_account_annotations={"eks.amazonaws.com/role-arn": role.arn},
        ),
        model_source=ModelSource(
            uri=bucket.bucket.apply(FACTS.store_uri),
            # Triton's S3 client uses the SDK default chain (IRSA) and needs the bucket region.
            env={"AWS_DEFAULT_REGION": spec.region, "AWS_REGION": spec.region},
        ),
        encryption=cluster.encryption_config.apply(_encryption_summary),
        api_exposure=cluster.vpc_config.apply(_exposure_summary),
        gpu_pool=gpu_pool,
        load_balancer_annotations=LOAD_BALANCER_ANNOTATIONS,
        model_store_name=bucket.bucket,
        edge_attachment=pulumi.Output.all(
            vpc_id=vpc.id,
            cluster_name=cluster.name,
            endpoint=cluster.endpoint,
            certificate_authority=cluster.certificate_authority.apply(lambda c: c["data"]),
            cluster_security_group_id=cluster.vpc_config.apply(
                lambda v: v.cluster_security_group_id or ""
            ),
            kubernetes_version=cluster.version,
            service_cidr=cluster.kubernetes_network_config.apply(
                lambda k: (k.service_ipv4_cidr or "") if k else ""
            ),
            triton_role_arn=role.arn,
            model_repository_uri=bucket.bucket.apply(FACTS.store_uri),
        ),
    )


def _network(
    name: str,
    spec: ServiceSpec,
    zones: list[str],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.ec2.Vpc, list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
    vpc = aws.ec2.Vpc(
        f"{name}-vpc",
        cidr_block=spec.network.cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={**tags, "Name": f"{name}-vpc"},
        opts=opts,
    )
    igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=tags, opts=opts)
    public_rt = aws.ec2.RouteTable(
        f"{name}-public-rt",
        vpc_id=vpc.id,
        routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
        tags=tags,
        opts=opts,
    )
    blocks = list(ipaddress.IPv4Network(spec.network.cidr).subnets(new_prefix=_subnet_prefix(spec)))
    private: list[aws.ec2.Subnet] = []
    public: list[aws.ec2.Subnet] = []
    for i, zone in enumerate(zones):
        pub = aws.ec2.Subnet(
            f"{name}-public-{zone}",
            vpc_id=vpc.id,
            cidr_block=str(blocks[2 * i]),
            availability_zone=zone,
            tags={**tags, "kubernetes.io/role/elb": "1", "Name": f"{name}-public-{zone}"},
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-{zone}-rta", subnet_id=pub.id, route_table_id=public_rt.id, opts=opts
        )
        eip = aws.ec2.Eip(f"{name}-nat-{zone}-eip", domain="vpc", tags=tags, opts=opts)
        nat = aws.ec2.NatGateway(
            f"{name}-nat-{zone}", subnet_id=pub.id, allocation_id=eip.id, tags=tags, opts=opts
        )
        priv = aws.ec2.Subnet(
            f"{name}-private-{zone}",
            vpc_id=vpc.id,
            cidr_block=str(blocks[2 * i + 1]),
            availability_zone=zone,
            tags={**tags, "kubernetes.io/role/internal-elb": "1", "Name": f"{name}-private-{zone}"},
            opts=opts,
        )
        private_rt = aws.ec2.RouteTable(
            f"{name}-private-{zone}-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
            tags=tags,
            opts=opts,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-private-{zone}-rta", subnet_id=priv.id, route_table_id=private_rt.id, opts=opts
        )
        public.append(pub)
        private.append(priv)
    return vpc, private, public


def _subnet_prefix(spec: ServiceSpec) -> int:
    """Four equal subnets (public + private in two AZs) carved from the VPC range."""
    return ipaddress.IPv4Network(spec.network.cidr).prefixlen + 2


def _eks(
    name: str,
    spec: ServiceSpec,
    subnets: list[aws.ec2.Subnet],
    key: aws.kms.Key,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.eks.Cluster:
    role = aws.iam.Role(
        f"{name}-cluster-role", assume_role_policy=json.dumps(EKS_TRUST), tags=tags, opts=opts
    )
    attach = aws.iam.RolePolicyAttachment(
        f"{name}-cluster-policy",
        role=role.name,
        policy_arn="arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
        opts=opts,
    )
    logs = aws.cloudwatch.LogGroup(
        f"{name}-cluster-logs",
        name=f"/aws/eks/{name}/cluster",
        retention_in_days=90,
        tags=tags,
        opts=opts,
    )
    return aws.eks.Cluster(
        f"{name}-eks",
        name=name,
        role_arn=role.arn,
        version=spec.kubernetes_version,
        vpc_config={
            "subnet_ids": [s.id for s in subnets],
            "endpoint_private_access": True,
            "endpoint_public_access": True,
            "public_access_cidrs": list(spec.network.api_allowed_cidrs),
        },
        access_config={"authentication_mode": "API"},
        encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
        enabled_cluster_log_types=CONTROL_PLANE_LOGS,
        tags=tags,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[attach, logs])),
    )


def _node_groups(
    name: str,
    spec: ServiceSpec,
    plan: ResolvedPlan,
    cluster: aws.eks.Cluster,
    subnets: list[aws.ec2.Subnet],
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.eks.NodeGroup, aws.eks.NodeGroup]:
    role, attachments = node_role(name, tags, opts)
    after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=attachments))
    subnet_ids = [s.id for s in subnets]
    system = aws.eks.NodeGroup(
        f"{name}-system",
        cluster_name=cluster.name,
        node_role_arn=role.arn,
        subnet_ids=subnet_ids,
        ami_type=SYSTEM_AMI_TYPE,
        instance_types=[plan.system_instance.instance_type],
        capacity_type="ON_DEMAND",
        scaling_config={
            "min_size": spec.system_pool.nodes,
            "desired_size": spec.system_pool.nodes,
            "max_size": spec.system_pool.nodes + 1,
        },
        labels={"exitplan.io/pool": "system"},
        tags=tags,
        opts=after,
    )
    gpu = aws.eks.NodeGroup(
        f"{name}-gpu",
        cluster_name=cluster.name,
        node_role_arn=role.arn,
        subnet_ids=subnet_ids,
        ami_type=GPU_AMI_TYPE,
        instance_types=[plan.gpu_instance.instance_type],
        capacity_type="SPOT" if spec.gpu.capacity_type == "spot" else "ON_DEMAND",
        disk_size=200,
        scaling_config={
            "min_size": spec.gpu.min_nodes,
            "desired_size": spec.gpu.min_nodes,
            "max_size": spec.gpu.max_nodes,
        },
        taints=[{"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": "NO_SCHEDULE"}],
        labels={
            "exitplan.io/pool": "gpu",
            GPU_NODE_LABEL: spec.gpu.model,
            "nvidia.com/gpu.present": "true",
        },
        tags=tags,
        opts=after,
    )
    return system, gpu


def node_role(
    name: str, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """The worker-node role (EKS worker, CNI, ECR read) that nodes of any kind join with."""
    role = aws.iam.Role(
        f"{name}-node-role", assume_role_policy=json.dumps(EC2_TRUST), tags=tags, opts=opts
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{short}", role=role.name, policy_arn=arn, opts=opts
        )
        for short, arn in NODE_POLICIES.items()
    ]
    return role, attachments


def _model_bucket(
    name: str,
    spec: ServiceSpec,
    key: aws.kms.Key,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.s3.Bucket:
    bucket = aws.s3.Bucket(f"{name}-models", bucket=spec.model_repository, tags=tags, opts=opts)
    aws.s3.BucketPublicAccessBlock(
        f"{name}-models-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-models-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=opts,
    )
    aws.s3.BucketVersioning(
        f"{name}-models-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-models-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key.arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=opts,
    )
    return bucket


def _triton_role(
    name: str,
    irsa: IrsaRoles,
    bucket: aws.s3.Bucket,
    key: aws.kms.Key,
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    role = irsa.role(f"{name}-triton-irsa", TRITON_NAMESPACE, TRITON_SERVICE_ACCOUNT)
    aws.iam.RolePolicy(
        f"{name}-triton-read-models",
        role=role.id,
        policy=pulumi.Output.all(bucket.arn, key.arn).apply(
            lambda args: json.dumps(read_only_bucket_policy(args[0], args[1]))
        ),
        opts=opts,
    )
    return role


def read_only_bucket_policy(bucket_arn: str, key_arn: str) -> dict[str, object]:
    """List and get objects of one bucket, decrypt with its key; nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [bucket_arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{bucket_arn}/*"]},
            {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn]},
        ],
    }


def _kubeconfig(cluster: aws.eks.Cluster, region: str) -> pulumi.Output[str]:
    """A kubeconfig that authenticates with `aws eks get-token`: no static credentials."""
    return pulumi.Output.all(cluster.name, cluster.endpoint, cluster.certificate_authority).apply(
        lambda args: exec_kubeconfig(
            args[0],
            args[1],
            args[2]["data"],
            {
                "command": "aws",
                "args": ["eks", "get-token", "--cluster-name", args[0], "--region", region],
            },
        )
    )


def _encryption_summary(config: aws.eks.outputs.ClusterEncryptionConfig | None) -> str:
    return encryption_summary(config is not None and "secrets" in (config.resources or []))


def _exposure_summary(vpc: aws.eks.outputs.ClusterVpcConfig) -> str:
    return exposure_summary(bool(vpc.endpoint_private_access), list(vpc.public_access_cidrs or []))
