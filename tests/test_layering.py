"""DESIGN.md's import rules, checked on the source (AST) and in fresh interpreters:

- components never import runbooks, chaos or the sandbox; model_packaging never imports
  components or runbooks; the spec never imports a provider module;
- nothing outside components/ imports a provider (only the registry, the one list of clouds),
  and a provider imports no component (builders take resolved plans);
- chaos acts through the Target protocol (`runbooks.targets.target`) and measures with the
  load generator (`runbooks.load...`), nothing else of the runbooks, and no sandbox, cloud SDK
  or component; importing every chaos module loads none of them;
- the sandbox imports nothing from runbooks; the runbooks reach the sandbox only through
  runbooks/targets/ (and the CLI's error handler its error type);
- `exitplan stacks list` loads no cloud SDK;
- outside the per-cloud folders and the catalog, no module names a cloud by its literal.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from components.providers.registry import CLOUDS

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "components": ("runbooks", "model_packaging", "chaos", "sandbox"),
    "model_packaging": ("components", "runbooks"),
}
REGISTRY = "components.providers.registry"
# The components a provider's builders must not import: they take resolved plans instead.
COMPONENTS = (
    "triton",
    "serving",
    "inference_cluster",
    "standby",
    "edge",
    "traffic",
    "deployment",
    "stack_config",
    "topology",
    "planning",
    "rto",
)
CLOUD_SDKS = ("boto3", "botocore", "azure", "google", "pulumi", "oci")


def sources(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, package
    return files


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def imports(path: Path) -> set[str]:
    """Every module a file imports anywhere in it (`from a.b import c` gives `a.b.c`, which
    may name a module or a member of `a.b`; relative imports are resolved)."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return names


def under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def offenders(files: list[Path], bad: Callable[[str], bool]) -> dict[str, list[str]]:
    found = {relative(f): sorted(n for n in imports(f) if bad(n)) for f in files}
    return {f: names for f, names in found.items() if names}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_design(package: str) -> None:
    def bad(name: str) -> bool:
        return name.split(".")[0] in FORBIDDEN[package]

    assert offenders(sources(package), bad) == {}


def test_the_spec_imports_no_provider() -> None:
    names = imports(ROOT / "components" / "spec.py")
    assert not [n for n in names if under(n, "components.providers") and not under(n, REGISTRY)]


@pytest.mark.parametrize("package", ["runbooks", "chaos", "sandbox"])
def test_nothing_outside_components_imports_a_provider(package: str) -> None:
    def bad(name: str) -> bool:
        return under(name, "components.providers") and not under(name, REGISTRY)

    assert offenders(sources(package), bad) == {}


def test_providers_import_no_component() -> None:
    def bad(name: str) -> bool:
        return any(under(name, f"components.{component}") for component in COMPONENTS)

    assert offenders(sources("components/providers"), bad) == {}


def test_chaos_acts_through_the_target_protocol_only() -> None:
    """From the runbooks chaos takes the Target protocol, the load generator, and what every
    run that changes a target must use (issue 15): the target's lock and the atomic journal
    writer (both standard library only); never the sandbox, a cloud SDK or a component (the
    target knows the project for it)."""
    allowed_modules = (
        "runbooks.targets.target",
        "runbooks.load",
        "runbooks.drills.lock",
        "runbooks.reports.journal",
    )

    def bad(name: str) -> bool:
        if name.split(".")[0] in (*CLOUD_SDKS, "sandbox", "components"):
            return True
        if name.startswith("pulumi_"):
            return True
        allowed = any(under(name, module) for module in allowed_modules)
        return under(name, "runbooks") and not allowed

    assert offenders(sources("chaos"), bad) == {}


def test_the_sandbox_imports_nothing_from_runbooks() -> None:
    assert offenders(sources("sandbox"), lambda n: under(n, "runbooks")) == {}


def test_the_target_protocol_imports_no_sandbox() -> None:
    names = imports(ROOT / "runbooks" / "targets" / "target.py")
    assert not [n for n in names if under(n, "sandbox") or n.split(".")[0] in CLOUD_SDKS]


def test_runbooks_reach_the_sandbox_only_through_targets() -> None:
    """runbooks/targets/ builds the sandbox target and starts the sandbox; the CLI's one error
    handler knows the sandbox's error type; nothing else of the runbooks imports the sandbox."""
    allowed = {"runbooks/cli.py": {"sandbox.errors.SandboxError"}}
    files = [f for f in sources("runbooks") if "targets" not in f.relative_to(ROOT).parts]
    found = {
        relative(f): sorted(
            n for n in imports(f) if under(n, "sandbox") and n not in allowed.get(relative(f), ())
        )
        for f in files
    }
    assert {f: names for f, names in found.items() if names} == {}


def module_names(package: str) -> list[str]:
    """Every module of a package, by file (without importing any of them here)."""
    names = []
    for path in sources(package):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(names)


def test_importing_every_chaos_module_loads_no_sandbox_sdk_or_pulumi() -> None:
    modules = module_names("chaos")
    assert "chaos.credentials.actions" in modules and "chaos.control" in modules
    code = "".join(f"import {m}\n" for m in modules)
    code += "import json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert [m for m in loaded if m.split(".")[0] in modules]  # it did import them
    unwanted = [
        m
        for m in loaded
        if m.split(".")[0] in ("sandbox", "boto3", "botocore")
        or m.split(".")[0] == "pulumi"
        or m.startswith("pulumi_")
    ]
    assert unwanted == []


def test_stacks_list_loads_no_cloud_sdk() -> None:
    exitplan = Path(sys.executable).parent / "exitplan"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(
        [str(exitplan), "stacks", "list", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)  # the stacks were listed
    timed = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    loaded = {line.rsplit("|", 1)[-1].strip() for line in timed}
    assert "components.stack_config" in loaded  # the import log is read
    sdks = ("pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_oci")
    assert sorted(m for m in loaded if m.split(".")[0] in sdks) == []


CLOUD_NAMES = {*CLOUDS, "oci"}
# Where a cloud may be named: its builders, the catalog, and per-cloud folders.
CLOUD_FOLDERS = (("components", "providers"), ("components", "catalog"))
PER_CLOUD_PARENTS = (
    ("runbooks", "targets", "live"),
    ("components", "policy"),
    ("components", "cost"),
)


def names_clouds_freely(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    if any(parts[: len(folder)] == folder for folder in CLOUD_FOLDERS):
        return True
    return any(
        parts[: len(parent)] == parent
        and len(parts) > len(parent) + 1
        and parts[len(parent)] in CLOUD_NAMES
        for parent in PER_CLOUD_PARENTS
    )


def cloud_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return sorted(
        f"{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in CLOUD_NAMES
    )


@pytest.mark.parametrize("package", ["components", "runbooks", "chaos"])
def test_no_module_names_a_cloud_by_its_literal(package: str) -> None:
    """The registry is the only list of clouds: outside components/providers/, the catalog and
    the per-cloud folders (runbooks/targets/live/<cloud>/, components/policy/<cloud>/,
    components/cost/<cloud>/), a cloud's name is data read from them, never a string in the
    code."""
    found = {relative(f): cloud_literals(f) for f in sources(package) if not names_clouds_freely(f)}
    assert {f: lines for f, lines in found.items() if lines} == {}
