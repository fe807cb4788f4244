"""Triton's Kubernetes objects: schema-valid for the spec's Kubernetes version, secure, and
exactly what the stacks register."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from pulumi.runtime import rpc

from components import catalog
from components.errors import SpecError
from components.planning.parity import compare
from components.planning.runner import Plan
from components.providers.base import ModelFetch
from components.serving import Placement, fitted_replicas
from components.spec import TritonSpec, parse_spec
from components.triton import (
    ADMIN_HEADER,
    TritonConfig,
    manifest_kinds,
    pods_per_node,
    render_manifests,
)
from runbooks.render import plain
from sandbox.processes import free_port, stop_process
from sandbox.triton import prepare_backends, triton_install
from tests.conftest import BASE_STACKS, one, service, service_config

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
MODEL = {"name": "fraud-scorer", "version": 3, "size_mib": 480}
KEY = "test-admin-key_0123456789"

BASE = TritonConfig(
    name="fraud-scoring",
    image="nvcr.io/nvidia/tritonserver:24.10-py3",
    models=[("fraud-scorer", 3), ("embedder", 1)],
    repository_uri="s3://bucket",
    gpu_model="T4",
    min_replicas=2,
    max_replicas=4,
    env={"AWS_DEFAULT_REGION": "us-east-1"},
    service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"},
)
VARIANTS = {
    "plain": BASE,
    "device-plugin": TritonConfig(**{**BASE.__dict__, "device_plugin": True, "min_replicas": 1}),
    "fetch": TritonConfig(
        **{
            **BASE.__dict__,
            "fetch": ModelFetch(
                image="mcr.microsoft.com/azure-cli:2", command=["sh", "-c", "true"]
            ),
        }
    ),
}


@pytest.mark.parametrize("version", ["1.31", "1.33", "1.35"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_validates_against_the_kubernetes_schema(variant: str, version: str) -> None:
    manifests = render_manifests(VARIANTS[variant])
    kinds = manifest_kinds(VARIANTS[variant])
    assert set(manifests) == set(kinds)
    for role, manifest in manifests.items():
        assert manifest["kind"] == kinds[role]
        kubernetes_validate.validate(manifest, version, strict=True)


def test_schema_validation_catches_a_typo() -> None:
    broken = render_manifests(BASE)["deployment"]
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.33", strict=True)


@pytest.mark.parametrize("stack", BASE_STACKS)
def test_registered_objects_validate_for_the_stacks_version(
    plans: dict[str, Plan], stack: str
) -> None:
    plan = plans[stack]
    version = plan.outputs["parity"]["Kubernetes minor"]
    kubernetes = [
        r
        for r in plan.resources
        if r.type.startswith("kubernetes:")
        and r.custom
        and not r.type.startswith("kubernetes:helm")
    ]
    assert len(kubernetes) >= 7
    for resource in kubernetes:
        manifest = plain(_revealed(resource.inputs))
        kubernetes_validate.validate(manifest, version, strict=True)


def test_deployment_gpu_probes_security_and_spread() -> None:
    pod = render_manifests(BASE)["deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["nodeSelector"] == {"exitplan.io/gpu-model": "T4"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] == "/v2/health/live"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600, "cold model load budget"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert [p["containerPort"] for p in container["ports"]] == [8000, 8001, 8002]


def test_hpa_and_pdb_follow_the_replica_spec() -> None:
    manifests = render_manifests(BASE)
    assert manifests["hpa"]["spec"]["minReplicas"] == 2
    assert manifests["hpa"]["spec"]["maxReplicas"] == 4
    assert manifests["pdb"]["spec"]["minAvailable"] == 1
    single = render_manifests(VARIANTS["device-plugin"])
    assert single["pdb"]["spec"] == {
        "maxUnavailable": 1,
        "selector": single["pdb"]["spec"]["selector"],
    }


@pytest.mark.parametrize("stack", BASE_STACKS)
def test_no_static_credentials_anywhere(plans: dict[str, Plan], stack: str) -> None:
    text = str([r.inputs for r in plans[stack].resources if r.type.startswith("kubernetes:")])
    for secret in ("AWS_SECRET_ACCESS_KEY", "AZURE_STORAGE_KEY", "AccountKey=", "private_key"):
        assert secret not in text
    # The one Secret is the generated key of Triton's admin APIs, not a cloud credential.
    secrets = plans[stack].of_type("kubernetes:core/v1:Secret")
    assert [list(_revealed(s.inputs["stringData"])) for s in secrets] == [["admin-key"]]


def test_service_is_a_load_balancer_with_cloud_annotations(plans: dict[str, Plan]) -> None:
    service = one(plans["aws-primary"], "kubernetes:core/v1:Service", "scoring-service").inputs
    assert service["spec"]["type"] == "LoadBalancer"
    assert (
        service["metadata"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"
        ]
        == "/v2/health/ready"
    )


def test_the_sandbox_triton_fact_matches_the_installed_wheel() -> None:
    """The catalog's sandbox Triton names the wheel the sandbox installs; a wheel upgrade
    fails here until the row (and so the stacks' default Triton) is updated with it."""
    sandbox = catalog.sandbox_triton()
    assert importlib.metadata.version(sandbox.package) == sandbox.package_version
    assert catalog.triton_release(sandbox.triton_version).image.endswith(":24.10-py3")
    assert TritonSpec.model_validate({"models": [MODEL]}).version == sandbox.triton_version


def test_azure_copies_the_models_unless_the_release_reads_as_with_managed_identity(
    plans: dict[str, Plan],
) -> None:
    """The default Triton predates managed-identity `as://`, so the Azure standby copies the
    repository with workload identity in the model-sync sidecar (catalog column
    `azure_managed_identity`)."""
    release = catalog.triton_release(plans["azure-standby"].outputs["triton_version"])
    assert release.azure_managed_identity is False
    pod = one(plans["azure-standby"], DEPLOYMENT).inputs["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["sync-models"]
    assert "--model-repository=/models" in pod["containers"][0]["args"]


@pytest.mark.parametrize("stack", BASE_STACKS)
def test_triton_keeps_the_ngc_entrypoint(plans: dict[str, Plan], stack: str) -> None:
    """No `command`: the image's nvidia_entrypoint.sh runs its driver checks, then execs the
    args, whose first word is the server."""
    container = one(plans[stack], DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]
    assert "command" not in container
    assert container["args"][0] == "tritonserver"
    assert all(a.startswith("--") for a in container["args"][1:])


def test_triton_waits_for_its_models_instead_of_crash_looping() -> None:
    """Review B7/M8: poll mode with exit-on-error off, so an empty store (first deploy) leaves
    Triton live and not ready; readiness asks for every model by name, since /v2/health/ready
    is 200 on an empty store; the Deployment is not awaited, the Service gets 30 minutes."""
    manifests = render_manifests(BASE)
    container = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert "--model-control-mode=poll" in args and "--repository-poll-secs=30" in args
    assert "--exit-on-error=false" in args and "--strict-readiness=true" in args
    assert not [a for a in args if a.startswith("--load-model")], "poll mode loads the store"
    command = container["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["curl", "--fail-early"] and "-f" in command[2]
    assert [a for a in command if a.startswith("http")] == [
        "http://127.0.0.1:8000/v2/models/fraud-scorer/ready",
        "http://127.0.0.1:8000/v2/models/embedder/ready",
    ]
    assert command.count("-o") == 2, "one output per URL, else curl prints a body"
    assert manifests["deployment"]["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    service = manifests["service"]["metadata"]["annotations"]
    assert service["pulumi.com/timeoutSeconds"] == "1800"


def test_the_rendered_args_on_the_real_server(tmp_path: Path) -> None:
    """The sandbox wheel's tritonserver (the release the stacks default to) run with the
    Deployment's args on an empty store: live but not ready, then ready once a model is
    published, without a restart; its admin APIs want the key. Ports and the poll interval
    are shortened for the test."""
    config = replace(BASE, models=[("echo", 3)])
    container = render_manifests(config)["deployment"]["spec"]["template"]["spec"]["containers"][0]
    store, http = tmp_path / "store", free_port()
    store.mkdir()
    local = {
        "--model-repository": str(store),
        "--repository-poll-secs": "1",
        "--http-port": str(http),
        "--grpc-port": str(free_port()),
        "--metrics-port": str(free_port()),
    }
    # What Kubernetes does with $(TRITON_ADMIN_KEY): the Secret's value from the env.
    args = [_override(a, local).replace("$(TRITON_ADMIN_KEY)", KEY) for a in container["args"][1:]]
    probe = [
        a.replace(":8000/", f":{http}/") for a in container["readinessProbe"]["exec"]["command"]
    ]
    with _tritonserver(args, tmp_path) as live:
        live(f"http://127.0.0.1:{http}/v2/health/live")
        assert subprocess.run(probe, capture_output=True, check=False).returncode != 0
        _publish_echo(store / "echo")
        _until(lambda: subprocess.run(probe, capture_output=True, check=False).returncode == 0)
        _assert_admin_apis_need_the_key(f"http://127.0.0.1:{http}/v2")


def _assert_admin_apis_need_the_key(base: str) -> None:
    """Review M5 on the real server: unload, index, config and statistics answer 403 without
    the header or with a wrong key; with the key they work; health and metadata stay open."""
    admin = [
        ("POST", f"{base}/repository/models/echo/unload"),
        ("POST", f"{base}/repository/index"),
        ("GET", f"{base}/models/echo/config"),
        ("GET", f"{base}/models/stats"),
    ]
    for method, url in admin:
        assert _status(url, method=method) == 403, url
        assert _status(url, {ADMIN_HEADER: "guess"}, method) == 403, url
    assert _status(f"{base}/repository/index", {ADMIN_HEADER: KEY}, "POST") == 200
    assert _status(f"{base}/models/echo/config", {ADMIN_HEADER: KEY}) == 200
    assert _status(f"{base}/models/echo/ready") == 200
    assert _status(base) == 200


def _revealed(value: Any) -> Any:
    """Planned inputs with Pulumi's secret envelopes replaced by the values they mark."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _revealed(value["value"])
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def _override(arg: str, values: dict[str, str]) -> str:
    flag = arg.split("=", 1)[0]
    return f"{flag}={values[flag]}" if flag in values else arg


def _publish_echo(model: Path) -> None:
    """A python-backend model that loads without any package (numpy only at inference)."""
    (model / "3").mkdir(parents=True)
    (model / "3" / "model.py").write_text(
        "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
    )
    (model / "config.pbtxt").write_text(
        'backend: "python"\nmax_batch_size: 8\n'
        'input [{ name: "X", data_type: TYPE_FP32, dims: [2] }]\n'
        'output [{ name: "Y", data_type: TYPE_FP32, dims: [2] }]\n'
        "instance_group [{ kind: KIND_CPU, count: 1 }]\n"
    )


def _until(check: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


@contextlib.contextmanager
def _tritonserver(args: list[str], workdir: Path) -> Iterator[Callable[[str], None]]:
    """tritonserver from the sandbox's wheel with `args` on loopback; yields a function that
    waits for a URL to answer 200, and stops the server by pid on exit."""
    install = triton_install()
    backends = prepare_backends(install, workdir / "backends")
    libpython = sysconfig.get_config_var("LIBDIR") or ""
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join([str(install.libs), libpython])}
    loopback = ["--http-address=127.0.0.1", "--grpc-address=127.0.0.1"]
    command = [str(install.binary), *args, *loopback, f"--backend-directory={backends}"]
    with (workdir / "tritonserver.log").open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:

        def answers(url: str) -> None:
            def up() -> bool:
                log = (workdir / "tritonserver.log").read_text(errors="replace")
                assert server.poll() is None, f"tritonserver exited:\n{log[-2000:]}"
                return _status(url) == 200

            _until(up)

        yield answers
    finally:
        stop_process(server.pid)
        server.wait(timeout=30)


def _status(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def test_triton_admin_apis_need_a_generated_secret_key(plans: dict[str, Plan]) -> None:
    """Review M5: load/unload, model config, shared memory, statistics, trace and logging
    answer only with the header carrying the key, on HTTP and gRPC; the key comes from a
    Secret the stack generates (marked secret), never from the manifest."""
    manifests = render_manifests(BASE)
    container = manifests["deployment"]["spec"]["template"]["spec"]["containers"][0]
    apis = "model-repository,model-config,shared-memory,statistics,trace,logging"
    restriction = f"{apis}:exitplan-admin-key=$(TRITON_ADMIN_KEY)"
    assert f"--http-restricted-api={restriction}" in container["args"]
    assert f"--grpc-restricted-protocol={restriction}" in container["args"]
    key_env = next(e for e in container["env"] if e["name"] == "TRITON_ADMIN_KEY")
    reference = key_env["valueFrom"]["secretKeyRef"]
    assert reference == {"name": manifests["admin-key"]["metadata"]["name"], "key": "admin-key"}
    assert "data" not in manifests["admin-key"] and "stringData" not in manifests["admin-key"]
    plan = plans["aws-primary"]
    secret = one(plan, "kubernetes:core/v1:Secret")
    assert secret.inputs["stringData"][rpc._special_sig_key] == rpc._special_secret_sig
    key = _revealed(secret.inputs["stringData"])["admin-key"]
    assert len(key) >= 43 and key.replace("-", "").replace("_", "").isalnum()
    assert secret.name in one(plan, DEPLOYMENT).dependencies


@pytest.mark.parametrize(
    ("machine", "pods"),
    [
        ((1, 8, 32), 1),  # g4dn.2xlarge: a pod takes the node's GPU
        ((0, 8, 32), 1),  # Standard_D8s_v5: 4 vCPU per pod beside the reserve
        ((0, 32, 128), 7),  # the Distributed Cloud server
        ((0, 4, 16), 0),  # t3.xlarge: not even one
    ],
)
def test_pods_per_node(machine: tuple[int, int, float], pods: int) -> None:
    assert pods_per_node(*machine) == pods


@pytest.mark.parametrize(
    ("stack", "replicas"),
    [("aws-primary", 4), ("aws-wavelength", 2), ("azure-edge", 2), ("gcp-edge", 4)],
)
def test_the_hpa_stops_at_what_the_nodes_hold(
    plans: dict[str, Plan], stack: str, replicas: int
) -> None:
    """Review N9: the service asks 4 replicas; an edge of 2 one-pod nodes gets an HPA of 2
    (the rest would stay Pending), the Distributed Cloud server holds 7 so keeps 4; parity
    shows it as an expected edge difference."""
    hpa = one(plans[stack], "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa.inputs["spec"]["maxReplicas"] == replicas
    assert plans[stack].outputs["parity"]["max replicas"] == str(replicas)
    rows = {r.row: r for r in compare([plans["aws-primary"], plans[stack]]).rows}
    assert rows["max replicas"].status in ("equal", "expected")


def test_clamped_replicas_carry_a_note_and_an_empty_edge_is_refused(
    plans: dict[str, Plan],
) -> None:
    spec = parse_spec(service(service_config()), source="test")
    release = catalog.triton_release(spec.triton.version)
    edge = Placement("g4dn.2xlarge", "T4", 16, 1, max_nodes=2, triton=release)
    low, high, note = fitted_replicas(spec, edge)
    assert (low, high) == (1, 2)
    assert "maxReplicas is 2, not triton.max_replicas 4" in note
    assert fitted_replicas(spec, replace(edge, max_nodes=4))[2] == ""
    small = Placement("t3.xlarge (CPU)", "", 0, 0, max_nodes=2, triton=release, pods_per_node=0)
    with pytest.raises(SpecError) as refused:
        fitted_replicas(spec, small)
    assert refused.value.field == "exitplan:edge.zone"
    assert "t3.xlarge" in refused.value.problem


def test_every_container_has_a_memory_limit() -> None:
    """Init containers too (the model fetch): policy containers-memory-limits (CKV_K8S_13)."""
    pod = render_manifests(VARIANTS["fetch"])["deployment"]["spec"]["template"]["spec"]
    for container in [*pod["initContainers"], *pod["containers"]]:
        assert container["resources"]["limits"]["memory"], container["name"]


@pytest.mark.parametrize("stack", ["aws-primary", "azure-standby", "gcp-standby"])
def test_the_service_waits_for_its_address_not_for_pods(plans: dict[str, Plan], stack: str) -> None:
    # A pilot light (azure-standby) has no pod until a failover: the default Service await
    # would time out; `waitFor` on the ingress overrides it (pulumi-kubernetes#3329).
    services = plans[stack].of_type("kubernetes:core/v1:Service")
    balanced = [s for s in services if s.inputs["spec"]["type"] == "LoadBalancer"]
    assert len(balanced) == 1
    annotations = balanced[0].inputs["metadata"]["annotations"]
    assert annotations["pulumi.com/waitFor"] == "jsonpath={.status.loadBalancer.ingress}"


def test_after_creation_the_hpa_owns_the_replica_count(plans: dict[str, Plan]) -> None:
    deployment = one(plans["azure-standby"], "kubernetes:apps/v1:Deployment")
    assert deployment.inputs["spec"]["replicas"] == 0
    assert "spec.replicas" in deployment.ignore_changes
    hpa = one(plans["azure-standby"], "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert hpa.inputs["spec"]["minReplicas"] == 1
