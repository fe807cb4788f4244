"""The Google Cloud APIs a stack's resources need, enabled in the stack's project before any
resource or data source uses them (a new project has almost none enabled)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

# A private GKE cluster with KMS secrets encryption, its VPC and NAT, service accounts and
# workload identity: https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
# (container, iamcredentials), https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets
# (cloudkms); compute for the network, iam for service accounts, cloudresourcemanager for the
# project's number and IAM grants.
GKE_APIS = ("cloudresourcemanager", "compute", "container", "cloudkms", "iam", "iamcredentials")
# The S3 copy: https://cloud.google.com/storage-transfer/docs/create-transfers
TRANSFER_APIS = ("storagetransfer",)
# A Distributed Cloud connected cluster: the list in "Create and manage clusters",
# prerequisites (https://cloud.google.com/distributed-cloud/edge/latest/docs/clusters), plus
# iamcredentials, which fleet workload identity uses to impersonate Triton's service account.
GDC_APIS = (
    "anthos",
    "anthosaudit",
    "anthosgke",
    "cloudresourcemanager",
    "connectgateway",
    "container",
    "edgecontainer",
    "gkeconnect",
    "gkehub",
    "gkeonprem",
    "iam",
    "iamcredentials",
    "kubernetesmetadata",
    "logging",
    "monitoring",
    "opsconfigmonitoring",
    "serviceusage",
    "stackdriver",
    "storage",
    "sts",
)


def enable_apis(
    name: str, apis: Sequence[str], parent: pulumi.Resource
) -> list[gcp.projects.Service]:
    """One `projects.Service` per API, left enabled on destroy (other stacks in the project
    may use it); resources that need them depend on the returned list."""
    return [
        gcp.projects.Service(
            f"{name}-api-{api}",
            service=f"{api}.googleapis.com",
            disable_on_destroy=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for api in apis
    ]
