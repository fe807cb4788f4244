"""The service inventory: one row per service (CSV, or YAML: a list of mappings, or one under
`services:`), exactly the columns of `COLUMNS`, each row validated into an `InventoryRow`.

Bad input is an `InventoryError` (exit 2) naming the file, the row, the column and the fix: an
unknown or missing column, a blank required cell, a bad duration, an unknown provider, auth
method or criticality, and a failover stack that does not exist or serves another service."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

import yaml

from components.catalog.clouds import clouds
from components.errors import InputError, StackNotFoundError
from components.stack_config import Project, find_project

AuthMethod = Literal["workload-identity", "iam-role", "static-key", "api-key", "other"]
Criticality = Literal["single-point", "recoverable", "optional"]
OTHER_PROVIDER = "other"  # a provider that is no registered cloud (a SaaS API, a colo)
REQUIRED = (
    "service",
    "business_function",
    "provider",
    "region",
    "model_provider",
    "auth_method",
    "failover_plan",
    "rto",
    "rpo",
    "criticality",
    "owner",
)
OPTIONAL = ("escalation", "exit_clause", "data_export_path", "model_package")
COLUMNS = REQUIRED + OPTIONAL
# failover_plan may be blank (no failover); the others of REQUIRED may not.
MAY_BE_BLANK = {"failover_plan", *OPTIONAL}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
DURATION_FIX = "write a number and a unit: 90s, 15m, 4h (or 1d)"


class InventoryError(InputError):
    """A bad inventory file: names the file, `row N (service): column` and the fix."""


@dataclass(frozen=True)
class InventoryRow:
    """One service of the inventory, validated; durations in seconds, blanks as ""."""

    row: int  # 1-based, data rows only
    service: str
    business_function: str
    provider: str  # a registered cloud or "other"
    region: str
    model_provider: str
    auth_method: AuthMethod
    failover_plan: tuple[str, ...]
    rto_s: float
    rpo_s: float
    criticality: Criticality
    owner: str
    escalation: str = ""
    exit_clause: str = ""
    data_export_path: str = ""
    model_package: str = ""

    @property
    def single_point(self) -> bool:
        """Whether the business stops when this service does (`criticality: single-point`)."""
        return self.criticality == "single-point"


def load_inventory(path: Path, project: Project | None = None) -> list[InventoryRow]:
    """Every row of the inventory at `path` (.csv, .yaml or .yml), validated; failover stacks
    are checked against `project` (default: the project found upward from the current
    directory)."""
    raw = list(_raw_rows(path))
    if not raw:  # a score over no services would pass
        raise InventoryError(
            "lists no services (a header and no rows)",
            file=str(path),
            fix="add one row per service (see examples/inventory.csv)",
        )
    rows = [_row(path, number, cells) for number, cells in raw]
    seen: dict[str, int] = {}
    for row in rows:
        if row.service in seen:
            raise _error(
                path,
                row.row,
                row.service,
                "service",
                f"listed twice (also row {seen[row.service]})",
                "give each service one row",
            )
        seen[row.service] = row.row
    if any(row.failover_plan for row in rows):
        _check_stacks(path, rows, project or Project(find_project(Path.cwd())))
    return rows


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `4h`, `1d` -> seconds; ValueError otherwise."""
    match = DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration")
    return float(match.group(1)) * UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """Seconds in the inventory's own words: 900 -> `15m`, 90 -> `90s`, 14400 -> `4h`."""
    for unit, size in sorted(UNITS.items(), key=lambda u: -u[1]):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _raw_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, column -> text) of each data row; the columns checked."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); "
            "a spreadsheet saved it in another encoding (Windows-1252?)",
            file=str(path),
            fix='save it as "CSV UTF-8", or convert it: iconv -f cp1252 -t utf-8',
        ) from None
    except OSError as exc:
        raise InventoryError(
            f"cannot read the inventory: {exc.strerror or exc}",
            file=str(path),
            fix="pass the path of a CSV or YAML inventory (see examples/inventory.csv)",
        ) from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path, text)
    elif suffix in (".yaml", ".yml"):
        yield from _yaml_rows(path, text)
    else:
        raise InventoryError(
            f"unknown inventory format {suffix or '(no suffix)'!r}",
            file=str(path),
            fix="name the file .csv, .yaml or .yml",
        )


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    _check_columns(path, 0, "", header)
    reader.fieldnames = header
    for number, cells in enumerate(reader, 1):
        if None in cells:
            raise _error(
                path,
                number,
                cells.get("service") or "",
                "(end)",
                f"has more cells than the header's {len(header)} (CSV line {reader.line_num})",
                "quote cells that hold commas",
            )
        missing = [k for k, v in cells.items() if v is None]  # DictReader: a short row
        if missing:
            given = len(header) - len(missing)
            raise _error(
                path,
                number,
                cells.get("service") or "",
                missing[0],
                f"has {given} of the header's {len(header)} cells (CSV line {reader.line_num}): "
                f"{', '.join(missing)} missing",
                "give every column a cell (an empty one is two commas), or quote cells that "
                "hold line breaks",
            )
        yield number, {k: (v or "").strip() for k, v in cells.items() if k is not None}


def _yaml_rows(path: Path, text: str) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(
            f"YAML syntax error: {exc}", file=str(path), fix="fix the YAML"
        ) from None
    if isinstance(data, Mapping) and set(data) == {"services"}:
        data = data["services"]
    if not isinstance(data, list):
        raise InventoryError(
            "expected a list of services (or one under `services:`)",
            file=str(path),
            fix="write one mapping per service: - service: fraud-scoring ...",
        )
    for number, item in enumerate(data, 1):
        if not isinstance(item, Mapping):
            raise _error(path, number, "", "(row)", "is not a mapping", "write column: value")
        service = str(item.get("service") or "")
        _check_columns(path, number, service, [str(k) for k in item], partial=True)
        yield number, {str(k): _yaml_text(v) for k, v in item.items()}


def _yaml_text(value: Any) -> str:
    """A YAML cell as the CSV would hold it (a list of stacks joined by spaces)."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value).strip()


def _check_columns(
    path: Path, number: int, service: str, names: list[str], *, partial: bool = False
) -> None:
    """Every column known, none twice; a CSV header has them all (a YAML row may leave
    optional ones out)."""
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise _error(
            path,
            number,
            service,
            unknown[0],
            "unknown column",
            f"use exactly these columns: {', '.join(COLUMNS)}",
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise _error(path, number, service, twice[0], "column given twice", "keep one")
    needed = REQUIRED if partial else COLUMNS
    absent = [c for c in needed if c not in names]
    if absent:
        raise _error(
            path,
            number,
            service,
            absent[0],
            "missing column",
            f"add it (columns: {', '.join(COLUMNS)}; blank cells where optional)",
        )


def _row(path: Path, number: int, cells: dict[str, str]) -> InventoryRow:
    """One row checked: blanks, enums, provider, durations."""
    service = cells.get("service", "")
    for column in COLUMNS:
        if column not in MAY_BE_BLANK and not cells.get(column):
            raise _error(path, number, service, column, "is blank", f"fill in {column}")
    provider = cells["provider"].lower()
    known = (*clouds(), OTHER_PROVIDER)
    if provider not in known:
        raise _error(
            path,
            number,
            service,
            "provider",
            f"unknown provider {provider!r}",
            f"use a registered cloud or {OTHER_PROVIDER}: {', '.join(known)}",
        )
    choices: dict[str, tuple[str, ...]] = {
        "auth_method": get_args(AuthMethod),
        "criticality": get_args(Criticality),
    }
    for column, allowed in choices.items():
        if cells[column] not in allowed:
            raise _error(
                path,
                number,
                service,
                column,
                f"unknown value {cells[column]!r}",
                f"use one of: {', '.join(allowed)}",
            )
    durations: dict[str, float] = {}
    for column in ("rto", "rpo"):
        try:
            durations[column] = parse_duration(cells[column])
        except ValueError:
            raise _error(
                path, number, service, column, f"{cells[column]!r} is not a duration", DURATION_FIX
            ) from None
    if durations["rto"] <= 0:
        raise _error(path, number, service, "rto", "must be above 0", DURATION_FIX)
    return InventoryRow(
        row=number,
        service=service,
        business_function=cells["business_function"],
        provider=provider,
        region=cells["region"],
        model_provider=cells["model_provider"],
        auth_method=cast(AuthMethod, cells["auth_method"]),
        failover_plan=tuple(cells.get("failover_plan", "").split()),
        rto_s=durations["rto"],
        rpo_s=durations["rpo"],
        criticality=cast(Criticality, cells["criticality"]),
        owner=cells["owner"],
        **{column: cells.get(column, "") for column in OPTIONAL},
    )


def _check_stacks(path: Path, rows: list[InventoryRow], project: Project) -> None:
    """Each failover stack exists and deploys the row's service (its spec `name`)."""
    for row in rows:
        for name in row.failover_plan:
            try:
                served = project.stack(name).spec.name
            except StackNotFoundError as exc:
                raise _error(
                    path, row.row, row.service, "failover_plan", f"unknown stack {name!r}", exc.fix
                ) from None
            if served != row.service:
                raise _error(
                    path,
                    row.row,
                    row.service,
                    "failover_plan",
                    f"stack {name!r} serves {served!r}, not {row.service!r}",
                    f"list only stacks whose exitplan service name is {row.service}",
                )


def _error(
    path: Path, number: int, service: str, column: str, problem: str, fix: str
) -> InventoryError:
    """The error naming the row (and its service) and the column."""
    row = "header" if not number else f"row {number}" + (f" ({service})" if service else "")
    return InventoryError(problem, file=str(path), field=f"{row}: {column}", fix=fix)
