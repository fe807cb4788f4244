"""Options and helpers every `exitplan` command shares."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from components.stack_config import Project, find_project
from runbooks import render
from runbooks.schemas import schema_name

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Project folder (default: the nearest folder upward holding Pulumi.yaml).",
        file_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def http_url(value: str | None, flag: str) -> str | None:
    """`value` when it is an http(s) URL with a host, checked before anything starts; else bad
    input naming `flag` (exit 2)."""
    from urllib.parse import urlsplit

    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(
            f"{value!r} is not an http(s) URL with a host (e.g. http://127.0.0.1:8000)",
            param_hint=flag,
        )
    return value


def file_option(flag: str, help: str) -> Any:
    """A `--flag FILE` option: a file (a folder is refused), no default shown."""
    return typer.Option(flag, help=help, dir_okay=False, show_default=False)


def folder_option(flag: str, help: str) -> Any:
    """A `--flag FOLDER` option: a folder (a file is refused), no default shown."""
    return typer.Option(flag, help=help, file_okay=False, show_default=False)


def project_of(path: Path | None) -> Project:
    """The project at `path`, or the nearest one upward from the current directory."""
    return Project(find_project(path or Path.cwd()))


def run_folder(project: Project, kind: str, name: str) -> Path:
    """`.exitplan/<kind>/<UTC time>-<name>` under the project: where a run (a drill, a
    rehearsal) writes when no --out is given."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return project.root / ".exitplan" / kind / f"{stamp}-{name}"


def print_json(command: str, data: Mapping[str, Any]) -> None:
    """Print `--json` output: one object, `{"schema": "exitplan.<command>/1", **data}`, where
    `command` is the subcommand's words joined by "." ("stacks.list", "drill.exit-plan") and
    `runbooks/schemas/<command>.json` is its JSON Schema. A list or any other non-mapping is a
    TypeError: wrap it in a keyed field so that every output can grow new fields."""
    if not isinstance(data, Mapping):
        raise TypeError(
            f"print_json({command!r}, ...) takes a mapping, not {type(data).__name__}: "
            "put the list under a key"
        )
    if "schema" in data:
        raise ValueError(f"print_json({command!r}, ...): 'schema' is the contract's own field")
    document = {"schema": schema_name(command), **data}
    typer.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def print_written(command: str, markdown: Path, html: Path, *, as_json: bool) -> None:
    """What a `report` command wrote (report.md and report.html), as JSON or as one line."""
    if as_json:
        print_json(command, {"markdown": str(markdown), "html": str(html)})
    else:
        render.out.print(f"wrote {markdown} and {html}")
