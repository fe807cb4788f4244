"""The pack as a real engine loads it: PulumiPolicy.yaml, its own requirements, `__main__`
handing the rule list to PolicyPack (never constructed here: it serves gRPC forever), rules
with complete metadata, and rule modules that import only what the pack's environment has."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml
from pulumi_policy import EnforcementLevel, Severity

from components.policy.pack import POLICIES, source_of
from tests.conftest import ROOT

PACK = ROOT / "components" / "policy"
# The modules a real engine imports from the pack (offline.py is the CLI's adapter, not loaded).
RULE_MODULES = (
    "__main__",
    "pack",
    "rule",
    "deploy_rules",
    "dns_rules",
    "driver_rules",
    "security_rules",
    "workload_rules",
)
# What they may import: the SDK, the standard library, the SDK-free catalog (and its error
# types), the stdlib-only CIDR check the spec shares (components.cidrs), and each other.
ALLOWED_PREFIXES = (
    "pulumi_policy",
    "components.catalog",
    "components.errors",
    "components.cidrs",
    "components.policy",
)
CLOUD_SDKS = ("pulumi_aws", "pulumi_azure_native", "pulumi_gcp", "pulumi_kubernetes", "pulumi_oci")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "components":
                found.update(f"components.{alias.name}" for alias in node.names)
    return found


def test_rule_modules_import_only_the_sdk_stdlib_and_catalog() -> None:
    for module in RULE_MODULES:
        for name in _imports(PACK / f"{module}.py"):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__" or name == "components":
                continue
            assert name.startswith(ALLOWED_PREFIXES), f"{module}.py imports {name}"


def test_the_pack_loads_no_cloud_sdk() -> None:
    code = (
        "import sys; import components.policy.pack; "
        f"print([m for m in sys.modules if m.split('.')[0] in {CLOUD_SDKS!r}])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_main_hands_the_rule_list_to_policy_pack() -> None:
    tree = ast.parse((PACK / "__main__.py").read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PolicyPack"
    ]
    assert len(calls) == 1
    keywords = {k.arg: k.value for k in calls[0].keywords}
    assert isinstance(keywords["name"], ast.Constant) and keywords["name"].value == "exitplan"
    assert isinstance(keywords["policies"], ast.Name) and keywords["policies"].id == "POLICIES"
    assert "components.policy.pack" in _imports(PACK / "__main__.py")
    # the repository root goes on sys.path before the pack imports components
    assert "sys.path.insert" in (PACK / "__main__.py").read_text()


def test_policy_project_file_and_requirements() -> None:
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert project["description"]
    requirements = (PACK / "requirements.txt").read_text().split("\n")
    assert "pulumi-policy>=1.21,<2" in requirements
    assert any(line.startswith("pydantic") for line in requirements)  # components.spec needs it


def test_every_rule_has_an_id_severity_enforcement_source_and_fix() -> None:
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    for policy in POLICIES:
        assert isinstance(policy.severity, Severity), policy.name
        assert policy.enforcement_level in (EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY)
        assert policy.url and policy.url.startswith("https://"), policy.name
        assert policy.remediation_steps and policy.description, policy.name
        assert source_of(policy)
    checkov = {p.name: source_of(p) for p in POLICIES if p.framework}
    assert checkov["eks-api-not-open"] == "CKV_AWS_38"
    assert checkov["eks-secrets-encrypted"] == "CKV_AWS_58"
