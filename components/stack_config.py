"""Finding the Pulumi project and reading its stack files into validated, resolved deployments.

A stack file holds one of three things under `config:`:
- `exitplan:service`: a service of its own (usually the primary);
- `exitplan:standby`: a warm standby of another stack's service, in another cloud;
- `exitplan:edge`: an edge deployment of another stack's service in an edge zone;
and optionally `exitplan:traffic`: the DNS router that owns the service's public name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from components.catalog.clouds import check_features, check_spec, facts
from components.catalog.kubernetes import FIELD as KUBERNETES_FIELD
from components.catalog.kubernetes import check_support, upgrade_fix
from components.catalog.placeholders import find_placeholders
from components.catalog.resolve import EdgePlan, ResolvedPlan, resolve, resolve_edge
from components.errors import (
    CatalogError,
    InputError,
    SpecError,
    StackNotFoundError,
    UnsupportedFeatureError,
)
from components.rto import RtoEstimate, estimate
from components.spec import (
    CONFIG_KEY,
    EDGE_KEY,
    STANDBY_KEY,
    TRAFFIC_KEY,
    EdgeSpec,
    ServiceSpec,
    StandbySpec,
    TrafficSpec,
    parse_config,
)
from components.topology import edge_service_spec, standby_spec

PROJECT_FILE = "Pulumi.yaml"
# What a stack name may hold here. Pulumi also allows dots, but the front door names its
# servers `<stack>.r<n>` and reports the serving stack (x-served-by) up to the first dot.
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
Kind = Literal["service", "standby", "edge"]
KIND_KEYS: dict[Kind, str] = {"service": CONFIG_KEY, "standby": STANDBY_KEY, "edge": EDGE_KEY}
T = TypeVar("T")


@dataclass(frozen=True)
class StackWarning:
    """Something a stack file holds that a person must act on before `pulumi up`: where it is,
    the value, what is wrong and what to put instead."""

    stack: str
    file: str
    field: str
    value: str
    problem: str
    fix: str

    def render(self) -> str:
        """One warning as `exitplan plan` prints it: where, value, what, how to fix."""
        return f"{self.file}: {self.field}: {self.value!r}: {self.problem}\n  fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        """The warning as `--json` carries it."""
        return {
            "stack": self.stack,
            "file": self.file,
            "field": self.field,
            "value": self.value,
            "problem": self.problem,
            "fix": self.fix,
        }


def find_project(start: Path) -> Path:
    """The nearest folder upward from `start` holding `Pulumi.yaml`."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise InputError(
        f"no {PROJECT_FILE} in {start} or any folder above it",
        fix="run inside the exitplan project or pass --project DIR",
    )


@dataclass(frozen=True)
class Project:
    """A Pulumi project folder and its stack files."""

    root: Path
    _stacks: dict[str, Stack] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def settings(self) -> dict[str, Any]:
        """Pulumi.yaml, parsed."""
        return _read_yaml(self.root / PROJECT_FILE)

    @property
    def name(self) -> str:
        """The Pulumi project name."""
        return str(self.settings.get("name", "exitplan"))

    @property
    def stack_dir(self) -> Path:
        """Where `Pulumi.<stack>.yaml` files live (`stackConfigDir`)."""
        return self.root / str(self.settings.get("stackConfigDir", "."))

    @property
    def program(self) -> Path:
        """The program's entry file (`main` folder's `__main__.py`)."""
        main = self.root / str(self.settings.get("main", "."))
        return main / "__main__.py" if main.is_dir() else main

    def stack_names(self) -> list[str]:
        """Every stack that has a config file, sorted."""
        files = sorted(self.stack_dir.glob("Pulumi.*.yaml"))
        return [f.name.removeprefix("Pulumi.").removesuffix(".yaml") for f in files]

    def stack_file(self, name: str) -> str:
        """A stack's config file, relative to the project root."""
        return str((self.stack_dir / f"Pulumi.{name}.yaml").relative_to(self.root))

    def stack(self, name: str, *, field: str = "", referrer: str = "") -> Stack:
        """A stack by name, or `StackNotFoundError` listing the stacks that exist.

        `field` and `referrer` name the config that pointed here, for the error."""
        if name in self._stacks:
            return self._stacks[name]
        path = self.stack_dir / f"Pulumi.{name}.yaml"
        if not path.is_file():
            raise StackNotFoundError(
                f"unknown stack {name!r}",
                file=referrer or str(path.relative_to(self.root)),
                field=field,
                fix=f"use one of: {', '.join(self.stack_names()) or '(no stacks yet)'}",
            )
        relative = self.stack_file(name)
        if not STACK_NAME.fullmatch(name):
            raise SpecError(
                f"stack name {name!r} may hold only letters, digits, '-' and '_'",
                file=relative,
                field="stack name",
                fix="rename the file (the front door ends a stack's name at its first dot)",
            )
        stack = Stack(self, name, relative, _read_yaml(path, shown=relative).get("config") or {})
        self._stacks[name] = stack
        return stack


class Stack:
    """One stack: its raw config, what it deploys, and the catalog's resolution of it."""

    def __init__(self, project: Project, name: str, relative: str, config: Any) -> None:
        if not isinstance(config, dict):
            raise SpecError("`config` must be a mapping", file=relative, field="config")
        self.project = project
        self.name = name
        self.relative = relative
        self.config: dict[str, Any] = config

    @cached_property
    def kind(self) -> Kind:
        """Whether the stack defines a service, a standby of one or an edge deployment."""
        present = [kind for kind, key in KIND_KEYS.items() if key in self.config]
        if len(present) != 1:
            keys = ", ".join(KIND_KEYS.values())
            raise SpecError(
                f"expected exactly one of {keys}, found {len(present)}",
                file=self.relative,
                field="config",
                fix="describe a service, a standby of a stack or an edge deployment (see README)",
            )
        return present[0]

    def _parse(self, model: type[Any], key: str) -> Any:
        return parse_config(model, key, self.config[key], source=self.relative)

    @cached_property
    def standby(self) -> StandbySpec | None:
        """The standby settings, for a standby stack."""
        return self._parse(StandbySpec, STANDBY_KEY) if self.kind == "standby" else None

    @cached_property
    def edge(self) -> EdgeSpec | None:
        """The edge settings, for an edge stack."""
        return self._parse(EdgeSpec, EDGE_KEY) if self.kind == "edge" else None

    @cached_property
    def traffic(self) -> TrafficSpec | None:
        """The DNS router this stack owns, if any; its stacks and interval checked."""
        if TRAFFIC_KEY not in self.config:
            return None
        traffic: TrafficSpec = self._parse(TrafficSpec, TRAFFIC_KEY)
        for name in traffic.stacks:
            self.project.stack(name, field=f"{TRAFFIC_KEY}.weights", referrer=self.relative)
        allowed = facts(traffic.dns_provider).dns_health_intervals
        if allowed and traffic.health_check.interval_s not in allowed:
            raise SpecError(
                f"{traffic.dns_provider} DNS health checks run every "
                f"{' or '.join(map(str, allowed))} s, not {traffic.health_check.interval_s}",
                file=self.relative,
                field=f"{TRAFFIC_KEY}.health_check.interval_s",
                fix=f"use {' or '.join(map(str, allowed))}",
            )
        self._in_file(lambda: cloud_for_router(traffic), TRAFFIC_KEY)
        return traffic

    @cached_property
    def source(self) -> Stack | None:
        """The stack whose service a standby or edge stack deploys."""
        if self.standby:
            return self.project.stack(
                self.standby.primary, field=f"{STANDBY_KEY}.primary", referrer=self.relative
            )
        if self.edge:
            return self.project.stack(
                self.edge.service, field=f"{EDGE_KEY}.service", referrer=self.relative
            )
        return None

    @cached_property
    def references(self) -> tuple[str, ...]:
        """The stacks whose outputs this stack's program reads (stack references): the
        cluster an edge joins, and the stacks its router (when enabled) routes to. They deploy
        first."""
        names: list[str] = []
        if self.edge and facts(self.edge.provider).edge_joins_service_cluster:
            names.append(self.edge.service)
        if self.traffic and self.traffic.enabled:
            names += [n for n in self.traffic.stacks if n != self.name and n not in names]
        return tuple(names)

    @cached_property
    def spec(self) -> ServiceSpec:
        """The service as this stack deploys it (derived for standby and edge stacks)."""
        if self.kind == "service":
            spec: ServiceSpec = self._parse(ServiceSpec, CONFIG_KEY)
            if spec.role == "edge":
                raise SpecError(
                    "an edge deployment is not a service of its own",
                    file=self.relative,
                    field=f"{CONFIG_KEY}.role",
                    fix=f"describe it under {EDGE_KEY} (service, provider, zone; see README)",
                )
            return spec
        assert self.source is not None
        if self.standby:
            standby = self.standby
            return self._in_file(lambda: standby_spec(self._source_spec, standby), STANDBY_KEY)
        assert self.edge is not None
        return edge_service_spec(self._source_spec, self.edge, self.edge_plan)

    @property
    def _source_spec(self) -> ServiceSpec:
        assert self.source is not None
        if self.source.kind != "service":
            key = STANDBY_KEY if self.standby else EDGE_KEY
            raise SpecError(
                f"stack {self.source.name!r} is a {self.source.kind}, not a service",
                file=self.relative,
                field=f"{key}.{'primary' if self.standby else 'service'}",
                fix="point at the stack that defines exitplan:service",
            )
        return self.source.spec

    @cached_property
    def edge_plan(self) -> EdgePlan:
        """The edge zone's pre-flight: the machine type and whether it serves on GPU."""
        assert self.edge is not None
        edge = self.edge
        return self._in_file(lambda: resolve_edge(self._source_spec, edge), EDGE_KEY)

    @cached_property
    def plan(self) -> ResolvedPlan:
        """The regional spec checked against its cloud's gaps and resolved against the
        catalog; errors name this file and the field."""
        key = KIND_KEYS[self.kind]
        return self._in_file(lambda: _checked_plan(self.spec), key)

    def validate(self) -> None:
        """Every check that can run before the program: spec, references, catalog, router."""
        self._required_config(self.spec.provider)
        if self.traffic:
            self._required_config(self.traffic.dns_provider)
        if self.kind == "edge":
            self._edge_preflight()
        else:
            self.plan  # noqa: B018
        self.traffic  # noqa: B018
        self._kubernetes_notice  # noqa: B018

    @cached_property
    def placeholders(self) -> list[StackWarning]:
        """Every placeholder value in this stack's file (documentation CIDRs, reserved domains,
        example account IDs: `components/catalog/data/placeholders.csv`). A standby or edge
        takes from its service file only the GPU, Triton, models and tags, which name nothing
        a cloud resolves; the service's network, public name and zone stay with the service."""
        return [
            StackWarning(
                self.name,
                self.relative,
                found.field,
                found.value,
                f"placeholder: {found.placeholder.meaning} ({found.placeholder.provenance.source})",
                f"replace it with {found.placeholder.replace_with}",
            )
            for found in find_placeholders(self.config)
        ]

    @property
    def warnings(self) -> list[StackWarning]:
        """What to act on before `pulumi up` (after `validate`): a Kubernetes minor near the
        end of standard support, and every placeholder value."""
        notice = self._kubernetes_notice
        return ([notice] if notice else []) + self.placeholders

    @property
    def _service_stack(self) -> Stack:
        """The stack whose file holds the service this stack deploys (itself, or its source)."""
        if self.kind == "service":
            return self
        assert self.source is not None
        return self.source

    @cached_property
    def _kubernetes_notice(self) -> StackWarning | None:
        """The support calendar's verdict on the Kubernetes minor this stack deploys on its
        cloud: refused (`CatalogError` naming the service file's `kubernetes_version`) once
        past standard support, a warning near its end, else None."""
        spec, owner = self.spec, self._service_stack
        field = f"{CONFIG_KEY}.{KUBERNETES_FIELD}"
        via = (
            ""
            if owner is self
            else f"{self.name} deploys {owner.name}'s version on {spec.provider}: "
        )
        try:
            notice = check_support(spec.provider, spec.kubernetes_version)
        except CatalogError as exc:
            raise CatalogError(
                via + exc.problem, file=owner.relative, field=field, fix=exc.fix
            ) from None
        if notice is None:
            return None
        return StackWarning(
            self.name,
            owner.relative,
            field,
            spec.kubernetes_version,
            via + notice,
            upgrade_fix(spec.provider),
        )

    def _edge_preflight(self) -> None:
        """The zone offers what is asked (`edge_plan`), and the edge has a cluster to join or a
        model store of its own."""
        assert self.edge is not None and self.source is not None
        plan, edge, service = self.edge_plan, self.edge, self._source_spec
        self._in_file(lambda: check_spec(self.spec), EDGE_KEY)
        self._edge_settings_apply(edge)
        if facts(edge.provider).edge_joins_service_cluster:
            if (service.provider, service.region) != (edge.provider, plan.parent_region):
                raise SpecError(
                    f"nodes in {plan.zone} join the {edge.provider} cluster of the service "
                    f"stack in {plan.parent_region}, but {self.source.name!r} runs on "
                    f"{service.provider} {service.region}",
                    file=self.relative,
                    field=f"{EDGE_KEY}.service",
                    fix=f"point service at a {edge.provider} stack in {plan.parent_region}, "
                    f"or pick a zone whose parent region is {service.region}",
                )
        elif not edge.model_repository:
            raise SpecError(
                f"an edge cluster of its own on {edge.provider} needs its own model store",
                file=self.relative,
                field=f"{EDGE_KEY}.model_repository",
                fix="set model_repository to a new bucket name for this edge cluster",
            )

    def _edge_settings_apply(self, edge: EdgeSpec) -> None:
        """Refuse an edge setting its platform has nothing to apply to (a gap with its reason),
        and require the API allowlist where the edge has an API of its own."""
        cloud = facts(edge.provider)
        settings = (
            ("network.api_allowed_cidrs", "edge-api-allowlist", edge.network.api_allowed_cidrs),
            ("max_nodes", "edge-autoscaling", edge.max_nodes),
        )
        for field_name, feature, value in settings:
            reason = cloud.lacks(feature)
            if reason and value:
                raise SpecError(
                    f"{field_name} has no effect on {edge.provider} edges: {reason}",
                    file=self.relative,
                    field=f"{EDGE_KEY}.{field_name}",
                    fix="remove it",
                )
        if not cloud.lacks("edge-api-allowlist") and not edge.network.api_allowed_cidrs:
            raise SpecError(
                f"an edge cluster of its own on {edge.provider} needs the CIDRs that may reach "
                "its Kubernetes API",
                file=self.relative,
                field=f"{EDGE_KEY}.network.api_allowed_cidrs",
                fix="list your admin networks (0.0.0.0/0 is refused)",
            )

    def _required_config(self, name: str) -> None:
        for key in facts(name).required_config:
            if not self.config.get(key):
                raise SpecError(
                    f"stacks on {name} need {key}",
                    file=self.relative,
                    field=f"config.{key}",
                    fix=f"add `{key}: <value>` under config: (or `pulumi config set {key} ...`)",
                )

    @cached_property
    def rto(self) -> RtoEstimate | None:
        """The achievable RTO of a standby stack, from catalog figures."""
        if self.standby is None:
            return None
        assert self.source is not None
        return estimate(
            self.standby.level,
            self._source_spec,
            self.spec.provider,
            self.plan.gpu_instance.instance_type,
            self.source.traffic,
        )

    @cached_property
    def gaps(self) -> dict[str, str]:
        """The per-cloud gaps that concern this stack (`cloud feature` -> reason)."""
        wanted: list[tuple[str, str]] = []
        if self.standby:
            wanted.append((self.standby.provider, f"replication-from-{self._source_spec.provider}"))
        if self.traffic:
            wanted.append((self.traffic.dns_provider, "dns-health-checks"))
        return {
            f"{name} {feature}": reason
            for name, feature in wanted
            if (reason := facts(name).lacks(feature))
        }

    def _in_file(self, check: Callable[[], T], key: str) -> T:
        """Run a check; catalog and capability errors get this file and the key's path."""
        try:
            return check()
        except (CatalogError, UnsupportedFeatureError, SpecError) as exc:
            if exc.file:
                raise
            field = f"{key}.{exc.field}" if exc.field else key
            raise type(exc)(exc.problem, file=self.relative, field=field, fix=exc.fix) from None


def _checked_plan(spec: ServiceSpec) -> ResolvedPlan:
    """The spec's plan, after checking its cloud has every feature the spec asks for."""
    check_spec(spec)
    return resolve(spec)


def cloud_for_router(traffic: TrafficSpec) -> None:
    """Refuse a router its DNS service cannot provide (one error listing the gaps)."""
    check_features(traffic.dns_provider, {"dns-failover"} if traffic.failover else set())


def _read_yaml(path: Path, shown: str = "") -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(
            f"YAML syntax error at {where}: {problem}",
            file=shown or str(path),
            fix="fix the YAML (indentation, a missing ':' or an unclosed quote)",
        ) from None
    if not isinstance(data, dict):
        raise SpecError("expected a YAML mapping at the top level", file=shown or str(path))
    return data
