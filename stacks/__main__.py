"""The Pulumi program of every stack: stack config -> ServiceSpec -> GpuInferenceCluster.

`pulumi up -s aws-primary` runs this with real providers; `exitplan plan` runs it unchanged
under Pulumi's mocks.
"""

import pulumi

from components.inference_cluster import GpuInferenceCluster, GpuInferenceClusterArgs
from components.providers import cloud
from components.spec import parse_spec

STACK_OUTPUTS = (
    "provider",
    "region",
    "cluster_name",
    "kubeconfig",
    "endpoint",
    "model_repository_uri",
    "gpu_instance_type",
    "gpu_model",
    "max_gpus",
    "identity",
    "triton_version",
    "parity",
)

spec = parse_spec(
    pulumi.Config("exitplan").require_object("service"),
    source=f"stacks/Pulumi.{pulumi.get_stack()}.yaml",
)
cluster = GpuInferenceCluster(
    spec.name,
    GpuInferenceClusterArgs(spec=spec),
    opts=pulumi.ResourceOptions(providers=[cloud(spec.provider).pulumi_provider(spec)]),
)
for output in STACK_OUTPUTS:
    pulumi.export(output, getattr(cluster, output))
