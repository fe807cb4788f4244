"""GPU driver against Triton's CUDA (review M9): the driver branch each GPU node pool's image
installs (catalog `gpu_drivers.csv`, by cloud and setting) must run the CUDA of the Triton image
the stack serves (catalog `triton_drivers.csv`), natively or through forward compatibility."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from components import catalog
from components.catalog.clouds import GPU_NODE_LABEL, cloud_of_token
from components.catalog.drivers import DriverRequirement, GpuDriver, driver_requirements
from components.catalog.drivers import gpu_drivers as driver_rows
from components.policy.rule import (
    ADVISORY,
    MANDATORY,
    containers,
    get,
    is_triton,
    pod_spec,
    stack_rule,
)

SOURCE = "https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/rel-24-10.html"
GpuPool = tuple[PolicyResource, str, str]  # the pool, its cloud, its driver setting


def _settings(resource: PolicyResource) -> Iterator[str]:
    """The driver setting of each GPU a node pool carries; nothing for a pool without GPUs."""
    props = resource.props
    kind = resource.resource_type
    if kind == "aws:eks/nodeGroup:NodeGroup" and "NVIDIA" in str(props.get("amiType", "")):
        yield str(props["amiType"])
    elif kind == "azure-native:containerservice:AgentPool" and get(props, "gpuProfile"):
        yield str(get(props, "gpuProfile.driver", "Install"))
    elif kind == "gcp:container/nodePool:NodePool":
        for accelerator in get(props, "nodeConfig.guestAccelerators", []):
            setting = get(accelerator, "gpuDriverInstallationConfig.gpuDriverVersion")
            yield str(setting or "GPU_DRIVER_VERSION_UNSPECIFIED")
    elif kind == "oci:ContainerEngine/nodePool:NodePool" and "GPU" in str(
        props.get("nodeShape", "")
    ):
        yield "OKE GPU node image"


def gpu_pools(resources: list[PolicyResource]) -> list[GpuPool]:
    """Every GPU node pool of the stack with its cloud and driver setting."""
    return [
        (r, cloud_of_token(r.resource_type) or "", setting)
        for r in resources
        for setting in _settings(r)
    ]


def gpu_tritons(resources: list[PolicyResource]) -> list[tuple[PolicyResource, str, str]]:
    """(workload, Triton image, GPU model it selects) of every Triton that runs on a GPU."""
    found = []
    for resource in resources:
        spec = pod_spec(resource.resource_type, resource.props)
        model = str((spec or {}).get("nodeSelector", {}).get(GPU_NODE_LABEL, ""))
        if spec is None or not model:
            continue
        found += [(resource, str(c.get("image", "")), model) for c in containers(spec)]
    return [(r, image, model) for r, image, model in found if is_triton({"image": image})]


def requirement(image: str) -> DriverRequirement | None:
    """The driver requirement of a Triton image the catalog knows, else None."""
    releases = {t.image: t.ngc_release for t in catalog.triton_releases().values()}
    return driver_requirements().get(releases.get(image, ""))


def _driver(cloud: str, setting: str) -> GpuDriver | None:
    return driver_rows().get((cloud, setting))


def _driver_meets_triton(args: StackValidationArgs, report: ReportViolation) -> None:
    tritons = gpu_tritons(args.resources)
    for pool, cloud, setting in gpu_pools(args.resources):
        driver = _driver(cloud, setting)
        for workload, image, model in tritons:
            need = requirement(image)
            problem = need.problem(driver.branch, model) if driver and need else None
            if problem:
                report(
                    f"{pool.name} ({cloud} {setting}: {driver.node_image if driver else ''}) "
                    f"cannot run {workload.name}'s {image}: {problem}",
                    pool.urn,
                )


def _driver_sourced(args: StackValidationArgs, report: ReportViolation) -> None:
    for pool, cloud, setting in gpu_pools(args.resources):
        if _driver(cloud, setting) is None:
            report(
                f"{pool.name}: no sourced driver branch for {cloud} {setting!r} in "
                "components/catalog/data/gpu_drivers.csv, so its CUDA fit is unchecked",
                pool.urn,
            )
    for workload, image, _model in gpu_tritons(args.resources):
        if requirement(image) is None:
            report(
                f"{workload.name}: {image} has no driver requirement in "
                "components/catalog/data/triton_drivers.csv, so its CUDA fit is unchecked",
                workload.urn,
            )


POLICIES = [
    stack_rule(
        "gpu-driver-meets-triton",
        "The GPU driver a node pool's image installs runs the CUDA of the Triton image served",
        _driver_meets_triton,
        severity=Severity.HIGH,
        enforcement=MANDATORY,
        source=SOURCE,
        fix="choose a node image or driver setting whose branch is in gpu_drivers.csv at or "
        "above the Triton release's minimum (GKE gpu_driver_version LATEST, the EKS AL2023 "
        "NVIDIA AMI), or pin a Triton version whose CUDA that driver runs",
    ),
    stack_rule(
        "gpu-driver-sourced",
        "Every GPU node pool's driver and every Triton image's driver need are sourced data",
        _driver_sourced,
        severity=Severity.LOW,
        enforcement=ADVISORY,
        source=SOURCE,
        fix="add the cloud/setting row to gpu_drivers.csv (or the NGC release to "
        "triton_drivers.csv) with its source, or use a setting the catalog has",
    ),
]
