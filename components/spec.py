"""The provider-neutral service spec, read from a stack's `exitplan:service` config.

One `ServiceSpec` describes an inference service once; every cloud module turns the same spec
into equivalent resources. Unknown keys are rejected so a typo never silently falls back to a
default.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, NamedTuple, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from components.catalog import default_triton_version
from components.cidrs import whole_internet
from components.errors import SpecError
from components.providers.registry import CLOUDS

CONFIG_KEY = "exitplan:service"
STANDBY_KEY = "exitplan:standby"
EDGE_KEY = "exitplan:edge"
TRAFFIC_KEY = "exitplan:traffic"
CONFIG_KEYS = (CONFIG_KEY, STANDBY_KEY, EDGE_KEY, TRAFFIC_KEY)
REQUIRED_TAGS = ("owner", "cost-center")
# Spec fields that change nothing `pulumi up` creates: dotted field path (`*` for any list
# index) -> what reads it. Every other field of a stack file changes its plan
# (tests/components/test_spec_effects.py changes each one and re-plans); the README's spec
# reference lists the same fields.
NOT_PLANNED: dict[str, str] = {
    f"{CONFIG_KEY}.drillable": "the drills: `exitplan drill` refuses a stack that is not "
    "drillable (runbooks/drills/exit_preflight.py)",
    f"{STANDBY_KEY}.drillable": "the drills: `exitplan drill` refuses a stack that is not "
    "drillable (runbooks/drills/exit_preflight.py)",
    f"{EDGE_KEY}.drillable": "the drills: `exitplan drill` refuses a stack that is not "
    "drillable (runbooks/drills/exit_preflight.py)",
    f"{CONFIG_KEY}.triton.models.*.size_mib": "the estimates: a standby's RTO "
    "(components/rto.py: download and load time) and storage and egress cost "
    "(components/cost/resources.py, `exitplan cost tco`)",
}


def _registered_cloud(value: str) -> str:
    if value not in CLOUDS:
        raise ValueError(f"unknown cloud {value!r}: use one of {', '.join(CLOUDS)}")
    return value


# A registered cloud: the registry is the one list of clouds.
Provider = Annotated[str, AfterValidator(_registered_cloud)]
Role = Literal["primary", "standby", "edge"]
CapacityType = Literal["on-demand", "spot"]
StandbyLevel = Literal["hot", "warm", "pilot-light"]

DnsLabel = Annotated[str, Field(pattern=r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]
# 1 TiB: no GPU node holds a larger model (review I9: size_mib 999999999999 passed and became an
# RTO of 31315104787 s).
MAX_MODEL_MIB = 1024 * 1024
ObjectId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")]


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

    def accepts(self, gpu_model: str, gpu_memory_gib: int, gpu_count: int) -> bool:
        """Whether a machine with these GPUs meets this spec (model, memory, count per node)."""
        return (
            gpu_model == self.model
            and gpu_memory_gib >= self.min_memory_gib
            and gpu_count == self.gpus_per_node
        )

    @property
    def wanted(self) -> str:
        """`1x T4 of at least 16 GiB`, for messages."""
        return f"{self.gpus_per_node}x {self.model} of at least {self.min_memory_gib} GiB"

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
    size_mib: Annotated[int, Field(ge=1, le=MAX_MODEL_MIB)]
    # sha256 of the published model.onnx, as `exitplan package` prints it.
    digest: Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")] | None = None

    @property
    def label(self) -> str:
        """`fraud-scorer:3@sha256:0123456789ab` (the digest shortened), for parity."""
        short = f"@{self.digest[:19]}" if self.digest else ""
        return f"{self.name}:{self.version}{short}"


class TritonSpec(_Strict):
    """How Triton serves the models."""

    # Default: the Triton the sandbox verifies (catalog `sandbox_triton.csv`); a stack may pin
    # another release, which parity then reports as a gap.
    version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] = Field(
        default_factory=default_triton_version
    )
    models: Annotated[list[ModelRef], Field(min_length=1)]
    max_batch_size: Positive = 8
    dynamic_batching: bool = True
    min_replicas: NonNegative = 1
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
    def model_size_mib(self) -> int:
        """The size of every model the service loads."""
        return sum(m.size_mib for m in self.models)


# The Deployment annotation carrying the model configuration the service promises
# (`ModelConfig.label`): `exitplan package --publish` writes it into each model's config.pbtxt
# and refuses options that contradict it.
MODEL_CONFIG_ANNOTATION = "exitplan.io/model-config"


class ModelConfig(NamedTuple):
    """What a service promises Triton's model configuration (each model's config.pbtxt, as
    `exitplan package` writes it): the stack's Deployment carries it, parity compares it."""

    max_batch_size: int
    dynamic_batching: bool

    @property
    def label(self) -> str:
        """`max_batch_size=32 dynamic_batching=on`, for annotations, parity and messages."""
        batching = "on" if self.dynamic_batching else "off"
        return f"max_batch_size={self.max_batch_size} dynamic_batching={batching}"


def model_config(triton: TritonSpec) -> ModelConfig:
    """The model configuration a Triton spec promises."""
    return ModelConfig(triton.max_batch_size, triton.dynamic_batching)


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
        nets = [str(_network(v)) for v in values]
        if found := whole_internet(nets):
            raise ValueError(f"{found} would open the Kubernetes API to the whole internet")
        return nets


class EdgeNetworkSpec(NetworkSpec):
    """An edge's network: `api_allowed_cidrs` only where the edge has a Kubernetes API of its
    own to restrict (refused elsewhere: catalog gap `edge-api-allowlist`)."""

    api_allowed_cidrs: list[str] = []


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
    # Azure: the Entra object ID that publishes models (`exitplan package --publish`), granted
    # Storage Blob Data Contributor on the model container; default: the deployer. Unused
    # elsewhere (publishers there use their own cloud credentials).
    model_publisher: ObjectId | None = None
    drillable: bool = False
    # Google: the cluster cannot be deleted (GKE deletion_protection, Distributed Cloud
    # deletion_policy PREVENT) until this is false and applied; unused elsewhere.
    deletion_protection: bool = True

    @field_validator("tags")
    @classmethod
    def _required_tags(cls, tags: dict[str, str]) -> dict[str, str]:
        missing = [t for t in REQUIRED_TAGS if not tags.get(t)]
        if missing:
            raise ValueError(f"missing required tag(s): {', '.join(missing)}")
        return tags


class StandbySpec(_Strict):
    """A warm standby: the primary stack's service, in another cloud, at a standby level."""

    primary: Annotated[str, Field(min_length=1)]
    level: StandbyLevel
    provider: Provider
    region: Annotated[str, Field(min_length=1)]
    model_repository: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,40}[a-z0-9]$")]
    network: NetworkSpec
    # The GPU to ask the standby's cloud for when it does not offer the primary's (default:
    # the primary's); node counts still follow the standby level and the primary's max.
    gpu: GpuSpec | None = None
    # AWS role Storage Transfer Service assumes (keyless) to copy the primary's S3 bucket.
    replication_role_arn: Annotated[str, Field(pattern=r"^arn:aws:iam::\d{12}:role/.+$")] | None = (
        None
    )
    # Azure: the Entra object ID that publishes models (`exitplan package --publish`), granted
    # Storage Blob Data Contributor on the model container; default: the deployer. Unused
    # elsewhere (publishers there use their own cloud credentials).
    model_publisher: ObjectId | None = None
    drillable: bool = False
    # Google: the cluster cannot be deleted (GKE deletion_protection, Distributed Cloud
    # deletion_policy PREVENT) until this is false and applied; unused elsewhere.
    deletion_protection: bool = True


class EdgeSpec(_Strict):
    """An edge deployment of a stack's service in an edge zone (Wavelength, GDC edge,
    Extended Zone)."""

    service: Annotated[str, Field(min_length=1)]
    provider: Provider
    zone: Annotated[str, Field(min_length=1)]
    min_nodes: Positive = 1
    # Default: min_nodes. Refused where the edge platform's node pools do not autoscale
    # (catalog gap `edge-autoscaling`).
    max_nodes: Positive | None = None
    network: EdgeNetworkSpec
    # The GPU to ask the zone for (default: the service's); a zone with no GPU serves on CPU.
    gpu: GpuSpec | None = None
    # Google Distributed Cloud: the Google user (an account email, not a group: the cluster
    # binds cluster-admin to a user) granted cluster admin: the deployer, whose kubeconfig
    # creates Triton. Unused elsewhere.
    admin_user: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    # Google Distributed Cloud: IPv4 ranges ("a.b.c.d-a.b.c.e" or CIDR) on the rack's network
    # for LoadBalancer Services (none: Triton's Service never gets an address); unused elsewhere.
    load_balancer_pools: list[str] = []
    # Google Distributed Cloud: the release to run ("1.11.0"; default: the rack's default).
    platform_version: Annotated[str, Field(pattern=r"^\d+\.\d+\.\d+$")] | None = None
    # The model store of an edge cluster of its own (Azure, Google); AWS Wavelength nodes
    # read the service stack's store.
    model_repository: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{2,40}[a-z0-9]$")] | None = (
        None
    )
    # Azure: the Entra object ID that publishes models (`exitplan package --publish`), granted
    # Storage Blob Data Contributor on the model container; default: the deployer. Unused
    # elsewhere (publishers there use their own cloud credentials).
    model_publisher: ObjectId | None = None
    drillable: bool = False
    # Google: the cluster cannot be deleted (GKE deletion_protection, Distributed Cloud
    # deletion_policy PREVENT) until this is false and applied; unused elsewhere.
    deletion_protection: bool = True

    @property
    def node_ceiling(self) -> int:
        """The most nodes the edge scales to: max_nodes, else min_nodes."""
        return self.max_nodes or self.min_nodes

    @model_validator(mode="after")
    def _min_not_above_max(self) -> EdgeSpec:
        if self.min_nodes > self.node_ceiling:
            raise ValueError(f"min_nodes ({self.min_nodes}) is above max_nodes ({self.max_nodes})")
        return self


class HealthCheckSpec(_Strict):
    """How the DNS service probes each endpoint's `/v2/health/ready`."""

    interval_s: Positive = 10
    failure_threshold: Annotated[int, Field(ge=1, le=10)] = 3

    @property
    def detection_s(self) -> int:
        """Worst-case seconds from an endpoint failing to the DNS service marking it down."""
        return self.interval_s * self.failure_threshold


class FailoverSpec(_Strict):
    """Which stack serves while healthy, and which takes over."""

    primary: Annotated[str, Field(min_length=1)]
    secondary: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _two_stacks(self) -> FailoverSpec:
        if self.primary == self.secondary:  # review I9: the primary as its own secondary passed
            raise ValueError(
                f"secondary {self.secondary!r} is the primary itself: a failover needs another "
                "stack to take over"
            )
        return self


class TrafficSpec(_Strict):
    """One public name for the service, owned by one cloud's DNS, routing over stacks."""

    dns_provider: Provider
    zone: Annotated[str, Field(pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")]
    ttl_s: Annotated[int, Field(ge=1, le=60)] = 60
    health_check: HealthCheckSpec = HealthCheckSpec()
    weights: Annotated[dict[str, NonNegative], Field(min_length=1)]
    failover: FailoverSpec | None = None
    # Azure: the DNS zone's resource group (required); Google: the managed zone's name
    # (default: the zone with dots as dashes); AWS: unused (the hosted zone is found by name).
    zone_ref: str | None = None
    # false: declare no router yet. A first deploy runs the owning stack once with false (its
    # store must exist before the stacks it routes to copy from it), then with true once those
    # stacks have endpoints (`exitplan stacks order`).
    enabled: bool = True

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_100(cls, weights: dict[str, int]) -> dict[str, int]:
        if sum(weights.values()) != 100:
            raise ValueError(f"weights must sum to 100, got {sum(weights.values())}: {weights}")
        return weights

    @property
    def stacks(self) -> list[str]:
        """Every stack the router sends traffic to."""
        names = list(self.weights)
        if self.failover:
            names += [n for n in (self.failover.primary, self.failover.secondary) if n not in names]
        return names


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


M = TypeVar("M", bound=BaseModel)


def parse_spec(raw: Any, *, source: str) -> ServiceSpec:
    """Validate a raw `exitplan:service` value; raise `SpecError` naming the first bad field."""
    return parse_config(ServiceSpec, CONFIG_KEY, raw, source=source)


def parse_config(model: type[M], key: str, raw: Any, *, source: str) -> M:
    """Validate a raw config value under `key`; raise `SpecError` naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        # an unknown key first: a misspelt one (`modle`) also makes its field missing, and
        # "Field required" alone never named the typo (review I9)
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        field = ".".join([key, *(str(p) for p in err["loc"])])
        fix = _FIXES.get(err["type"], "correct the value")
        if err["type"] == "string_type" and isinstance(err["input"], int | float):
            fix = (
                f"quote it: YAML read it as the number {err['input']!r}; write it in quotes as "
                'it should read (e.g. kubernetes_version: "1.30")'
            )
        if "{allowed}" in fix:
            fix = fix.format(allowed=", ".join(_allowed_keys(model, err["loc"][:-1])))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch":
            message = f"{message} (got {err['input']!r})"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem(s) after fixing this one)"
        raise SpecError(message, file=source, field=field, fix=fix) from None


def _allowed_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names the model at `loc` accepts, for the 'unknown key' fix."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(part)
        if info is None:
            return []
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if _is_model(a)), None)
        if model is None:
            return []
    return list(model.model_fields)


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)
