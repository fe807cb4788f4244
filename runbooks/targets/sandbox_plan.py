"""A stack's planned Triton, read from its offline plan (the one `exitplan plan` prints): the
Deployment's `tritonserver` container, its copy step, token mount and probes, and the store
grants of the identity it runs as (`components.policy.store_access`). The sandbox runs what
this returns (`sandbox.planned`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import components
from components import triton
from components.catalog.clouds import (
    FETCH_AUTH_ANNOTATION,
    SERVICE_ACCOUNT_TOKEN_AUTH,
    facts,
)
from components.model_sync import SYNC_SECS_ENV, WAIT_SECS_ENV
from components.planning.cache import cached_plan
from components.planning.runner import Plan
from components.policy.store_access import Resource, azure_roles, gcs_roles, s3_policies
from components.stack_config import Project, Stack
from sandbox.errors import SandboxError
from sandbox.planned import PlannedCopy, PlannedTriton

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "tritonserver"


def deployment_source() -> str:
    """file:line of the function that renders the Triton Deployment."""
    lines = inspect.getsourcelines(triton._deployment)
    root = Path(components.__file__).resolve().parents[1]
    path = Path(inspect.getsourcefile(triton._deployment) or "").resolve()
    return f"{path.relative_to(root)}:{lines[1]}"


def planned_triton(project: Project, stack: Stack, planned: dict[str, Plan]) -> PlannedTriton:
    """The stack's Triton as planned (its plan from the cache, or planned now). An edge that
    joins its service's cluster runs as that cluster's Triton identity, whose grants the
    service's stack plans: they are read from that plan."""
    triton = triton_of(cached_plan(project, stack, planned))
    if stack.edge and facts(stack.edge.provider).edge_joins_service_cluster:
        service = cached_plan(project, project.stack(stack.edge.service), planned)
        grants = _grants(service, triton.identity, triton.store_uri)
        triton = replace(triton, grants=grants)
    return triton


def triton_of(plan: Plan) -> PlannedTriton:
    """The planned Triton of a stack's plan: its first Deployment running tritonserver."""
    for resource in plan.of_type(DEPLOYMENT):
        pod = resource.inputs.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []):
            if container.get("name") == CONTAINER:
                # Who the pods run as: what an Azure managed identity is federated to.
                namespace = resource.inputs.get("metadata", {}).get("namespace", "default")
                account = pod.get("serviceAccountName", "default")
                subject = f"system:serviceaccount:{namespace}:{account}"
                template = resource.inputs.get("spec", {}).get("template", {})
                annotations = template.get("metadata", {}).get("annotations") or {}
                return _planned(plan, pod, container, subject, annotations)
    raise SandboxError(
        f"the plan of {plan.stack} has no Deployment with a {CONTAINER} container",
        fix=f"exitplan plan {plan.stack} shows what the stack deploys",
    )


def _planned(
    plan: Plan,
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    subject: str,
    annotations: Mapping[str, str],
) -> PlannedTriton:
    identity = {k: str(v) for k, v in dict(plan.outputs.get("identity") or {}).items()}
    store = str(plan.outputs.get("model_repository_uri", ""))
    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    secret_env = tuple(e["name"] for e in container.get("env", []) if "valueFrom" in e)
    args = tuple(str(a) for a in container.get("args", []))
    return PlannedTriton(
        stack=plan.stack,
        args=args,
        env=env,
        secret_env=secret_env,
        store_uri=store,
        identity=identity,
        grants=_grants(plan, identity, store, subject),
        copy=_copy(pod, annotations),
        token_mounted=_token_mounted(plan, pod),
        readiness_urls=_readiness_urls(container),
        probes={
            name: dict(container[name])
            for name in ("startupProbe", "readinessProbe", "livenessProbe")
            if name in container
        },
        source=deployment_source(),
    )


def _grants(
    plan: Plan, identity: Mapping[str, str], store: str, subject: str = ""
) -> dict[str, tuple[str, ...]]:
    resources: list[Resource] = [(r.type, r.name, r.inputs) for r in plan.resources]
    principal = identity.get("principal", "")
    if store.startswith("s3://"):
        return {store.removeprefix("s3://").split("/")[0]: tuple(s3_policies(resources, principal))}
    if store.startswith("gs://"):
        return gcs_roles(resources, principal)
    if store.startswith("as://"):
        dependencies = {r.name: r.dependencies for r in plan.resources}
        return azure_roles(resources, dependencies, subject)
    return {}


def _copy(pod: Mapping[str, Any], annotations: Mapping[str, str]) -> PlannedCopy | None:
    for init in pod.get("initContainers", []):
        mounts = tuple(
            str(m["mountPath"])
            for m in init.get("volumeMounts", [])
            if m.get("name") == "cloud-credentials"
        )
        env = {e["name"]: str(e["value"]) for e in init.get("env", []) if "value" in e}
        sidecar = init.get("restartPolicy") == "Always"
        return PlannedCopy(
            str(init.get("image", "")),
            tuple(init.get("command", [])),
            env,
            mounts,
            float(env.get(SYNC_SECS_ENV, 0)) if sidecar else None,
            float(env.get(WAIT_SECS_ENV, 0)) if sidecar else 0.0,
            annotations.get(FETCH_AUTH_ANNOTATION) == SERVICE_ACCOUNT_TOKEN_AUTH,
        )
    return None


def _token_mounted(plan: Plan, pod: Mapping[str, Any]) -> bool:
    """Whether the pod gets its service-account token file: the pod's
    `automountServiceAccountToken` when set, else its ServiceAccount's (default true)."""
    if "automountServiceAccountToken" in pod:
        return bool(pod["automountServiceAccountToken"])
    name = pod.get("serviceAccountName", "default")
    for account in plan.of_type("kubernetes:core/v1:ServiceAccount"):
        if account.inputs.get("metadata", {}).get("name") == name:
            return bool(account.inputs.get("automountServiceAccountToken", True))
    return True


def _readiness_urls(container: Mapping[str, Any]) -> tuple[str, ...]:
    """The URLs the planned readiness probe asks for (an exec curl, or an httpGet path)."""
    probe = container.get("readinessProbe") or {}
    if "exec" in probe:
        return tuple(a for a in probe["exec"].get("command", []) if a.startswith("http"))
    if "httpGet" in probe:
        return (str(probe["httpGet"].get("path", "")),)
    return ()
