"""`validated`: a command's `--json` output checked against the JSON Schema its `schema` field
names (runbooks/schemas/), for every test that runs a command with `--json`."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from runbooks import schemas


def validated(stdout: str) -> dict[str, Any]:
    """The one JSON object `stdout` holds, checked against the schema its `schema` field names
    (an AssertionError listing every violation otherwise)."""
    document = json.loads(stdout)
    assert isinstance(document, dict), f"not one object: {stdout[:200]}"
    validator = Draft202012Validator(schemas.load(schemas.command_of(document)))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, "\n".join(errors)
    return document
