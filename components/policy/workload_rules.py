"""Kubernetes workloads: Triton's model-control API not public (review M5), containers
non-root with memory limits, and a PDB and an HPA for every Triton Deployment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components.catalog.clouds import FETCH_AUTH_ANNOTATION, SERVICE_ACCOUNT_TOKEN_AUTH
from components.policy.rule import (
    MANDATORY,
    containers,
    get,
    is_triton,
    model_repository,
    namespace,
    of_type,
    pod_spec,
    resource_rule,
    selects,
    stack_rule,
)

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
SYSTEM_NAMESPACE = "kube-system"  # node agents there (the device plugin) need root by design
PUBLIC_SERVICE_TYPES = ("LoadBalancer", "NodePort")
# Triton's flags that put an API behind a header: `--flag=<api>[,<api>...]:<key>=<value>`.
RESTRICTING_FLAGS = {
    "http": "--http-restricted-api=",
    "grpc": "--grpc-restricted-protocol=",
}
MODEL_REPOSITORY = "model-repository"


def triton_deployments(
    resources: list[PolicyResource],
) -> Iterator[tuple[PolicyResource, Mapping[str, Any]]]:
    """Each Deployment that runs Triton, with its Triton container."""
    for deployment in of_type(resources, DEPLOYMENT):
        spec = pod_spec(deployment.resource_type, deployment.props) or {}
        for container in spec.get("containers") or []:
            if is_triton(container):
                yield deployment, container
                break


def restricted(args: list[Any], protocol: str) -> bool:
    """Whether Triton's arguments restrict the model-repository API on `protocol`."""
    flag = RESTRICTING_FLAGS[protocol]
    for arg in map(str, args):
        if arg.startswith(flag):
            apis = arg[len(flag) :].split(":", 1)[0].split(",")
            if MODEL_REPOSITORY in apis:
                return True
    return False


def _exposed_protocols(
    deployment: PolicyResource, container: Mapping[str, Any], services: list[PolicyResource]
) -> set[str]:
    """Triton protocols ('http', 'grpc') a public Service exposes for the Deployment's pods."""
    labels = get(deployment.props, "spec.template.metadata.labels", {})
    by_number = {p.get("containerPort"): p.get("name") for p in container.get("ports") or []}
    exposed: set[str] = set()
    for service in services:
        if get(service.props, "spec.type") not in PUBLIC_SERVICE_TYPES:
            continue
        if namespace(service.props) != namespace(deployment.props):
            continue
        if not selects(get(service.props, "spec.selector"), labels):
            continue
        for port in get(service.props, "spec.ports", []):
            target = port.get("targetPort", port.get("port"))
            exposed.add(str(by_number.get(target, target)))
    return exposed & set(RESTRICTING_FLAGS)


def _model_control(args: StackValidationArgs, report: ReportViolation) -> None:
    services = of_type(args.resources, SERVICE)
    for deployment, container in triton_deployments(args.resources):
        flags = [*(container.get("command") or []), *(container.get("args") or [])]
        for protocol in sorted(_exposed_protocols(deployment, container, services)):
            if not restricted(flags, protocol):
                report(
                    f"{deployment.name}: Triton's {protocol} port is public and its "
                    f"{MODEL_REPOSITORY} API (load/unload) is not restricted: anyone can unload "
                    "the model",
                    deployment.urn,
                )


def _workloads(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    """The pod spec of a workload outside kube-system (None otherwise)."""
    spec = pod_spec(args.resource_type, args.props)
    if spec is None or namespace(args.props) == SYSTEM_NAMESPACE:
        return None
    return spec


def _non_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _workloads(args)
    if spec is None:
        return
    pod = spec.get("securityContext") or {}
    for container in containers(spec):
        own = container.get("securityContext") or {}
        non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
        user = own.get("runAsUser", pod.get("runAsUser"))
        if non_root is not True or user == 0:
            report(f"{args.name}: container {container.get('name')} may run as root", None)


def _memory_limits(args: ResourceValidationArgs, report: ReportViolation) -> None:
    spec = _workloads(args)
    if spec is None:
        return
    for container in containers(spec):
        if not get(container, "resources.limits.memory"):
            report(f"{args.name}: container {container.get('name')} has no memory limit", None)


def _copy_token_mounted(args: StackValidationArgs, report: ReportViolation) -> None:
    """Review J2: a copy step that authenticates with the pod's service-account token gets
    it: the pod mounts it, or leaves it to a ServiceAccount that does."""
    accounts = {
        (namespace(a.props), get(a.props, "metadata.name")): a.props
        for a in of_type(args.resources, SERVICE_ACCOUNT)
    }
    for deployment in of_type(args.resources, DEPLOYMENT):
        spec = pod_spec(deployment.resource_type, deployment.props) or {}
        annotations = get(deployment.props, "spec.template.metadata.annotations", {}) or {}
        if annotations.get(FETCH_AUTH_ANNOTATION) != SERVICE_ACCOUNT_TOKEN_AUTH:
            continue
        account = accounts.get((namespace(deployment.props), spec.get("serviceAccountName")))
        mounted = spec.get("automountServiceAccountToken")
        if mounted is None:
            mounted = (account or {}).get("automountServiceAccountToken", True)
        if mounted is not True:
            report(
                f"{deployment.name}'s copy step authenticates with the pod's service-account "
                "token, and the pod does not mount it (automountServiceAccountToken false): "
                "the copy cannot sign in and Triton never gets its models",
                deployment.urn,
            )


def _local_repository_synced(args: StackValidationArgs, report: ReportViolation) -> None:
    """Review J3: a Triton that reads a local copy of its store (no `scheme://` repository) has
    a sidecar that keeps the copy in step (an init container with `restartPolicy: Always` on
    the volume Triton reads, with a startup probe, so Triton starts after the first copy): a
    one-shot copy at pod start copies an empty store on first deploy, and poll mode only
    watches the copy."""
    for deployment, triton in triton_deployments(args.resources):
        repository = model_repository(triton)
        if not repository or "://" in repository:
            continue
        volumes = {
            m.get("name")
            for m in triton.get("volumeMounts") or []
            if repository.startswith(str(m.get("mountPath", "")))
        }
        spec = pod_spec(deployment.resource_type, deployment.props) or {}
        syncing = [
            c
            for c in spec.get("initContainers") or []
            if c.get("restartPolicy") == "Always"
            and c.get("startupProbe")
            and volumes & {m.get("name") for m in c.get("volumeMounts") or []}
        ]
        if not syncing:
            report(
                f"{deployment.name}'s Triton reads a local copy ({repository}) that no sidecar "
                "keeps in step with the store: a copy at pod start finds the store empty on "
                "first deploy (the stack deploys before its publish step) and Triton never "
                "gets a model published later",
                deployment.urn,
            )


def _pdb(args: StackValidationArgs, report: ReportViolation) -> None:
    budgets = of_type(args.resources, PDB)
    for deployment, _ in triton_deployments(args.resources):
        labels = get(deployment.props, "spec.template.metadata.labels", {})
        if not any(
            namespace(b.props) == namespace(deployment.props)
            and selects(get(b.props, "spec.selector.matchLabels"), labels)
            for b in budgets
        ):
            report(
                f"{deployment.name} has no PodDisruptionBudget selecting its pods", deployment.urn
            )


def _hpa(args: StackValidationArgs, report: ReportViolation) -> None:
    scalers = of_type(args.resources, HPA)
    for deployment, _ in triton_deployments(args.resources):
        name = get(deployment.props, "metadata.name")
        if not any(
            namespace(h.props) == namespace(deployment.props)
            and get(h.props, "spec.scaleTargetRef.kind") == "Deployment"
            and get(h.props, "spec.scaleTargetRef.name") == name
            for h in scalers
        ):
            report(
                f"{deployment.name} has no HorizontalPodAutoscaler (a pilot light at 0 replicas "
                "keeps one too: an HPA leaves a target at 0 alone until a drill scales it up)",
                deployment.urn,
            )


POLICIES = [
    stack_rule(
        "triton-model-control-restricted",
        "Triton's model-repository API (load/unload) is restricted by header "
        "(--http-restricted-api / --grpc-restricted-protocol) on every port a public Service "
        "exposes.",
        _model_control,
        severity=Severity.HIGH,
        enforcement=MANDATORY,
        source="https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/customization_guide/inference_protocols.html",
        fix="add --http-restricted-api=model-repository:<header>=<secret> and "
        "--grpc-restricted-protocol=model-repository:<header>=<secret>, or expose only "
        "inference through a gateway",
    ),
    resource_rule(
        "pods-run-as-non-root",
        "Every container of a workload (outside kube-system) runs as non-root.",
        _non_root,
        severity=Severity.HIGH,
        enforcement=MANDATORY,
        source="https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted",
        checkov="CKV_K8S_23",
        fix="set securityContext.runAsNonRoot=true (pod or container) and a non-zero runAsUser",
    ),
    resource_rule(
        "containers-memory-limits",
        "Every container and init container of a workload (outside kube-system) has a memory "
        "limit.",
        _memory_limits,
        severity=Severity.MEDIUM,
        enforcement=MANDATORY,
        source="https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/",
        checkov="CKV_K8S_13",
        fix="set resources.limits.memory on the container",
    ),
    stack_rule(
        "copy-step-token-mounted",
        "A model copy step that authenticates with the pod's service-account token has the "
        "token mounted.",
        _copy_token_mounted,
        severity=Severity.HIGH,
        enforcement=MANDATORY,
        source="https://docs.oracle.com/en-us/iaas/tools/python/latest/api/signing.html",
        fix="set automountServiceAccountToken: true on the pod template of a Deployment whose "
        "copy step signs in with the pod's token (ModelFetch.service_account_token)",
    ),
    stack_rule(
        "local-repository-synced",
        "A Triton that reads a local copy of its model store has a sidecar that keeps the copy "
        "in step with the store, and starts after its first copy.",
        _local_repository_synced,
        severity=Severity.HIGH,
        enforcement=MANDATORY,
        source="https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/",
        fix="copy the store with the model-sync sidecar (components.model_sync), not a one-shot "
        "init container",
    ),
    stack_rule(
        "triton-pdb-present",
        "Every Triton Deployment has a PodDisruptionBudget selecting its pods.",
        _pdb,
        severity=Severity.MEDIUM,
        enforcement=MANDATORY,
        source="https://kubernetes.io/docs/tasks/run-application/configure-pdb/",
        fix="add a policy/v1 PodDisruptionBudget with the Deployment's pod labels",
    ),
    stack_rule(
        "triton-hpa-present",
        "Every Triton Deployment has a HorizontalPodAutoscaler targeting it.",
        _hpa,
        severity=Severity.MEDIUM,
        enforcement=MANDATORY,
        source="https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#implicit-maintenance-mode-deactivation",
        fix="add an autoscaling/v2 HorizontalPodAutoscaler with scaleTargetRef to the Deployment",
    ),
]
