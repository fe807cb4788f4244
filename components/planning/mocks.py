"""Pulumi mocks that stand in for the clouds during an offline plan.

Each resource echoes its inputs and gains the outputs its cloud would compute, from that
cloud's plan module (`components/providers/<cloud>/plan.py`), so the program's `apply` code
runs exactly as it would in `pulumi up`. Cloud-neutral answers live here: a Kubernetes
LoadBalancer Service reports the address kind its cloud's load balancers report (an AWS NLB a
hostname, GKE/AKS an IP), and a stack reference answers with the referenced stack's own planned
outputs (the typed stack-outputs contract).
"""

from __future__ import annotations

import importlib
import ipaddress
import threading
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import pulumi
from pulumi.output import Unknown

from components.catalog.clouds import cloud_of_token, facts
from components.outputs import SECRET_OUTPUTS
from components.providers.plan_values import State, digest
from components.providers.registry import CLOUDS

# Documentation ranges (RFC 5737), so no planned address is ever a real one.
PLACEHOLDER_IPS = ipaddress.IPv4Network("198.51.100.0/24")


def cloud_plan(token: str) -> ModuleType | None:
    """The plan module of the cloud a resource type token belongs to (None: Kubernetes,
    Pulumi itself)."""
    cloud = cloud_of_token(token)
    return importlib.import_module(f"{CLOUDS[cloud]}.plan") if cloud else None


def load_balancer_address(name: str, kind: str) -> State:
    """A LoadBalancer Service's status as a cloud of that address kind reports it."""
    if kind == "hostname":
        return {"hostname": f"{digest(name, 12).lower()}.lb.plan.invalid"}
    offset = int(digest(name, 4), 16) % (PLACEHOLDER_IPS.num_addresses - 2) + 1
    return {"ip": str(PLACEHOLDER_IPS[offset])}


def _has_unknown(value: Any) -> bool:
    """Whether a registration input holds a value unknown in preview, at any depth."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


class PlanMocks(pulumi.runtime.Mocks):
    """Mocks for an offline plan of one stack; records each registration's inputs.

    `provider` is the stack's cloud (its load balancers' address kind); `references` holds the
    planned outputs of every stack this one references (deployed, so known even in preview).
    `preview`: answer as `pulumi preview` of a first deploy does, with inputs only."""

    def __init__(
        self,
        stack: str,
        config: dict[str, Any],
        provider: str,
        references: Mapping[str, Mapping[str, Any]],
        *,
        preview: bool = False,
    ) -> None:
        self.stack = stack
        self.preview = preview
        self.config = config
        self.address_kind = facts(provider).lb_address
        self.references = references
        # Registrations run on executor threads: each thread sees its own last registration.
        self._local = threading.local()

    @property
    def last_inputs(self) -> State:
        """The inputs of the last resource registered on this thread."""
        return dict(getattr(self._local, "inputs", {}))

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, State]:
        """Echo the inputs plus what the cloud would compute for this resource type; in
        preview, the inputs only (a new resource's id and computed outputs are unknown)."""
        self._local.inputs = args.inputs
        if self.preview and args.typ != "pulumi:pulumi:StackReference":
            # An input built from another resource's unknown output stays unknown as a whole
            # (the cloud may reshape it: an identity list comes back a map).
            return "", {k: v for k, v in args.inputs.items() if not _has_unknown(v)}
        state: State = {}
        plan = cloud_plan(args.typ)
        if plan is not None:
            state.update(plan.identifiers(args.typ, args.name, args.inputs))
        state.update(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            state.update(self._reference(str(args.inputs.get("name", args.name))))
        elif args.typ == "kubernetes:core/v1:Service":
            state.update(self._service(args.name, args.inputs))
        elif plan is not None and args.typ in plan.COMPUTED:
            state.update(plan.COMPUTED[args.typ](args.name, args.inputs, self.config))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[State, list[tuple[str, str]]]:
        """Answer the data-source invokes the clouds' builders make (no check failures)."""
        plan = cloud_plan(args.token)
        handler = plan.INVOKES.get(args.token) if plan is not None else None
        return (handler(args.args, self.config) if handler else {}), []

    def _service(self, name: str, inputs: State) -> State:
        if (inputs.get("spec") or {}).get("type") != "LoadBalancer":
            return {}
        address = load_balancer_address(f"{self.stack}/{name}", self.address_kind)
        return {"status": {"loadBalancer": {"ingress": [address]}}}

    def _reference(self, name: str) -> State:
        """Another stack's outputs as `pulumi stack output` gives them once it is deployed."""
        stack = name.rsplit("/", 1)[-1]
        outputs = self.references.get(stack)
        if outputs is None:
            raise KeyError(f"the plan references stack {stack!r}, which was not planned first")
        secrets = [k for k in SECRET_OUTPUTS if k in outputs]
        return {"outputs": dict(outputs), "secretOutputNames": secrets}
