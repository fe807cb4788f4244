"""checkov's Kubernetes checks over every planned Kubernetes object: a peer's rule suite as a
yardstick (DESIGN: peers are yardsticks). The objects are written out as manifests and checkov
runs from an environment of its own (`make checkov-env`: runbooks/checkov-env.txt), since its
pins differ from the project's. A check that does not fit an object is skipped there with
checkov's own annotation and its reason (components/triton.py), so any checkov user sees it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.planning.manifests import write_manifests
from components.planning.runner import Plan
from runbooks.errors import RunbookError

CHECKOV_ENV = Path(".exitplan") / "checkov-env"  # under the project: `make checkov-env`
CHECKOV_VARIABLE = "EXITPLAN_CHECKOV"  # a checkov executable to use instead
TIMEOUT_S = 300


@dataclass(frozen=True)
class CheckovResult:
    """One check on one object: the check, the stack and object, and a skip's reason."""

    check: str
    name: str
    stack: str
    resource: str
    reason: str = ""


@dataclass(frozen=True)
class CheckovReport:
    """checkov's verdict over the planned objects: counts, every failure and every skip."""

    version: str
    passed: int
    failed: list[CheckovResult] = field(default_factory=list)
    skipped: list[CheckovResult] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No check failed and every object was read."""
        return not self.failed and not self.parsing_errors

    def as_dict(self) -> dict[str, Any]:
        """The report as `policy check --json` prints it under `checkov`."""
        return {
            "version": self.version,
            "passed": self.passed,
            "failed": [asdict(r) for r in self.failed],
            "skipped": [asdict(r) for r in self.skipped],
            "parsing_errors": self.parsing_errors,
        }


def checkov_executable(root: Path) -> Path:
    """`$EXITPLAN_CHECKOV`, else the project's `.exitplan/checkov-env`, else `checkov` on PATH;
    a `RunbookError` naming `make checkov-env` when none is there."""
    configured = os.environ.get(CHECKOV_VARIABLE, "").strip()
    for candidate in (configured, str(root / CHECKOV_ENV / "bin" / "checkov")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("checkov")
    if found:
        return Path(found)
    raise RunbookError(
        "checkov is not installed",
        fix="run `make checkov-env` (checkov in .exitplan/checkov-env, runbooks/checkov-env.txt) "
        f"or set {CHECKOV_VARIABLE} to a checkov executable",
    )


def run_checkov(plans: list[Plan], executable: Path) -> CheckovReport:
    """Write every plan's Kubernetes objects as manifests in a temporary folder and run
    checkov's Kubernetes framework over them, offline (`--skip-download`)."""
    with tempfile.TemporaryDirectory(prefix="exitplan-checkov-") as folder:
        write_manifests(plans, Path(folder))
        command = [str(executable), "--directory", folder, "--framework", "kubernetes"]
        flags = ["--output", "json", "--skip-download", "--soft-fail", "--compact"]
        try:
            done = subprocess.run(
                [*command, *flags], capture_output=True, text=True, timeout=TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise RunbookError(f"checkov did not run: {error}", fix="make checkov-env") from error
    if done.returncode != 0:
        raise RunbookError(
            f"checkov exited {done.returncode}: {done.stderr.strip()[-2000:]}",
            fix="make checkov-env",
        )
    return parse_report(done.stdout)


def parse_report(output: str) -> CheckovReport:
    """checkov's `--output json` (one framework's object, a list of them, or its empty-folder
    summary) as a report."""
    data = json.loads(output)
    reports = [r for r in (data if isinstance(data, list) else [data]) if "results" in r]
    if not reports:
        raise RunbookError(
            "checkov found no Kubernetes objects to check",
            fix="plan the stacks first: their Triton objects are Kubernetes manifests",
        )
    (report,) = reports
    results = report["results"]
    return CheckovReport(
        version=str(report["summary"].get("checkov_version", "")),
        passed=len(results.get("passed_checks", [])),
        failed=[_result(r) for r in results.get("failed_checks", [])],
        skipped=[_result(r) for r in results.get("skipped_checks", [])],
        parsing_errors=[str(p) for p in results.get("parsing_errors", [])],
    )


def _result(raw: dict[str, Any]) -> CheckovResult:
    return CheckovResult(
        check=raw["check_id"],
        name=raw["check_name"],
        stack=raw["file_path"].strip("/").split("/")[0],
        resource=raw["resource"],
        reason=str((raw.get("check_result") or {}).get("suppress_comment") or ""),
    )
