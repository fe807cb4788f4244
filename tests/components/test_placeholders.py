"""Placeholders: the shipped stacks keep theirs; `exitplan plan` and the tests see them as
warnings, and the stack program under a real engine refuses to deploy until they are replaced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

import components.deployment as deployment
from components.catalog.placeholders import find_placeholders
from components.errors import SpecError
from components.planning.runner import plan_stack
from components.providers import base
from components.stack_config import Project
from runbooks.cli import app
from tests.conftest import ROOT, MakeProject, service, service_config

# Every placeholder of the shipped stacks, by stack (the README lists them to replace).
SHIPPED = {
    "aws-primary": {
        "exitplan:service.network.api_allowed_cidrs.0",
        "exitplan:service.dns_name",
        "exitplan:traffic.zone",
    },
    "gcp-standby": {
        "exitplan:standby.network.api_allowed_cidrs.0",
        "exitplan:standby.replication_role_arn",
    },
    "gcp-edge": {
        "exitplan:edge.admin_user",
        "exitplan:edge.load_balancer_pools.0",
    },
    "oci-standby": {
        "oci:tenancyOcid",
        "exitplan:ociCompartment",
        "exitplan:standby.network.api_allowed_cidrs.0",
    },
}


def real_service() -> dict[str, Any]:
    """The primary's service, standing alone, with every placeholder replaced."""
    config = service_config()
    service(config)["network"]["api_allowed_cidrs"] = ["52.94.0.0/22"]
    service(config)["dns_name"] = "score.fraud-scoring.net"
    return config


def fields(config: Any) -> set[str]:
    return {found.field for found in find_placeholders(config)}


# Stacks with nothing to replace: the Wavelength edge joins aws-primary's cluster (its API
# allowlist, the only placeholder an edge of a joined cluster had, is refused as without effect).
NO_PLACEHOLDERS = {"aws-wavelength"}


def test_every_shipped_placeholder_is_found() -> None:
    project = Project(ROOT)
    for name in project.stack_names():
        found = {w.field for w in project.stack(name).placeholders}
        assert SHIPPED.get(name, set()) <= found, (name, found)
        assert bool(found) != (name in NO_PLACEHOLDERS), f"{name}: update SHIPPED and the README"


@pytest.mark.parametrize(
    ("value", "placeholder"),
    [
        ("203.0.113.0/24", True),
        ("203.0.113.7", True),
        ("192.0.2.128/25", True),
        ("198.51.0.0/16", True),  # contains TEST-NET-2
        ("2001:db8:1::/48", True),
        ("192.0.2.10-192.0.2.20", True),  # a load-balancer address pool range
        ("10.0.0.10-10.0.0.20", False),
        ("203.0.114.0/24", False),
        ("10.10.0.0/16", False),
        ("score.fraud.example.com", True),
        ("ml-platform-admins@example.com", True),
        ("https://triton.plan.invalid:8000/v2", True),
        ("host.example", True),
        ("example.company.com", False),
        ("notexample.com", False),
        ("arn:aws:iam::123456789012:role/copy", True),
        ("1234567890123", False),
        ("ocid1.tenancy.oc1..aaaaaaaaplaceholdertenancy", True),
        ("fraud-scoring-models-use1", False),
    ],
)
def test_patterns(value: str, placeholder: bool) -> None:
    assert bool(fields({"v": value})) is placeholder


def test_fields_are_dotted_paths_into_the_stack_file() -> None:
    config = {"exitplan:x": {"a": [{"b": "192.0.2.1"}], "c": 3, "d": "fine"}}
    assert fields(config) == {"exitplan:x.a.0.b"}


def test_plan_shows_placeholders_as_warnings(make_project: MakeProject) -> None:
    config = service_config()
    project = make_project({"svc": config})
    result = CliRunner().invoke(app, ["plan", "svc", "--project", str(project.root), "--json"])
    assert result.exit_code == 0, result.output
    warnings = json.loads(result.stdout)["warnings"]
    assert {w["field"] for w in warnings} == {
        "exitplan:service.network.api_allowed_cidrs.0",
        "exitplan:service.dns_name",
    }
    cidr = next(w for w in warnings if w["value"] == "203.0.113.0/24")
    assert cidr["file"] == "stacks/Pulumi.svc.yaml" and "RFC 5737" in cidr["problem"]
    assert "egress CIDR" in cidr["fix"]
    text = CliRunner().invoke(app, ["plan", "svc", "--project", str(project.root)])
    assert text.exit_code == 0 and "warning" in text.output and "203.0.113.0/24" in text.output


def test_mocks_are_detected_by_their_monitor(monkeypatch: pytest.MonkeyPatch) -> None:
    plan_stack(Project(ROOT), Project(ROOT).stack("azure-standby"))
    assert deployment.running_under_mocks()  # set_mocks left its MockMonitor installed
    monkeypatch.setattr(base.settings, "get_monitor", lambda: object())
    assert not deployment.running_under_mocks()


def test_a_real_engine_refuses_every_placeholder_at_once(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project({"svc": service_config()})
    monkeypatch.setattr(deployment, "running_under_mocks", lambda: False)
    with pytest.raises(SpecError) as error:
        plan_stack(project, project.stack("svc"))
    message = str(error.value)
    assert "2 placeholder value(s) would reach the cloud" in message
    assert "exitplan:service.network.api_allowed_cidrs.0: '203.0.113.0/24'" in message
    assert "exitplan:service.dns_name: 'score.fraud.example.com'" in message
    assert error.value.file == "stacks/Pulumi.svc.yaml"


def test_a_real_engine_deploys_once_they_are_replaced(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project({"svc": real_service()})
    logged: list[str] = []
    monkeypatch.setattr(deployment, "running_under_mocks", lambda: False)
    monkeypatch.setattr(deployment.pulumi.log, "warn", logged.append)
    monkeypatch.setenv("EXITPLAN_TODAY", "2027-01-15")  # 71 days before EKS 1.35 ends
    plan = plan_stack(project, project.stack("svc"))
    assert plan.outputs["endpoint"]
    assert len(logged) == 1 and "leaves standard support on aws on 2027-03-27" in logged[0]
