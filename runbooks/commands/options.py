"""Options and helpers every `exitplan` command shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from components.stack_config import Project, find_project

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Project folder (default: the nearest folder upward holding Pulumi.yaml).",
        file_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def project_of(path: Path | None) -> Project:
    """The project at `path`, or the nearest one upward from the current directory."""
    return Project(find_project(path or Path.cwd()))


def print_json(data: Any) -> None:
    """Print `data` as indented JSON (anything else as its string)."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
