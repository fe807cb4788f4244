"""Identity permissions on model stores, as catalog data (a source and a date on every row):

- `data/store_role_permissions.csv`: the permissions (GCP) and actions/data actions (Azure) that
  a predefined or built-in role grants on a bucket or container; a row may end in `*`, which
  covers every permission with that prefix;
- `data/store_request_permissions.csv`: the permission a store request needs, as the cloud
  documents it. `path` is a pattern: `{bucket}` (the bucket or container), `{account}` and
  `{object}` match one path segment, `{path}` the rest of the path; `query` names parameters
  that must have the given value (`comp=` means the parameter is absent). The first row that
  matches a request wins (more specific rows come first);
- `data/triton_store_operations.csv`: what Triton's filesystem client for a store scheme calls,
  and the permission each call needs.

The sandbox's permission gate and the static policy rule read the same rows, so they agree."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from components.catalog import read_rows
from components.errors import CatalogDataError, CatalogError

ROLES = "store_role_permissions.csv"
AZURE_ROLE_IDS = "azure_role_ids.csv"  # built-in role name <-> its role definition GUID
REQUESTS = "store_request_permissions.csv"
TRITON = "triton_store_operations.csv"
PLACEHOLDERS = {
    "bucket": "[^/]+",
    "account": "[^/]+",
    "object": "[^/]+",
    "path": ".+",
}


@dataclass(frozen=True)
class RequestRule:
    """One documented store operation: the request that performs it and its permission."""

    cloud: str
    operation: str
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str], ...]  # (name, value); an empty value: the name is absent
    permission: str
    resource: str  # what the permission is checked on: bucket, object, project, blob...

    def matches(self, method: str, path: str, query: Mapping[str, str]) -> re.Match[str] | None:
        """The path's match when this rule's method, path and query conditions all hold."""
        if method != self.method:
            return None
        if any(query.get(name, "") != value for name, value in self.query):
            return None
        return self.pattern.fullmatch(path)


@dataclass(frozen=True)
class RequestPermission:
    """The permission a request needs, on which bucket (None: the project or account)."""

    operation: str
    permission: str
    resource: str
    bucket: str | None


def _compile(path: str, where: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", path)
    regex = ""
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex += re.escape(part)
        elif part in PLACEHOLDERS:
            regex += f"(?P<{part}>{PLACEHOLDERS[part]})"
        else:
            raise CatalogDataError(f"{where}: unknown placeholder {{{part}}} in {path!r}")
    return re.compile(regex)


def _query(text: str, where: str) -> tuple[tuple[str, str], ...]:
    conditions = []
    for item in filter(None, text.split("&")):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CatalogDataError(f"{where}: query condition {item!r} is not name=value")
        conditions.append((name, value))
    return tuple(conditions)


@cache
def request_rules() -> tuple[RequestRule, ...]:
    """Every row of the request table, in file order."""
    return tuple(
        RequestRule(
            cloud=row["cloud"],
            operation=row["operation"],
            method=row["method"],
            pattern=_compile(row["path"], f"{REQUESTS}:{line}"),
            query=_query(row["query"], f"{REQUESTS}:{line}"),
            permission=row["permission"],
            resource=row["resource"],
        )
        for line, row in read_rows(REQUESTS)
    )


def permission_for(
    cloud: str, method: str, path: str, query: Mapping[str, str]
) -> RequestPermission | None:
    """The permission a request to `cloud`'s store needs (first matching row), or None when
    the catalog maps no documented operation to it. `path` is the URL path as sent (a trailing
    slash ignored), `query` its parameters."""
    path = path.rstrip("/") or "/"
    for rule in request_rules():
        if rule.cloud != cloud:
            continue
        found = rule.matches(method, path, query)
        if found is not None:
            bucket = found.groupdict().get("bucket")
            return RequestPermission(rule.operation, rule.permission, rule.resource, bucket)
    return None


@cache
def _role_rows() -> dict[tuple[str, str], tuple[str, ...]]:
    """(cloud, role) -> the permissions (patterns ending in `*` included) its rows list."""
    found: dict[tuple[str, str], list[str]] = {}
    for _, row in read_rows(ROLES):
        found.setdefault((row["cloud"], row["role"]), []).append(row["permission"])
    return {key: tuple(values) for key, values in found.items()}


@cache
def _triton_rows() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for _, row in read_rows(TRITON):
        found.setdefault(row["scheme"], []).append(row["permission"])
    return {key: tuple(values) for key, values in found.items()}


@cache
def known_permissions() -> frozenset[str]:
    """Every concrete permission the catalog names: what a wildcard row is expanded against."""
    named = {rule.permission for rule in request_rules()}
    named |= {p for perms in _triton_rows().values() for p in perms}
    named |= {p for perms in _role_rows().values() for p in perms}
    return frozenset(p for p in named if not p.endswith("*"))


@cache
def azure_role_names() -> dict[str, str]:
    """Azure built-in role definition GUID -> the role's name (`azure_role_ids.csv`)."""
    return {row["role_id"]: row["role"] for _, row in read_rows(AZURE_ROLE_IDS)}


def roles(cloud: str) -> tuple[str, ...]:
    """The roles of `cloud` the catalog lists."""
    return tuple(role for c, role in _role_rows() if c == cloud)


def permissions_of(cloud: str, granted: Iterable[str]) -> frozenset[str]:
    """Every permission the `granted` roles of `cloud` hold, a wildcard row expanded to each
    permission the catalog names under its prefix. An unknown role is a `CatalogError`."""
    held: set[str] = set()
    for role in granted:
        rows = _role_rows().get((cloud, role))
        if rows is None:
            raise CatalogError(
                f"role {role!r} of {cloud} is not in the catalog",
                fix=f"use one of: {', '.join(roles(cloud))}, or add its rows to "
                f"components/catalog/data/{ROLES}",
            )
        for permission in rows:
            if permission.endswith("*"):
                prefix = permission[:-1]
                held |= {p for p in known_permissions() if p.startswith(prefix)}
            else:
                held.add(permission)
    return frozenset(held)


def permissions_triton_needs(scheme: str) -> frozenset[str]:
    """Every permission Triton's filesystem client for `scheme` (s3, gs, as) uses."""
    needed = _triton_rows().get(scheme)
    if needed is None:
        raise CatalogError(
            f"the catalog lists no Triton store operations for scheme {scheme!r}",
            fix=f"use one of: {', '.join(_triton_rows())}, or add rows to "
            f"components/catalog/data/{TRITON}",
        )
    return frozenset(needed)
