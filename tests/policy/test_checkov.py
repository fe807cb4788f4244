"""checkov's Kubernetes checks over every shipped stack's planned Kubernetes objects (issue 24
item 6): none fails without checkov's own skip annotation and its reason; a broken object
fails; `exitplan policy check --checkov --json` follows its schema. checkov runs from
`.exitplan/checkov-env` (`make checkov-env`, which `make test` builds)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from components.planning.manifests import SECRET_VALUE, manifests
from components.planning.runner import Plan
from runbooks.checkov import CHECKOV_VARIABLE, checkov_executable, run_checkov
from runbooks.errors import RunbookError
from runbooks.schemas import load
from tests.conftest import ALL_STACKS, ROOT
from tests.policy.test_cli import run

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


@pytest.fixture(scope="module")
def checkov() -> Path:
    return checkov_executable(ROOT)


def test_every_stack_passes_checkov_or_says_why(plans: dict[str, Plan], checkov: Path) -> None:
    report = run_checkov([plans[name] for name in ALL_STACKS], checkov)
    print(
        f"checkov {report.version}: {report.passed} passed, {len(report.failed)} failed, "
        f"{len(report.skipped)} skipped"
    )
    assert report.failed == [] and report.parsing_errors == [] and report.passed > 0
    # Every skip carries its own reason.
    assert all(r.reason and r.reason != "No comment provided" for r in report.skipped)
    # Every stack's objects were read: the Triton pod's misfits are skipped on each.
    for name in ALL_STACKS:
        skipped = {r.check for r in report.skipped if r.stack == name}
        assert {"CKV_K8S_11", "CKV_K8S_35", "CKV_K8S_43"} <= skipped, name


def test_a_broken_object_fails_checkov(plans: dict[str, Plan], checkov: Path) -> None:
    """The verdict can fail: a Triton pod that mounts its token and runs privileged."""
    plan = plans["gcp-standby"]
    broken = []
    for resource in plan.resources:
        if resource.type == DEPLOYMENT:
            inputs = copy.deepcopy(resource.inputs)
            pod = inputs["spec"]["template"]["spec"]
            pod["automountServiceAccountToken"] = True
            pod["containers"][0]["securityContext"]["privileged"] = True
            resource = dataclasses.replace(resource, inputs=inputs)
        broken.append(resource)
    report = run_checkov([dataclasses.replace(plan, resources=broken)], checkov)
    assert {(r.check, r.resource) for r in report.failed} == {
        ("CKV_K8S_38", "Deployment.triton.fraud-scoring-standby"),
        ("CKV_K8S_16", "Deployment.triton.fraud-scoring-standby"),
    }
    assert not report.ok


def test_manifests_hide_secrets_and_keep_whole_numbers(plans: dict[str, Plan]) -> None:
    written = {m["kind"]: m for m in manifests(plans["aws-primary"])}
    assert written["Secret"]["stringData"] == {"admin-key": SECRET_VALUE}
    assert written["Service"]["spec"]["ports"][0]["port"] == 8002  # the metrics Service, last
    assert isinstance(written["Deployment"]["spec"]["replicas"], int)
    # Helm releases are rendered by Helm at deploy time: not objects here.
    assert "Release" not in written
    assert SECRET_VALUE in yaml.safe_dump(written["Secret"])


def test_policy_check_with_checkov_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["policy", "check", "oci-standby", "--checkov", "--json"], monkeypatch, capsys)
    report = json.loads(out)
    jsonschema.Draft202012Validator(load("policy.check")).validate(report)
    assert code == 0 and report["verdict"] == "PASSED"
    assert report["checkov"]["failed"] == [] and report["checkov"]["passed"] > 0
    # oci-standby's model copy signs in with the pod's token: mounted, and said why.
    token = [s for s in report["checkov"]["skipped"] if s["check"] == "CKV_K8S_38"]
    assert token and "service account" in token[0]["reason"]


def test_missing_checkov_exits_2_naming_the_make_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHECKOV_VARIABLE, "")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RunbookError) as refused:
        checkov_executable(tmp_path)
    assert refused.value.exit_code == 2 and "make checkov-env" in refused.value.fix
