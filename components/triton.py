"""NVIDIA Triton on Kubernetes: pure manifest rendering plus the Pulumi resources built from it.

`render_manifests` is a pure function of plain values, so every object can be validated
against the Kubernetes OpenAPI schema in tests; `deploy_triton` creates the same objects with
pulumi_kubernetes once the cloud's outputs (identity, model URI) are known.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import catalog
from components.catalog.clouds import GPU_NODE_LABEL
from components.model_sync import REPOSITORY_SUBPATH, sync_sidecar
from components.providers.base import (
    EDGE_TAINT_KEY,
    FETCH_CREDENTIALS,
    GPU_TAINT_KEY,
    TRITON_NAMESPACE,
    TRITON_NODE_PORTS,
    TRITON_SERVICE_ACCOUNT,
    ModelFetch,
)
from components.spec import MODEL_CONFIG_ANNOTATION

HTTP_PORT = 8000
GRPC_PORT = 8001
METRICS_PORT = 8002
LIVE_PATH = "/v2/health/live"
LOCAL_REPOSITORY = "/models"
RUN_AS = 1000  # the `triton-server` user of the NGC image
# Startup budget: 60 x 10 s = 10 minutes for the server to come up (it loads the models already
# in the store before it listens).
STARTUP_PERIOD_S = 10
STARTUP_FAILURES = 60
# Poll mode: Triton starts on an empty store (a bucket root is a directory even when empty:
# core src/filesystem/implementations/{s3,gcs}.h IsDirectory), stays not ready, and loads the
# models `exitplan package --publish` writes (config.pbtxt last) within this many seconds.
POLL_SECS = 30
# pulumi-kubernetes await overrides (provider/pkg/metadata/annotations.go): the Deployment is
# not awaited, since its pods are ready only once the models are published, a step after the
# stack (README: first deploy); the Service waits for its load balancer's address, with room
# for a slow load balancer.
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
SERVICE_TIMEOUT = {"pulumi.com/timeoutSeconds": "1800"}
# A LoadBalancer Service waits for its address only, not for pods: a pilot light has none
# until a drill scales it up. `waitFor` overrides the default await since pulumi-kubernetes
# 4.18.4 (pulumi-kubernetes#3329), and a match on an object (the ingress list) counts once it
# exists (#3345).
LOAD_BALANCER_AWAIT = {"pulumi.com/waitFor": "jsonpath={.status.loadBalancer.ingress}"}
MODELS_ANNOTATION = "exitplan.io/models"
# Triton's admin APIs answer only requests with this header set to the admin key (a generated
# Secret): `--http-restricted-api` / `--grpc-restricted-protocol`, gRPC clients send it as
# `triton-grpc-protocol-<header>` (server docs: inference_protocols.md "Limit Endpoint Access";
# deploy.md "Restrict or Disable Access to Protocols and APIs"; 2.51.0's --help). The set is
# the docs' admin example plus logging, as nvidia-pytriton 0.7.0 restricts by default; health,
# metadata and inference stay open. Nothing here calls them: poll mode loads the models.
ADMIN_HEADER = "exitplan-admin-key"
ADMIN_APIS = ("model-repository", "model-config", "shared-memory", "statistics", "trace", "logging")
ADMIN_KEY_ENV = "TRITON_ADMIN_KEY"
ADMIN_KEY_ITEM = "admin-key"
CPU_MODEL_CONFIG = "cpu"
# A CPU-serving pod's requests, and what a node keeps for the kubelet, its daemons and the
# system pods (AKS and GKE reserve ~0.1-0.2 vCPU and 1-4 GiB on 8-32 GiB nodes; the rest
# covers DaemonSets): `pods_per_node`.
CPU_POD_VCPUS = 4
CPU_POD_MEMORY_GIB = 8
NODE_RESERVE_VCPUS = 1
NODE_RESERVE_GIB = 4

# checkov's Kubernetes checks that do not fit an object, kept on it as checkov's own skip
# annotation (`checkov.io/skip<n>: <check>=<reason>`, checkov kubernetes_utils.py) so that
# any checkov user sees why; `exitplan policy check --checkov` runs the rest over every stack.
# A reason holds no "=" (checkov splits the value on it).
NO_DIGEST = (
    "the catalog pins this image by its sourced release tag (images.csv or "
    "triton_releases.csv) and records no digest yet (README: checkov, stated gap)"
)
IMAGE_SKIPS = {
    "CKV_K8S_43": NO_DIGEST,
    "CKV_K8S_15": f"IfNotPresent on a release tag: {NO_DIGEST}",
}
TRITON_SKIPS = {
    **IMAGE_SKIPS,
    "CKV_K8S_11": (
        "no CPU limit on a GPU server: CFS throttling of Triton's request threads adds "
        "latency while the GPU idles; CPU is requested and memory is limited"
    ),
    "CKV_K8S_35": (
        "Triton takes its admin key only on its command line (--http-restricted-api), and "
        "Kubernetes expands $(VAR) in args only from environment variables"
    ),
    "CKV_K8S_40": (
        f"UID {RUN_AS} is the NGC image's own triton-server user; the pod runs it non-root "
        "with every capability dropped"
    ),
}
TOKEN_SKIP = {
    "CKV_K8S_38": (
        "the model copy signs in as the pod's own service account: its workload identity "
        "reads the token from the default path"
    )
}
# As NVIDIA's own manifest runs it (k8s-device-plugin deployments/static/
# nvidia-device-plugin.yml): as root, root filesystem writable, no probes.
NVIDIA_MANIFEST = "as NVIDIA's own manifest runs it (deployments/static/nvidia-device-plugin.yml)"
DEVICE_PLUGIN_SKIPS = {
    **IMAGE_SKIPS,
    "CKV_K8S_8": f"no probe: the plugin serves only the kubelet's gRPC socket, {NVIDIA_MANIFEST}",
    "CKV_K8S_9": f"no probe: the plugin serves only the kubelet's gRPC socket, {NVIDIA_MANIFEST}",
    "CKV_K8S_22": f"root filesystem writable {NVIDIA_MANIFEST}; read-only is untested here",
    "CKV_K8S_23": (
        "root: the plugin creates its socket in the kubelet's root-owned "
        f"/var/lib/kubelet/device-plugins, {NVIDIA_MANIFEST}, with no privilege escalation"
    ),
    "CKV_K8S_40": "UID 0: see CKV_K8S_23",
}

Manifest = dict[str, Any]


def checkov_skips(skips: Mapping[str, str]) -> dict[str, str]:
    """checkov's skip annotations for these checks, each with its reason."""
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(sorted(skips.items()), 1)
    }


@dataclass(frozen=True)
class TritonConfig:
    """Everything the Triton manifests depend on, as plain values."""

    name: str
    image: str
    models: Sequence[tuple[str, int]]
    repository_uri: str
    gpu_model: str
    model_config: str = ""
    gpus_per_pod: int = 1
    min_replicas: int = 1
    max_replicas: int = 2
    target_utilization: int = 70
    env: Mapping[str, str] = field(default_factory=dict)
    service_account_annotations: Mapping[str, str] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    load_balancer_annotations: Mapping[str, str] = field(default_factory=dict)
    fetch: ModelFetch | None = None
    device_plugin: bool = False
    # Extra node labels to pin the pods (an edge zone); 0 GPUs per pod serves on CPU.
    zone_selector: Mapping[str, str] = field(default_factory=dict)
    # Another stack's cluster already holds the namespace, service account and device plugin.
    shared_cluster: bool = False
    service_type: str = "LoadBalancer"

    @property
    def on_gpu(self) -> bool:
        """Whether Triton gets GPUs (else it serves with the ONNX Runtime CPU instance kind)."""
        return self.gpus_per_pod > 0


def selector(config: TritonConfig) -> dict[str, str]:
    """The labels that select this service's Triton pods."""
    return {"app.kubernetes.io/name": "triton", "app.kubernetes.io/instance": config.name}


def render_manifests(config: TritonConfig) -> dict[str, Manifest]:
    """Every Kubernetes object of the Triton service, keyed by role."""
    return {role: _RENDERERS[role](config) for role in manifest_kinds(config)}


def manifest_kinds(config: TritonConfig) -> dict[str, str]:
    """Role -> kind of every object `render_manifests` returns. Only plain spec values decide
    it (no cloud outputs), so the roles are known before the cloud resources resolve.

    A service scaled to zero (pilot light) keeps its HPA: an HPA leaves a target scaled to
    zero alone and takes over once a drill scales it up (Kubernetes, "Horizontal Pod
    Autoscaling": implicit maintenance-mode deactivation)."""
    kinds = dict(_KINDS)
    if not config.device_plugin or config.shared_cluster:
        del kinds["device-plugin"], kinds["device-plugin-network-policy"]
    if config.shared_cluster:
        del kinds["namespace"], kinds["service-account"]
    return kinds


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": TRITON_NAMESPACE, **extra}


def _namespace() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": TRITON_NAMESPACE,
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }


def _service_account(config: TritonConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(
            TRITON_SERVICE_ACCOUNT,
            annotations=dict(config.service_account_annotations),
            labels=selector(config),
        ),
        "automountServiceAccountToken": False,
    }


def _http_probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _models_ready_probe(config: TritonConfig) -> dict[str, Any]:
    """Ready once every model of the spec is loaded. Triton's own /v2/health/ready answers 200
    on an empty store (strict readiness counts only the models it has seen), so the pod asks
    for each model by name (curl: the NGC image installs it, server build.py). Any version
    counts: publishing the next version must not fail the pods that still serve this one."""
    urls = [f"http://127.0.0.1:{HTTP_PORT}/v2/models/{name}/ready" for name, _ in config.models]
    fetches = [part for url in urls for part in ("-o", "/dev/null", url)]
    return {
        "exec": {"command": ["curl", "--fail-early", "-fsS", "--max-time", "4", *fetches]},
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _deployment(config: TritonConfig) -> Manifest:
    repository = LOCAL_REPOSITORY if config.fetch else config.repository_uri
    args = [
        f"--model-repository={repository}",
        "--model-control-mode=poll",
        f"--repository-poll-secs={POLL_SECS}",
        "--strict-readiness=true",
        # A model that fails to load leaves the server up and the pod not ready, rather than
        # crash-looping; it loads on the next poll once a good version is published.
        "--exit-on-error=false",
        f"--http-port={HTTP_PORT}",
        f"--grpc-port={GRPC_PORT}",
        f"--metrics-port={METRICS_PORT}",
        # Kubernetes expands $(VAR) in args from the container's env (the Secret's value).
        f"--http-restricted-api={_admin_restriction()}",
        f"--grpc-restricted-protocol={_admin_restriction()}",
    ]
    if not config.on_gpu:
        # The repository's configs/cpu.pbtxt: instance_group KIND_CPU for the same model.
        args.append(f"--model-config-name={CPU_MODEL_CONFIG}")
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}]
    init_containers = []
    if config.fetch:
        # Triton reads the synced repository (a subPath of the models volume) read-only; the
        # model-sync sidecar fills it (review J3: `components.model_sync`).
        mounts.append(
            {
                "name": "models",
                "mountPath": LOCAL_REPOSITORY,
                "subPath": REPOSITORY_SUBPATH,
                "readOnly": True,
            }
        )
        volumes.append({"name": "models", "emptyDir": {"sizeLimit": "50Gi"}})
        sync_mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
        if config.fetch.credentials:
            volumes.append(
                {
                    "name": "cloud-credentials",
                    "projected": {"sources": list(config.fetch.credentials)},
                }
            )
            sync_mounts.append(
                {"name": "cloud-credentials", "mountPath": FETCH_CREDENTIALS, "readOnly": True}
            )
        init_containers.append(sync_sidecar(config.fetch, sync_mounts, _container_security()))
    container = {
        "name": "tritonserver",
        "image": config.image,
        # `args` only: the NGC image's entrypoint (/opt/nvidia/nvidia_entrypoint.sh) sources its
        # entrypoint.d checks (banner, GPU driver and CUDA compatibility), then execs "$@"
        # (triton-inference-server/server docker/cpu_only/nvidia_entrypoint.sh, build.py).
        "args": ["tritonserver", *args],
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "env": [
            *({"name": k, "value": v} for k, v in sorted(config.env.items())),
            {
                "name": ADMIN_KEY_ENV,
                "valueFrom": {
                    "secretKeyRef": {"name": admin_key_secret(config), "key": ADMIN_KEY_ITEM}
                },
            },
        ],
        "resources": _resources(config),
        "startupProbe": _http_probe(LIVE_PATH, STARTUP_PERIOD_S, STARTUP_FAILURES),
        "readinessProbe": _models_ready_probe(config),
        "livenessProbe": _http_probe(LIVE_PATH, 10, 3),
        "securityContext": _container_security(),
        "volumeMounts": mounts,
    }
    labels = {**selector(config), **config.pod_labels}
    pod_spec: dict[str, Any] = {
        "serviceAccountName": TRITON_SERVICE_ACCOUNT,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "nodeSelector": {
            **({GPU_NODE_LABEL: config.gpu_model} if config.on_gpu else {}),
            **config.zone_selector,
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(config)},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
    }
    if init_containers:
        pod_spec["initContainers"] = init_containers
    # The copy may sign in with the pod's own token (review J2): only then does the pod mount
    # it; the ServiceAccount keeps automount off for every other pod.
    token = bool(config.fetch and config.fetch.service_account_token)
    pod_spec["automountServiceAccountToken"] = token
    tolerations = []
    if config.on_gpu:
        tolerations.append({"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"})
    if config.zone_selector:
        # Pinned to an edge zone, whose nodes keep every other workload off with this taint.
        tolerations.append({"key": EDGE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        pod_spec["tolerations"] = tolerations
    models = ",".join(f"{name}:{version}" for name, version in config.models)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            config.name,
            labels=selector(config),
            annotations={
                MODELS_ANNOTATION: models,
                MODEL_CONFIG_ANNOTATION: config.model_config,
                **SKIP_AWAIT,
                **checkov_skips({**TRITON_SKIPS, **(TOKEN_SKIP if token else {})}),
            },
        ),
        "spec": {
            "replicas": config.min_replicas,
            "selector": {"matchLabels": selector(config)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                        **(config.fetch.annotations if config.fetch else {}),
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def _admin_restriction() -> str:
    return f"{','.join(ADMIN_APIS)}:{ADMIN_HEADER}=$({ADMIN_KEY_ENV})"


def admin_key_secret(config: TritonConfig) -> str:
    """The name of the Secret holding the key of Triton's admin APIs."""
    return f"{config.name}-admin-key"


def _admin_key(config: TritonConfig) -> Manifest:
    """The admin key's Secret without its value, which `deploy_triton` generates."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(admin_key_secret(config), labels=selector(config)),
        "type": "Opaque",
    }


def pods_per_node(gpus: int, vcpus: int, memory_gib: float) -> int:
    """How many Triton pods one node holds: one on a GPU node (a pod asks for all its GPUs);
    on a CPU node, as many as the pod's requests fit beside the node's system reserve."""
    if gpus:
        return 1
    by_cpu = (vcpus - NODE_RESERVE_VCPUS) // CPU_POD_VCPUS
    by_memory = int((memory_gib - NODE_RESERVE_GIB) // CPU_POD_MEMORY_GIB)
    return max(0, min(by_cpu, by_memory))


def _resources(config: TritonConfig) -> dict[str, Any]:
    if not config.on_gpu:
        return {
            "requests": {"cpu": str(CPU_POD_VCPUS), "memory": f"{CPU_POD_MEMORY_GIB}Gi"},
            "limits": {"memory": "16Gi"},
        }
    gpus = config.gpus_per_pod
    return {
        "requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": gpus},
        "limits": {"memory": "16Gi", "nvidia.com/gpu": gpus},
    }


def _service(config: TritonConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(
            config.name,
            labels=selector(config),
            annotations={
                **config.load_balancer_annotations,
                **SERVICE_TIMEOUT,
                **(LOAD_BALANCER_AWAIT if config.service_type == "LoadBalancer" else {}),
            },
        ),
        "spec": {
            "type": config.service_type,
            "selector": selector(config),
            "ports": [
                {
                    "name": name,
                    "port": port,
                    "targetPort": name,
                    "protocol": "TCP",
                    **(node_port(name) if config.service_type == "NodePort" else {}),
                }
                for name, port in (("http", HTTP_PORT), ("grpc", GRPC_PORT))
            ],
        },
    }


def node_port(name: str) -> dict[str, int]:
    """A NodePort Service's port pinned on every node (firewall rules and clients name it)."""
    return {"nodePort": TRITON_NODE_PORTS[name]}


def _metrics_service(config: TritonConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(f"{config.name}-metrics", labels=selector(config)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(config),
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}],
        },
    }


def _hpa(config: TritonConfig) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(config.name, labels=selector(config)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": config.name},
            # At least 1 (0 needs the alpha HPAScaleToZero gate); a Deployment at 0 replicas
            # keeps the HPA idle, which is how a pilot light stays dark.
            "minReplicas": max(1, config.min_replicas),
            "maxReplicas": config.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": config.target_utilization,
                        },
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }


def _pdb(config: TritonConfig) -> Manifest:
    # One replica may always be drained (a PDB of minAvailable 1 on 1 replica blocks drains).
    budget = (
        {"minAvailable": config.min_replicas - 1}
        if config.min_replicas > 1
        else {"maxUnavailable": 1}
    )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(config.name, labels=selector(config)),
        "spec": {**budget, "selector": {"matchLabels": selector(config)}},
    }


def _device_plugin() -> Manifest:
    image = catalog.image("nvidia-device-plugin")
    labels = {"app.kubernetes.io/name": "nvidia-device-plugin"}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "nvidia-device-plugin",
            "namespace": "kube-system",
            "labels": labels,
            "annotations": checkov_skips(DEVICE_PLUGIN_SKIPS),
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "nodeSelector": {"exitplan.io/pool": "gpu"},
                    # It talks only to the kubelet's socket, never to the API server.
                    "automountServiceAccountToken": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "tolerations": [
                        {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                        {"key": EDGE_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                    ],
                    "containers": [
                        {
                            "name": "nvidia-device-plugin",
                            "image": image.image,
                            "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            # NVIDIA's manifest sets none; a node-critical pod gets a floor
                            # and a ceiling (it holds a few tens of MiB).
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "200m", "memory": "256Mi"},
                            },
                            "volumeMounts": [
                                {
                                    "name": "device-plugin",
                                    "mountPath": "/var/lib/kubelet/device-plugins",
                                }
                            ],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "device-plugin",
                            "hostPath": {"path": "/var/lib/kubelet/device-plugins"},
                        }
                    ],
                },
            },
        },
    }


def _network_policy(config: TritonConfig) -> Manifest:
    """Ingress to Triton's pods only on its named ports, from anywhere (the load balancer
    keeps client addresses); egress stays open (the model store's endpoints)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(config.name, labels=selector(config)),
        "spec": {
            "podSelector": {"matchLabels": selector(config)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "ports": [
                        {"port": port, "protocol": "TCP"} for port in ("http", "grpc", "metrics")
                    ]
                }
            ],
        },
    }


def _device_plugin_network_policy() -> Manifest:
    """No ingress to the device plugin's pods: it serves only the kubelet's local socket."""
    labels = {"app.kubernetes.io/name": "nvidia-device-plugin"}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "nvidia-device-plugin", "namespace": "kube-system", "labels": labels},
        "spec": {"podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress"]},
    }


_RESOURCE_TYPES: dict[str, Any] = {
    "Namespace": k8s.core.v1.Namespace,
    "ServiceAccount": k8s.core.v1.ServiceAccount,
    "Secret": k8s.core.v1.Secret,
    "Deployment": k8s.apps.v1.Deployment,
    "Service": k8s.core.v1.Service,
    "HorizontalPodAutoscaler": k8s.autoscaling.v2.HorizontalPodAutoscaler,
    "PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "DaemonSet": k8s.apps.v1.DaemonSet,
    "NetworkPolicy": k8s.networking.v1.NetworkPolicy,
}


def deploy_triton(
    name: str,
    config: pulumi.Output[TritonConfig],
    kinds: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    gpu_pool: pulumi.Resource,
) -> dict[str, pulumi.CustomResource]:
    """Create the rendered objects with pulumi_kubernetes, one resource per role of `kinds`
    (from `manifest_kinds`, so the graph is the same in preview and update)."""
    manifests = config.apply(render_manifests)
    created: dict[str, pulumi.CustomResource] = {}
    for role, kind in kinds.items():
        # Namespace first (the dict's order): every namespaced object waits for it.
        depends: list[pulumi.Resource] = [created["namespace"]] if "namespace" in created else []
        if kind in ("Deployment", "DaemonSet"):
            depends.append(gpu_pool)
        if kind == "Deployment":
            depends.append(created["admin-key"])
        # The admin key is generated on every run; only the first value is ever applied. After
        # creation the HPA (or a failover) owns the replica count: a later `pulumi up` in an
        # incident must not scale a standby that took over back to its configured floor.
        keep = {"Secret": ["stringData"], "Deployment": ["spec.replicas"]}.get(kind)
        created[role] = _RESOURCE_TYPES[kind](
            f"{name}-{role}",
            **_body(kind, manifests[role]),
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=depends, ignore_changes=keep)
            ),
        )
    return created


def _body(kind: str, manifest: pulumi.Output[Manifest]) -> dict[str, Any]:
    """The resource arguments of a kind, each taken from the rendered manifest."""
    if kind == "Namespace":
        return {"metadata": manifest["metadata"]}
    if kind == "ServiceAccount":
        return {
            "metadata": manifest["metadata"],
            "automount_service_account_token": manifest["automountServiceAccountToken"],
        }
    if kind == "Secret":
        key = pulumi.Output.secret(secrets.token_urlsafe(32))  # [A-Za-z0-9_-]: safe in a flag
        return {
            "metadata": manifest["metadata"],
            "type": manifest["type"],
            "string_data": {ADMIN_KEY_ITEM: key},
        }
    return {"metadata": manifest["metadata"], "spec": manifest["spec"]}


_KINDS = {
    "namespace": "Namespace",
    "service-account": "ServiceAccount",
    "admin-key": "Secret",
    "deployment": "Deployment",
    "service": "Service",
    "metrics-service": "Service",
    "hpa": "HorizontalPodAutoscaler",
    "pdb": "PodDisruptionBudget",
    "network-policy": "NetworkPolicy",
    "device-plugin": "DaemonSet",
    "device-plugin-network-policy": "NetworkPolicy",
}
_RENDERERS: dict[str, Any] = {
    "namespace": lambda _config: _namespace(),
    "service-account": _service_account,
    "admin-key": _admin_key,
    "deployment": _deployment,
    "service": _service,
    "metrics-service": _metrics_service,
    "hpa": _hpa,
    "pdb": _pdb,
    "network-policy": _network_policy,
    "device-plugin": lambda _config: _device_plugin(),
    "device-plugin-network-policy": lambda _config: _device_plugin_network_policy(),
}
