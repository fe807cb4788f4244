"""Placeholder values the clouds' plan mocks share: shaped like the real ones, marked as
placeholders (documentation ranges, `plan.invalid`, all-digit test IDs)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

ACCOUNT = "123456789012"
PLACEHOLDER_CA = base64.b64encode(b"plan-only placeholder CA").decode()

State = dict[str, Any]
# (resource name, its inputs, the stack config) -> the outputs the cloud would compute.
Computed = Callable[[str, State, State], State]
# (invoke arguments, the stack config) -> the invoke's result.
Invoke = Callable[[State, State], State]


def digest(text: str, size: int = 16) -> str:
    """A stable pseudo-identifier derived from `text`."""
    return hashlib.sha256(text.encode()).hexdigest()[:size].upper()


def region_of(inputs: State, default: str) -> str:
    """The region (or location) a resource is declared in."""
    return str(inputs.get("region") or inputs.get("location") or default).lower()
