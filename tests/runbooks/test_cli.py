"""The CLI end to end: stacks list, plan, parity, --json, and bad input mapped to exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.catalog import default_triton_version
from runbooks.cli import main
from tests.conftest import (
    ALL_STACKS,
    ROOT,
    MakeProject,
    service,
    service_config,
    stack_config,
)


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["exitplan", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def test_stacks_list_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["stacks", "list", "--project", str(ROOT), "--json"], monkeypatch, capsys)
    assert code == 0
    listed = json.loads(out)
    assert listed["schema"] == "exitplan.stacks.list/1"
    rows = {r["stack"]: r for r in listed["stacks"]}
    assert rows["aws-primary"]["gpu_type"] == "g4dn.xlarge"
    assert rows["azure-standby"]["provider"] == "azure"
    assert rows["gcp-standby"]["gpu_type"] == "n1-standard-4 + 1x nvidia-tesla-t4"


def test_plan_json_lists_typed_parented_resources_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["plan", "gcp-standby", "--project", str(ROOT), "--json"], monkeypatch, capsys
    )
    assert code == 0
    plan = json.loads(out)
    types = {r["type"] for r in plan["resources"]}
    assert {"gcp:container/cluster:Cluster", "kubernetes:apps/v1:Deployment"} <= types
    assert plan["outputs"]["kubeconfig"] == "[secret]"
    provider = next(r for r in plan["resources"] if r["type"] == "pulumi:providers:kubernetes")
    assert provider["inputs"]["kubeconfig"] == "[secret]"
    # Triton's generated admin key (a Kubernetes Secret) never reaches the output.
    key = next(r for r in plan["resources"] if r["type"] == "kubernetes:core/v1:Secret")
    assert key["inputs"]["stringData"] == "[secret]"
    gke = next(r for r in plan["resources"] if r["type"] == "gcp:container/cluster:Cluster")
    assert gke["parent"] == "fraud-scoring-standby"
    assert plan["gaps"] == {}
    assert gke["key_properties"]["databaseEncryption.state"] == "ENCRYPTED"


def test_parity_over_every_stack_exits_0_with_the_notes() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "exitplan"), "parity"],
        cwd=ROOT / "stacks",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"parity ok: {len(ALL_STACKS)} stacks equivalent" in result.stdout
    assert "triton version" in result.stdout
    assert "note serving: a zone without GPUs serves on CPU" in " ".join(result.stdout.split())
    assert "gap azure replication-from-aws" in result.stdout


def test_parity_drift_exits_1_naming_row_and_stack(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = service_config()
    service(drifted).update(provider="gcp", region="us-central1")
    service(drifted)["triton"]["version"] = "2.59.0"
    drifted["config"]["gcp:project"] = "fraud-scoring-prod"
    project = make_project({"aws-primary": service_config(), "gcp-old": drifted})
    code, out, _err = run(["parity", "--project", str(project.root), "--json"], monkeypatch, capsys)
    assert code == 1
    report = json.loads(out)
    assert report["drift"] == ["triton version"]
    row = next(r for r in report["rows"] if r["row"] == "triton version")
    assert row["values"] == {"aws-primary": default_triton_version(), "gcp-old": "2.59.0"}


def _edited(edit: Any) -> dict[str, Any]:
    config = service_config()
    edit(service(config))
    return config


BAD_INPUTS = {
    "unknown GPU model": (
        _edited(lambda s: s["gpu"].update(model="V100")),
        "exitplan:service.gpu.model",
        "use one of",
    ),
    "region lacks it": (
        _edited(
            lambda s: (
                s["gpu"].update(model="H100", min_memory_gib=80, gpus_per_node=8)
                or s.update(region="eu-west-1")
            )
        ),
        "exitplan:service.gpu",
        "pick from what eu-west-1 offers",
    ),
    "missing tag": (_edited(lambda s: s["tags"].pop("owner")), "exitplan:service.tags", "owner"),
    "min above max": (
        _edited(lambda s: s["gpu"].update(min_nodes=9)),
        "exitplan:service.gpu",
        "above max_nodes",
    ),
    "negative count": (
        _edited(lambda s: s["gpu"].update(max_nodes=-2)),
        "exitplan:service.gpu.max_nodes",
        "use a larger number",
    ),
    "unknown key": (
        _edited(lambda s: s.update(regoin="us-east-1")),
        "exitplan:service.regoin",
        "allowed keys here",
    ),
    "yaml syntax": ("config:\n  exitplan:service: {name: [oops\n", "", "YAML syntax error at line"),
    "edge role": (
        _edited(lambda s: s.update(role="edge")),
        "exitplan:service.role",
        "describe it under exitplan:edge",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_file_field_and_fix(
    case: str,
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    content, field, words = BAD_INPUTS[case]
    project = make_project({"broken": content})
    command = ["plan", "broken"] if case == "edge role" else ["stacks", "list"]
    code, out, err = run([*command, "--project", str(project.root)], monkeypatch, capsys)
    assert code == 2, err
    assert "Pulumi.broken.yaml" in err
    assert field in err
    assert words in err
    assert "Traceback" not in err and "Traceback" not in out


def test_unknown_stack_exits_2_listing_the_stacks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["plan", "aws-primry", "--project", str(ROOT)], monkeypatch, capsys)
    assert code == 2
    assert "unknown stack 'aws-primry'" in err
    assert "aws-primary, aws-wavelength, azure-edge, azure-standby, gcp-edge, gcp-standby" in err


def test_a_dotted_stack_name_is_refused_naming_the_file(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pulumi allows `a.b`; the front door would report it as `a` (see STACK_NAME)."""
    project = make_project({"aws.primary": stack_config("aws-primary")})
    code, _, err = run(["plan", "aws.primary", "--project", str(project.root)], monkeypatch, capsys)
    assert code == 2, err
    assert "Pulumi.aws.primary.yaml" in err and "stack name" in err
    assert "only letters, digits" in err and "rename the file" in err


def test_no_project_found_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["stacks", "list"], monkeypatch, capsys)
    assert code == 2
    assert "Pulumi.yaml" in err


def _with_router(**edit: Any) -> dict[str, Any]:
    config = stack_config("aws-primary")
    config["config"]["exitplan:traffic"].update(edit)
    return config


def _standby(**edit: Any) -> dict[str, Any]:
    config = stack_config("gcp-standby")
    config["config"]["exitplan:standby"].update(edit)
    return config


def _edge(**edit: Any) -> dict[str, Any]:
    config = stack_config("aws-wavelength")
    config["config"]["exitplan:edge"].update(edit)
    return config


# stack under test -> (its config, the dotted field, words of the message)
TOPOLOGY_BAD_INPUTS = {
    "standby in the primary's cloud": (
        _standby(provider="aws", region="us-west-2"),
        "exitplan:standby.provider",
        "another cloud than its primary",
    ),
    "unknown zone": (_edge(zone="mars-1-wl1"), "exitplan:edge.zone", "unknown aws edge zone"),
    "GPU the zone lacks": (
        _edge(gpu={"model": "H100", "min_memory_gib": 80}),
        "exitplan:edge.gpu",
        "offers no 1x H100",
    ),
    "weights not summing to 100": (
        _with_router(weights={"aws-primary": 70, "gcp-standby": 20, "azure-standby": 0}),
        "exitplan:traffic.weights",
        "must sum to 100",
    ),
    "negative weight": (
        _with_router(weights={"aws-primary": 110, "gcp-standby": -10, "azure-standby": 0}),
        "exitplan:traffic.weights.gcp-standby",
        "greater than or equal to 0",
    ),
    "router to a missing stack": (
        _with_router(weights={"aws-primary": 100, "oracle-standby": 0}),
        "exitplan:traffic.weights",
        "unknown stack 'oracle-standby'",
    ),
    "unsupported health-check interval": (
        _with_router(health_check={"interval_s": 15, "failure_threshold": 3}),
        "exitplan:traffic.health_check.interval_s",
        "every 10 or 30 s, not 15",
    ),
}


@pytest.mark.parametrize("case", sorted(TOPOLOGY_BAD_INPUTS))
def test_topology_bad_input_exits_2_before_declaring_anything(
    case: str,
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    content, field, words = TOPOLOGY_BAD_INPUTS[case]
    stacks = {
        "aws-primary": stack_config("aws-primary"),
        "gcp-standby": stack_config("gcp-standby"),
        "azure-standby": stack_config("azure-standby"),
    }
    name = {"exitplan:standby": "gcp-standby", "exitplan:edge": "aws-wavelength"}.get(
        field.split(".")[0], "aws-primary"
    )
    stacks[name] = content
    project = make_project(stacks)
    code, out, err = run(["plan", name, "--project", str(project.root)], monkeypatch, capsys)
    assert code == 2, err
    assert f"Pulumi.{name}.yaml" in err
    assert field in err
    assert words in err
    assert "fix:" in err
    assert out == "", "nothing planned, nothing declared"
