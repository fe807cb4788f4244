"""The `--json` contract: every command's output is one object whose `schema` field names it
(`exitplan.<command>/1`) and whose JSON Schema (draft 2020-12) is `<command>.json` here.
A field may be added within a version; renaming, removing or retyping one makes it /2."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).parent
VERSION = 1


def schema_name(command: str) -> str:
    """The `schema` field of `command`'s output ("stacks.list" -> "exitplan.stacks.list/1")."""
    return f"exitplan.{command}/{VERSION}"


def schema_id(command: str) -> str:
    """The `$id` of `command`'s JSON Schema."""
    return f"https://exitplan.dev/schemas/{command}/{VERSION}"


def commands() -> list[str]:
    """Every command that has a schema here, sorted."""
    return sorted(path.stem for path in FOLDER.glob("*.json"))


@cache
def load(command: str) -> dict[str, Any]:
    """`command`'s JSON Schema; a KeyError naming the known ones when it has none."""
    path = FOLDER / f"{command}.json"
    if not path.is_file():
        raise KeyError(f"no JSON Schema for {command!r}; known: {', '.join(commands())}")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def command_of(document: dict[str, Any]) -> str:
    """The command a `--json` document names in its `schema` field ("exitplan.plan/1" ->
    "plan"); a ValueError when the field is missing or not of this form."""
    name = document.get("schema")
    prefix, suffix = "exitplan.", f"/{VERSION}"
    if not (isinstance(name, str) and name.startswith(prefix) and name.endswith(suffix)):
        raise ValueError(f"schema field {name!r} is not exitplan.<command>/{VERSION}")
    return name[len(prefix) : -len(suffix)]
