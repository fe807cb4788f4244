"""EKS cluster add-ons that make a Service of type LoadBalancer, the HPA and the GPU pool's
`max_nodes` work on EKS as they do on GKE and AKS, where the platform provides them:

- the AWS Load Balancer Controller, which the Service's `aws-load-balancer-type: external`
  hands the NLB to (the in-tree controller skips such Services): a pinned Helm release with an
  IRSA role holding the controller's upstream IAM policy
  (https://docs.aws.amazon.com/eks/latest/userguide/lbc-helm.html);
- metrics-server, which EKS does not install and the HPA reads CPU from: the EKS community
  add-on `metrics-server` (https://docs.aws.amazon.com/eks/latest/userguide/metrics-server.html);
- Cluster Autoscaler, without which managed node groups never leave their desired size: a
  pinned Helm release discovering the node groups' Auto Scaling groups by the tags EKS puts on
  them, with the documented IAM permissions
  (kubernetes/autoscaler cluster-autoscaler/cloudprovider/aws/README.md).

Chart pins are catalog data (`components/catalog/data/helm_charts.csv`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.catalog.helm import helm_chart

SYSTEM_NAMESPACE = "kube-system"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
SYSTEM_POOL = {"exitplan.io/pool": "system"}
POLICY_FILE = Path(__file__).parent / "data" / "load_balancer_controller_policy.json"
# Cluster Autoscaler's "Full Cluster Autoscaler Features Policy": read everywhere, scale only
# the groups tagged for this cluster.
AUTOSCALER_READ = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
]
AUTOSCALER_WRITE = [
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
]


@cache
def load_balancer_controller_policy() -> dict[str, Any]:
    """The controller's IAM policy as upstream publishes it for the pinned version (the data
    file records its source URL and version)."""
    document = json.loads(POLICY_FILE.read_text(encoding="utf-8"))
    chart = helm_chart("aws-load-balancer-controller")
    if document["version"] != chart.app_version:
        raise ValueError(
            f"{POLICY_FILE.name} is the policy of {document['version']}, but the chart pin "
            f"installs {chart.app_version}: copy the policy of {chart.app_version}"
        )
    policy: dict[str, Any] = document["policy"]
    return policy


def autoscaler_policy(cluster_name: str) -> dict[str, Any]:
    """Describe what Cluster Autoscaler reads; scale and terminate only in Auto Scaling
    groups that carry this cluster's `k8s.io/cluster-autoscaler/<cluster>` tag."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": AUTOSCALER_READ, "Resource": ["*"]},
            {
                "Effect": "Allow",
                "Action": AUTOSCALER_WRITE,
                "Resource": ["*"],
                "Condition": {
                    "Null": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "false"}
                },
            },
        ],
    }


def autoscaler_tags(cluster_name: str) -> dict[str, str]:
    """The Auto Scaling group tags Cluster Autoscaler's auto-discovery looks for (EKS puts
    them on managed node groups; self-managed groups carry them explicitly)."""
    return {
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster_name}": "owned",
    }


def build_addons(
    name: str,
    region: str,
    cluster: aws.eks.Cluster,
    vpc_id: pulumi.Output[str],
    irsa: IrsaRoles,
    kubeconfig: pulumi.Output[str],
    after: Sequence[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> list[pulumi.CustomResource]:
    """The add-ons (load balancer controller, metrics-server, Cluster Autoscaler, the VPC CNI
    with network policy on), installed once the nodes in `after` can run them; they come back
    so the workloads that need them can wait for them."""
    kubernetes = k8s.Provider(
        f"{name}-addons-k8s", kubeconfig=kubeconfig, enable_server_side_apply=True, opts=opts
    )
    on_nodes = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(after)))
    lbc_role = irsa.role(f"{name}-lbc-irsa", SYSTEM_NAMESPACE, LBC_SERVICE_ACCOUNT)
    lbc_policy = aws.iam.Policy(
        f"{name}-lbc-policy",
        description="AWS Load Balancer Controller (upstream policy of the pinned version)",
        policy=json.dumps(load_balancer_controller_policy()),
        opts=opts,
    )
    lbc_grant = aws.iam.RolePolicyAttachment(
        f"{name}-lbc-policy-attachment", role=lbc_role.name, policy_arn=lbc_policy.arn, opts=opts
    )
    controller = release(
        f"{name}-lbc",
        "aws-load-balancer-controller",
        {
            "clusterName": cluster.name,
            "region": region,
            "vpcId": vpc_id,
            "serviceAccount": service_account(LBC_SERVICE_ACCOUNT, lbc_role),
            "nodeSelector": SYSTEM_POOL,
        },
        kubernetes,
        pulumi.ResourceOptions.merge(on_nodes, pulumi.ResourceOptions(depends_on=[lbc_grant])),
    )
    metrics = aws.eks.Addon(
        f"{name}-metrics-server",
        cluster_name=cluster.name,
        addon_name="metrics-server",
        resolve_conflicts_on_create="OVERWRITE",
        opts=on_nodes,
    )
    autoscaler_role = irsa.role(
        f"{name}-autoscaler-irsa", SYSTEM_NAMESPACE, AUTOSCALER_SERVICE_ACCOUNT
    )
    autoscaler_grant = aws.iam.RolePolicy(
        f"{name}-autoscaler-policy",
        role=autoscaler_role.id,
        policy=cluster.name.apply(lambda c: json.dumps(autoscaler_policy(c))),
        opts=opts,
    )
    autoscaler = release(
        f"{name}-autoscaler",
        "cluster-autoscaler",
        {
            "cloudProvider": "aws",
            "awsRegion": region,
            "autoDiscovery": {"clusterName": cluster.name},
            "rbac": {
                "serviceAccount": service_account(AUTOSCALER_SERVICE_ACCOUNT, autoscaler_role)
            },
            "nodeSelector": SYSTEM_POOL,
            # GPU nodes of one instance type in two zones are one pool to scale.
            "extraArgs": {"balance-similar-node-groups": True},
        },
        kubernetes,
        pulumi.ResourceOptions.merge(
            on_nodes, pulumi.ResourceOptions(depends_on=[autoscaler_grant])
        ),
    )
    # NetworkPolicy objects (Triton's, the device plugin's) are enforced by the VPC CNI's
    # network policy agent, which is off until the managed add-on turns it on (EKS user guide:
    # cni-network-policy-configure.html, "Enable the network policy parameter for the add-on";
    # VPC CNI 1.14 or later). The add-on takes over the VPC CNI EKS installs with the cluster.
    network_policy = aws.eks.Addon(
        f"{name}-vpc-cni",
        cluster_name=cluster.name,
        addon_name="vpc-cni",
        configuration_values=json.dumps({"enableNetworkPolicy": "true"}),
        resolve_conflicts_on_create="OVERWRITE",
        opts=opts,
    )
    return [controller, metrics, autoscaler, network_policy]


def release(
    name: str,
    chart_name: str,
    values: dict[str, Any],
    provider: k8s.Provider,
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v3.Release:
    """A Helm release of a catalog-pinned chart in kube-system, waiting for its pods."""
    chart = helm_chart(chart_name)
    return k8s.helm.v3.Release(
        name,
        name=chart.chart,
        chart=chart.chart,
        version=chart.version,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repository),
        namespace=SYSTEM_NAMESPACE,
        values=values,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(provider=provider)),
    )


def service_account(name: str, role: aws.iam.Role) -> dict[str, Any]:
    """Chart values for a service account annotated with its IRSA role."""
    return {
        "create": True,
        "name": name,
        "annotations": {"eks.amazonaws.com/role-arn": role.arn},
    }


class IrsaRoles:
    """IAM roles that one Kubernetes service account of the cluster assumes through its OIDC
    provider (IRSA), and nothing else."""

    def __init__(
        self,
        oidc: aws.iam.OpenIdConnectProvider,
        tags: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        self.oidc = oidc
        self.tags = tags
        self.opts = opts

    def role(self, name: str, namespace: str, service_account: str) -> aws.iam.Role:
        """A role trusted by `system:serviceaccount:<namespace>:<service_account>` only."""
        return aws.iam.Role(
            name,
            assume_role_policy=pulumi.Output.all(self.oidc.arn, self.oidc.url).apply(
                lambda args: json.dumps(
                    irsa_trust_policy(args[0], args[1], namespace, service_account)
                )
            ),
            tags=self.tags,
            opts=self.opts,
        )


def irsa_trust_policy(
    provider_arn: str, issuer_url: str, namespace: str, service_account: str
) -> dict[str, object]:
    """Trust one service account, through the cluster's OIDC provider."""
    issuer = issuer_url.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": "sts.amazonaws.com",
                    }
                },
            }
        ],
    }
