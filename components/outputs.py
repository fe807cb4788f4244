"""The stack-outputs contract: what every stack exports, typed once.

The components produce it (`pulumi.export` of each field), the plan mocks answer stack
references with it, parity reads it and the live target is built from it (`pulumi stack
output --json`). A key a consumer needs and no component exports cannot exist: both sides use
this model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.errors import InputError
from components.spec import Role, StandbyLevel

EndpointKind = Literal["hostname", "ip"]
# `pulumi stack output --json` without --show-secrets prints secret values as this.
SECRET_PLACEHOLDER = "[secret]"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentityOutput(_Model):
    """How Triton authenticates to its cloud: the identity kind and its principal."""

    kind: str
    principal: str


class ModelOutput(_Model):
    """A model the stack serves, at the version and digest its spec pins."""

    name: str
    version: int
    digest: str | None = None


class RouterOutput(_Model):
    """The DNS router a stack owns: public name, weights, failover and health checks."""

    public_name: str
    dns_provider: str
    weights: dict[str, int]
    failover: dict[str, str] | None = None
    health_checked: bool
    ttl_s: int


class EdgeZoneOutput(_Model):
    """The edge zone an edge deployment serves from."""

    zone: str
    kind: str
    parent_region: str


class StackOutputs(_Model):
    """Every output of a deployed stack (the same keys on every cloud)."""

    provider: str
    region: str
    role: Role
    cluster_name: str
    kubeconfig: str = Field(description="secret")
    # `http://host:port` of Triton's Service; empty until the load balancer has an address.
    endpoint: str
    # Whether the load balancer reports a hostname (AWS NLB) or an IP (GKE, AKS, OKE).
    endpoint_kind: EndpointKind
    model_repository_uri: str
    models: list[ModelOutput]
    gpu_instance_type: str
    gpu_model: str
    max_gpus: int
    identity: IdentityOutput
    triton_version: str
    parity: dict[str, str]
    # What an edge deployment needs to join this cluster (AWS Wavelength); else empty.
    edge_attachment: dict[str, Any] = {}
    standby_level: StandbyLevel | None = None
    rto_estimate: dict[str, Any] | None = None
    model_replication: str | None = None
    # The standby's own GPU, where its cloud does not offer the primary's.
    standby_gpu: str | None = None
    traffic: RouterOutput | None = None
    edge_zone: EdgeZoneOutput | None = None


SECRET_OUTPUTS = ("kubeconfig",)
OUTPUT_NAMES = tuple(StackOutputs.model_fields)


def parse_outputs(stack: str, raw: dict[str, Any]) -> StackOutputs:
    """A stack's outputs as the contract types them; `InputError` naming the stack, the
    output and the fix when they do not match (a stack deployed by another version)."""
    try:
        return StackOutputs.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(
            f"stack {stack}'s outputs do not match the contract: {field}: {err['msg']}",
            field=field,
            fix=f"pulumi up -s {stack} with this version of exitplan, then read its outputs again",
        ) from None
