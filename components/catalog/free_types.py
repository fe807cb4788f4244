"""Resource types that bill nothing of their own (`data/free_resource_types.csv`): a Pulumi type
token pattern (fnmatch: `aws:iam/*`), why it is free, its source and date. Pricing a program
that is not exitplan's lists every other type it has no price for."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache

from components.catalog import Provenance, _parse


@dataclass(frozen=True)
class FreeType:
    """A pattern of Pulumi type tokens with no charge of their own, and why."""

    pattern: str
    reason: str
    provenance: Provenance


@cache
def free_types() -> tuple[FreeType, ...]:
    """Every row of the free resource type catalog."""
    return tuple(
        _parse("free_resource_types.csv", lambda r, p: FreeType(r["pattern"], r["reason"], p))
    )


def free_reason(token: str) -> str | None:
    """Why a resource of type `token` costs nothing, or None when no row says it is free."""
    return next((f.reason for f in free_types() if fnmatch.fnmatchcase(token, f.pattern)), None)
