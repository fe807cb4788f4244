"""The provider-neutral service spec, read from a stack's `exitplan:service` config.

One `ServiceSpec` describes an inference service once; every cloud module turns the same spec
into equivalent resources. Unknown keys are rejected so a typo never silently falls back to a
default.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components.errors import SpecError

CONFIG_KEY = "exitplan:service"
REQUIRED_TAGS = ("owner", "cost-center")

Provider = Literal["aws", "azure", "gcp"]
Role = Literal["primary", "standby", "edge"]
CapacityType = Literal["on-demand", "spot"]

DnsLabel = Annotated[str, Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GpuSpec(_Strict):
    """The GPU node pool: which accelerator, how much memory, how many nodes."""

    model: str
    min_memory_gib: Positive
    gpus_per_node: Positive = 1
    min_nodes: NonNegative = 1
    max_nodes: Positive = 2
    capacity_type: CapacityType = "on-demand"

    @model_validator(mode="after")
    def _min_not_above_max(self) -> GpuSpec:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        return self


class SystemPoolSpec(_Strict):
    """The CPU pool for cluster add-ons; the catalog picks the cheapest type that fits."""

    min_vcpus: Positive = 2
    min_memory_gib: Positive = 8
    nodes: Positive = 2


class ModelRef(_Strict):
    """A model of the Triton repository and the version every stack must serve."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
    version: Positive


class TritonSpec(_Strict):
    """How Triton serves the models."""

    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")]
    models: Annotated[list[ModelRef], Field(min_length=1)]
    max_batch_size: Positive = 8
    dynamic_batching: bool = True
    min_replicas: Positive = 1
    max_replicas: Positive = 2
    autoscaling_target_utilization: Annotated[int, Field(ge=1, le=100)] = 70

    @model_validator(mode="after")
    def _replicas_and_unique_models(self) -> TritonSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is above max_replicas ({self.max_replicas})"
            )
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"a model is listed twice: {names}")
        return self

    @property
    def minor(self) -> str:
        """`2.51` for `2.51.0`."""
        return ".".join(self.version.split(".")[:2])


class NetworkSpec(_Strict):
    """The cluster network and who may reach the Kubernetes API from outside."""

    cidr: str
    api_allowed_cidrs: Annotated[list[str], Field(min_length=1)]

    @field_validator("cidr")
    @classmethod
    def _private_cidr(cls, value: str) -> str:
        net = _network(value)
        if not net.is_private:
            raise ValueError(f"{value} is not a private range (use 10/8, 172.16/12 or 192.168/16)")
        if net.prefixlen > 20:
            raise ValueError(f"{value} is too small for a cluster: use a /20 or larger")
        return str(net)

    @field_validator("api_allowed_cidrs")
    @classmethod
    def _no_open_api(cls, values: list[str]) -> list[str]:
        nets = [_network(v) for v in values]
        if any(n.prefixlen == 0 for n in nets):
            raise ValueError("0.0.0.0/0 would open the Kubernetes API to the internet")
        return [str(n) for n in nets]


class ServiceSpec(_Strict):
    """One inference service on one cloud: everything a stack needs to build its cluster."""

    name: DnsLabel
    provider: Provider
    region: Annotated[str, Field(min_length=1)]
    role: Role
    kubernetes_version: Annotated[str, Field(pattern=r"^1\.\d{2}$")]
    gpu: GpuSpec
    system_pool: SystemPoolSpec = SystemPoolSpec()
    triton: TritonSpec
    model_repository: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,40}[a-z0-9]$")]
    network: NetworkSpec
    tags: dict[str, str]
    dns_name: Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")]
    drillable: bool = False

    @field_validator("tags")
    @classmethod
    def _required_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
        if missing:
            raise ValueError(f"missing required tag(s): {', '.join(missing)}")
        return tags


def _network(value: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an IPv4 CIDR ({exc})") from exc


_FIXES = {
    "extra_forbidden": "remove it or fix its spelling; allowed keys here: {allowed}",
    "missing": "add it",
    "literal_error": "use one of the values listed",
    "string_pattern_mismatch": "use a value matching the pattern shown",
    "greater_than_equal": "use a larger number",
    "less_than_equal": "use a smaller number",
    "int_parsing": "use a whole number",
    "int_type": "use a whole number",
    "bool_type": "use true or false",
    "bool_parsing": "use true or false",
    "too_short": "add at least one entry",
    "dict_type": "use a mapping (key: value)",
    "list_type": "use a list",
    "model_type": "use a mapping (key: value)",
}


def parse_spec(raw: Any, *, source: str) -> ServiceSpec:
    """Validate a raw `exitplan:service` value; raise `SpecError` naming the first bad field."""
    try:
        return ServiceSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join([CONFIG_KEY, *(str(p) for p in err["loc"])])
        fix = _FIXES.get(err["type"], "correct the value")
        if "{allowed}" in fix:
            fix = fix.format(allowed=", ".join(_allowed_keys(err["loc"][:-1])))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":
            message = f"{message} (got {err['input']!r})"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem(s) after fixing this one)"
        raise SpecError(message, file=source, field=field, fix=fix) from None


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The field names the model at `loc` accepts, for the 'unknown key' fix."""
    model: Any = ServiceSpec
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if _is_model(a)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)
