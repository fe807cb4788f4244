"""The Kubernetes support calendar: every shipped stack inside standard support today, a warning
90 days before the end, a refusal after it or for a minor the calendar does not know, and
EXITPLAN_TODAY moving the verdict."""

from __future__ import annotations

import datetime as dt

import pytest

from components.catalog.kubernetes import (
    WARN_DAYS,
    calendar,
    check_support,
    support,
    supported_minors,
)
from components.errors import CatalogError
from components.providers.registry import CLOUDS
from components.stack_config import Project
from tests.conftest import ROOT, MakeProject, service, service_config, stack_config

EKS_135_END = dt.date(2027, 3, 27)


def test_every_cloud_has_a_dated_sourced_calendar() -> None:
    for cloud in CLOUDS:
        rows = [s for (provider, _), s in calendar().items() if provider == cloud]
        assert rows, f"{cloud} has no Kubernetes support calendar rows"
        for row in rows:
            assert row.released < row.end_of_standard, row
            assert row.end_of_extended is None or row.end_of_extended >= row.end_of_standard
            assert row.source.startswith("https://") and row.basis


def test_every_shipped_stack_is_inside_standard_support_today() -> None:
    project = Project(ROOT)
    for name in project.stack_names():
        stack = project.stack(name)
        stack.validate()
        assert not [w for w in stack.warnings if w.field.endswith("kubernetes_version")], name


def test_warns_within_90_days_of_the_end_and_not_before() -> None:
    assert check_support("aws", "1.35", on=EKS_135_END - dt.timedelta(days=WARN_DAYS + 1)) is None
    warning = check_support("aws", "1.35", on=EKS_135_END - dt.timedelta(days=WARN_DAYS))
    assert warning is not None and "2027-03-27" in warning and "in 90 days" in warning
    assert check_support("aws", "1.35", on=EKS_135_END) is not None  # the last day still serves


def test_refuses_after_the_end_naming_the_field_and_the_minors_supported_that_day() -> None:
    with pytest.raises(CatalogError) as error:
        check_support("aws", "1.33", on=dt.date(2026, 11, 30))
    assert error.value.field == "kubernetes_version"
    assert "left standard support on aws on 2026-07-29" in error.value.problem
    assert "1.34 (until 2026-12-02), 1.35 (until 2027-03-27)" in error.value.fix


def test_unknown_and_unreleased_minors_are_refused() -> None:
    with pytest.raises(CatalogError, match="not in the aws support calendar"):
        support("aws", "1.99")
    with pytest.raises(CatalogError, match="not released on aws until 2026-01-27"):
        check_support("aws", "1.35", on=dt.date(2026, 1, 1))


def test_supported_minors_follow_the_date() -> None:
    assert supported_minors("gcp", dt.date(2026, 11, 30)) == ["1.35"]
    assert "1.34" in supported_minors("gcp", dt.date(2026, 9, 1))


def test_a_stack_past_standard_support_is_refused_in_its_service_file(
    make_project: MakeProject,
) -> None:
    config = service_config()
    service(config)["kubernetes_version"] = "1.33"
    project = make_project({"aws-primary": config})
    with pytest.raises(CatalogError) as error:
        project.stack("aws-primary").validate()
    assert error.value.file == "stacks/Pulumi.aws-primary.yaml"
    assert error.value.field == "exitplan:service.kubernetes_version"
    assert "1.35 (until 2027-03-27)" in error.value.fix


def test_a_standby_is_checked_against_its_own_clouds_calendar(make_project: MakeProject) -> None:
    """EKS still supports 1.34 on 2026-11-30 (until 2026-12-02), GKE no longer does: the
    standby is refused, and the error points at the service file that sets the version."""
    config = service_config()
    service(config)["kubernetes_version"] = "1.34"
    project = make_project({"aws-primary": config, "gcp-standby": stack_config("gcp-standby")})
    primary = project.stack("aws-primary")
    primary.validate()
    assert [w.problem for w in primary.warnings if "kubernetes" in w.field] == [
        "Kubernetes 1.34 leaves standard support on aws on 2026-12-02 (in 2 days; "
        "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html)"
    ]
    with pytest.raises(CatalogError) as error:
        project.stack("gcp-standby").validate()
    assert error.value.file == "stacks/Pulumi.aws-primary.yaml"
    assert error.value.problem.startswith("gcp-standby deploys aws-primary's version on gcp: ")


@pytest.mark.parametrize(
    ("today", "verdict"),
    [("2026-11-30", "ok"), ("2027-01-15", "warning"), ("2027-03-28", "refused")],
)
def test_exitplan_today_moves_the_verdict(
    monkeypatch: pytest.MonkeyPatch, today: str, verdict: str
) -> None:
    monkeypatch.setenv("EXITPLAN_TODAY", today)
    stack = Project(ROOT).stack("aws-primary")  # a fresh project: nothing cached
    if verdict == "refused":
        with pytest.raises(CatalogError, match="left standard support on aws on 2027-03-27"):
            stack.validate()
        return
    stack.validate()
    notices = [w for w in stack.warnings if w.field == "exitplan:service.kubernetes_version"]
    assert len(notices) == (verdict == "warning")
