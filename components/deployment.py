"""What the stack program declares for a stack: its deployment and, if it owns the public
name, the router. The providers are created here, at the top, and passed down."""

from __future__ import annotations

from typing import Any

import pulumi

from components.catalog.clouds import clouds, facts
from components.edge import EdgeDeployment, EdgeDeploymentArgs
from components.errors import InputError, SpecError
from components.inference_cluster import GpuInferenceCluster, GpuInferenceClusterArgs
from components.outputs import OUTPUT_NAMES
from components.providers.base import running_under_mocks
from components.providers.registry import builders
from components.spec import CONFIG_KEYS
from components.stack_config import Stack
from components.standby import WarmStandby, WarmStandbyArgs
from components.traffic import TrafficRouter, TrafficRouterArgs, site


def program_config() -> dict[str, Any]:
    """The running stack's config as the stack file holds it: exitplan's keys and the cloud
    settings the clouds require (`gcp:project`)."""
    config: dict[str, Any] = {}
    for key in CONFIG_KEYS:
        value = pulumi.Config("exitplan").get_object(key.removeprefix("exitplan:"))
        if value is not None:
            config[key] = value
    for name in clouds():
        for key in facts(name).required_config:
            namespace, _, setting = key.partition(":")
            value = pulumi.Config(namespace).get(setting)
            if value is not None:
                config[key] = value
    return config


def deploy_stack(stack: Stack) -> dict[str, pulumi.Output[Any]]:
    """Validate the stack, declare its resources and return its stack outputs."""
    stack.validate()
    check_deployable(stack)
    spec = stack.spec
    providers = {spec.provider: builders(spec.provider).pulumi_provider(spec)}
    opts = pulumi.ResourceOptions(providers=list(providers.values()))
    outputs: dict[str, pulumi.Output[Any]]
    references = StackReferences()
    if stack.edge:
        assert stack.source is not None
        edge = stack.edge
        attachment: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input({})
        kubeconfig: pulumi.Output[str] = pulumi.Output.from_input("")
        if facts(edge.provider).edge_joins_service_cluster:
            attachment = references.get(stack.source.name, "edge_attachment")
            kubeconfig = references.get(stack.source.name, "kubeconfig")
        deployment = EdgeDeployment(
            f"{spec.name}-edge",
            EdgeDeploymentArgs(
                spec=spec,
                edge=edge,
                plan=stack.edge_plan,
                attachment=attachment,
                service_kubeconfig=kubeconfig,
            ),
            opts=opts,
        )
        outputs, endpoint = deployment.stack_outputs, deployment.endpoint
    elif stack.standby:
        assert stack.source is not None and stack.rto is not None
        standby = WarmStandby(
            spec.name,
            WarmStandbyArgs(primary=stack.source.spec, standby=stack.standby, rto=stack.rto),
            opts=opts,
        )
        outputs, endpoint = standby.stack_outputs, standby.cluster.endpoint
    else:
        cluster = GpuInferenceCluster(spec.name, GpuInferenceClusterArgs(spec=spec), opts=opts)
        outputs, endpoint = cluster.stack_outputs, cluster.endpoint
    outputs["role"] = pulumi.Output.from_input(spec.role)
    if stack.traffic and stack.traffic.enabled:
        traffic = stack.traffic
        if traffic.dns_provider not in providers:
            providers[traffic.dns_provider] = builders(traffic.dns_provider).pulumi_provider(spec)
        endpoints = {
            name: endpoint if name == stack.name else references.get(name, "endpoint")
            for name in traffic.stacks
        }
        router = TrafficRouter(
            f"{spec.name}-router",
            TrafficRouterArgs(
                dns_name=spec.dns_name,
                traffic=traffic,
                endpoints=endpoints,
                sites={name: site(stack.project.stack(name)) for name in traffic.stacks},
            ),
            opts=pulumi.ResourceOptions(providers=[providers[traffic.dns_provider]]),
        )
        outputs["traffic"] = router.summary
    undeclared = sorted(set(outputs) - set(OUTPUT_NAMES))
    if undeclared:
        raise KeyError(f"outputs missing from the contract (components/outputs.py): {undeclared}")
    return outputs


def check_deployable(stack: Stack) -> None:
    """Under a real engine (`pulumi preview`/`up`), log the stack's warnings and refuse to
    deploy while it holds placeholders: one error listing every placeholder field. Under mocks
    `exitplan plan` shows the same warnings and the plan goes on."""
    if running_under_mocks():
        return
    for warning in stack.warnings:
        pulumi.log.warn(warning.render())
    if stack.placeholders:
        fields = "".join(f"\n  {p.field}: {p.value!r} ({p.fix})" for p in stack.placeholders)
        raise SpecError(
            f"{len(stack.placeholders)} placeholder value(s) would reach the cloud:{fields}",
            file=stack.relative,
            fix="replace each value (README: placeholders to replace), check with "
            f"`exitplan plan {stack.name}`, then run pulumi again",
        )


class StackReferences:
    """Outputs of other stacks of this project (same organization), one reference each."""

    def __init__(self) -> None:
        self._references: dict[str, pulumi.StackReference] = {}

    def get(self, stack: str, output: str) -> pulumi.Output[Any]:
        """One output of `stack`: a field of the stack-outputs contract, which `stack` must
        have exported (it deployed first: `exitplan stacks order`)."""
        if output not in OUTPUT_NAMES:
            raise KeyError(f"{output!r} is not a stack output (components/outputs.py)")
        if stack not in self._references:
            name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{stack}"
            self._references[stack] = pulumi.StackReference(name)
        return (
            self._references[stack]
            .get_output(output)
            .apply(lambda value: _provided(value, stack, output))
        )


def _provided(value: Any, stack: str, output: str) -> Any:
    """A referenced output's value, or an error naming the stack to deploy first."""
    if value is None:
        raise InputError(
            f"stack {stack} provides no {output!r} output: it is not deployed yet, or with an "
            "older exitplan",
            fix=f"pulumi up -s {stack} first (`exitplan stacks order` lists the first deploy)",
        )
    return value
