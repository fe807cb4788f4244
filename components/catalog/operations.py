"""What operators do by hand per cloud, as catalog data (`data/cloud_operations.csv`, a source
and a date per row): the DNS router a runbook changes and the command that shows it, a stack's
store access revoked and restored by hand where the live target cannot, and the company that
runs the cloud (for the inventory's concentration rule)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from components.catalog import read_rows
from components.errors import CatalogDataError, CatalogError

FILE = "cloud_operations.csv"


@dataclass(frozen=True)
class DnsCommands:
    """A cloud's DNS router as `pulumi up` changes it, and the command that shows it
    ({name}, {weighted}, {zone}, {zone_ref} filled in by the runbook)."""

    service: str
    change: str
    verify: str
    source: str


@dataclass(frozen=True)
class ManualRevocation:
    """Revoking and restoring a stack's store access by hand ({stack}, {store} filled in)."""

    revoke: tuple[str, ...]
    restore: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Company:
    """The company that runs a cloud, and the words that name it as a model provider."""

    name: str
    names: tuple[str, ...]


@cache
def _rows() -> dict[tuple[str, str], list[tuple[int, str, str]]]:
    """(cloud, kind) -> [(step, text, source)] in step order."""
    found: dict[tuple[str, str], list[tuple[int, str, str]]] = defaultdict(list)
    for line, row in read_rows(FILE):
        try:
            step = int(row["step"])
        except ValueError as exc:
            raise CatalogDataError(f"{FILE}:{line}: step must be a number ({exc})") from exc
        found[(row["cloud"], row["kind"])].append((step, row["text"], row["source"]))
    return {key: sorted(values) for key, values in found.items()}


def _texts(cloud: str, kind: str) -> tuple[tuple[str, ...], str]:
    rows = _rows().get((cloud, kind), [])
    return tuple(text for _, text, _ in rows), (rows[0][2] if rows else "")


def _one(cloud: str, kind: str) -> str:
    texts, _ = _texts(cloud, kind)
    if len(texts) != 1:
        raise CatalogError(
            f"the catalog has no {kind!r} row for cloud {cloud!r}",
            fix=f"add one to components/catalog/data/{FILE}",
        )
    return texts[0]


def dns_commands(cloud: str) -> DnsCommands:
    """The DNS router of `cloud` as a runbook changes and checks it."""
    _, source = _texts(cloud, "dns-verify")
    return DnsCommands(
        _one(cloud, "dns-service"), _one(cloud, "dns-change"), _one(cloud, "dns-verify"), source
    )


def manual_revocation(cloud: str) -> ManualRevocation:
    """The commands that revoke and restore a stack's store access on `cloud` by hand."""
    revoke, source = _texts(cloud, "revoke")
    restore, _ = _texts(cloud, "restore")
    if not revoke or not restore:
        raise CatalogError(
            f"the catalog has no manual revoke/restore commands for cloud {cloud!r}",
            fix=f"add revoke and restore rows to components/catalog/data/{FILE}",
        )
    return ManualRevocation(revoke, restore, source)


def manual_revocation_clouds() -> set[str]:
    """The clouds whose manual revoke and restore commands the catalog holds."""
    return {cloud for cloud, kind in _rows() if kind == "revoke"}


def company(cloud: str) -> Company:
    """The company that runs `cloud`."""
    return Company(_one(cloud, "company"), tuple(_one(cloud, "company-names").split()))
