"""Finding the Pulumi project and reading its stack files into validated, resolved specs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from components.catalog.resolve import ResolvedPlan, resolve
from components.errors import (
    CatalogError,
    InputError,
    SpecError,
    StackNotFoundError,
    UnsupportedFeatureError,
)
from components.providers import cloud_for
from components.spec import CONFIG_KEY, ServiceSpec, parse_spec

PROJECT_FILE = "Pulumi.yaml"


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

    def stack(self, name: str) -> Stack:
        """A stack by name, or `StackNotFoundError` listing the stacks that exist."""
        path = self.stack_dir / f"Pulumi.{name}.yaml"
        if not path.is_file():
            raise StackNotFoundError(
                f"unknown stack {name!r}",
                file=str(path.relative_to(self.root)),
                fix=f"use one of: {', '.join(self.stack_names()) or '(no stacks yet)'}",
            )
        return Stack(name=name, path=path, relative=str(path.relative_to(self.root)))


@dataclass(frozen=True)
class Stack:
    """One stack file: its raw config, its spec and the catalog's resolution of it."""

    name: str
    path: Path
    relative: str

    @cached_property
    def config(self) -> dict[str, Any]:
        """The stack's `config:` mapping."""
        config = _read_yaml(self.path, shown=self.relative).get("config") or {}
        if not isinstance(config, dict):
            raise SpecError("`config` must be a mapping", file=self.relative, field="config")
        return config

    @cached_property
    def spec(self) -> ServiceSpec:
        """The validated service spec."""
        if CONFIG_KEY not in self.config:
            raise SpecError(
                f"no {CONFIG_KEY} key",
                file=self.relative,
                field=f"config.{CONFIG_KEY}",
                fix="describe the service under config: exitplan:service: (see README)",
            )
        return parse_spec(self.config[CONFIG_KEY], source=self.relative)

    @cached_property
    def plan(self) -> ResolvedPlan:
        """The spec checked against its cloud's gaps and resolved against the catalog; errors
        name this file and the field."""
        try:
            cloud_for(self.spec)
            return resolve(self.spec)
        except (CatalogError, UnsupportedFeatureError) as exc:
            field = f"{CONFIG_KEY}.{exc.field}" if exc.field else CONFIG_KEY
            raise type(exc)(exc.problem, file=self.relative, field=field, fix=exc.fix) from None


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
