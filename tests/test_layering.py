"""DESIGN.md's import rules: components never import runbooks; model_packaging never imports
components or runbooks; the spec never imports a provider module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "components": ("runbooks", "model_packaging", "chaos", "sandbox"),
    "model_packaging": ("components", "runbooks"),
}


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_design(package: str) -> None:
    files = list((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported(f) & set(FORBIDDEN[package])) for f in files
    }
    assert {f: bad for f, bad in offenders.items() if bad} == {}


def test_the_spec_imports_no_provider() -> None:
    tree = ast.parse((ROOT / "components" / "spec.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.startswith("components.providers") for m in modules)


ALLOWED_RUNBOOKS = {"runbooks.target", "runbooks.load"}


def test_chaos_acts_through_the_target_only() -> None:
    """chaos/ never imports a cloud SDK, the providers or the sandbox; from runbooks it takes
    the Target (runbooks.target) and the load generator it measures bursts with (runbooks.load)."""
    clouds = {
        "boto3",
        "botocore",
        "azure",
        "google",
        "pulumi",
        "pulumi_aws",
        "sandbox",
        "components",
    }
    offenders: dict[str, list[str]] = {}
    for path in (ROOT / "chaos").rglob("*.py"):
        tree = ast.parse(path.read_text())
        modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        bad = {m for m in modules if m.split(".")[0] in clouds}
        bad |= {m for m in modules if m.startswith("runbooks") and m not in ALLOWED_RUNBOOKS}
        if bad:
            offenders[str(path.relative_to(ROOT))] = sorted(bad)
    assert offenders == {}
