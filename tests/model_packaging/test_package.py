"""`exitplan package` end to end: export, parity, repository, image; reuse; an untouched output
folder on failure; push to a real registry; publish to stacks' stores on real emulators."""

from __future__ import annotations

import hashlib
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from runbooks.cli import main
from tests.conftest import MakeProject, service, service_config
from tests.model_packaging.emulators import Store, s3_store  # noqa: F401
from tests.model_packaging.models import sklearn_classifier
from tests.model_packaging.registry import registry  # noqa: F401

MODELS = Path(__file__).with_name("models.py")


def package(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any] | None, str]:
    monkeypatch.setattr(sys, "argv", ["exitplan", "package", *args, "--json"])
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    code = exited.value.code if isinstance(exited.value.code, int) else 0
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_package_lays_out_repository_image_and_parity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlp"
    code, result, err = package(
        [f"{MODELS}:mlp", "--out", str(out), "--name", "mlp", "--version", "2"], monkeypatch, capsys
    )
    assert code == 0, err
    assert result is not None
    assert (out / "repository" / "mlp" / "2" / "model.onnx").is_file()
    assert (out / "repository" / "mlp" / "config.pbtxt").is_file()
    assert (out / "image" / "index.json").is_file()
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] and parity["batches"] == [1, 2, 7, 8]
    onnx_sha = hashlib.sha256((out / "repository" / "mlp" / "2" / "model.onnx").read_bytes())
    assert result["onnx_sha256"] == onnx_sha.hexdigest()
    assert result["image_digest"].startswith("sha256:")
    assert result["reused"] is False
    assert_reference_answers(out, result, model="mlp", version="2")


def assert_reference_answers(out: Path, result: dict[str, Any], model: str, version: str) -> None:
    """reference.json beside parity.json: seeded KServe v2 pairs whose answers are the original
    framework's, which ONNX Runtime (what Triton runs) reproduces within atol/rtol; kept out of
    the image, whose single layer holds the repository only."""
    import numpy as np
    import onnxruntime as ort

    from runbooks.load.kserve import reference_cases

    assert result["reference"] == str(out / "reference.json")
    document = json.loads((out / "reference.json").read_text())
    assert (document["model_name"], document["model_version"]) == (model, version)
    assert (document["atol"], document["rtol"]) == (1e-4, 1e-3) and len(document["pairs"]) == 8
    session = ort.InferenceSession(str(out / "repository" / model / version / "model.onnx"))
    _name, cases = reference_cases(document)
    for pair, case in zip(document["pairs"], cases, strict=True):
        feed = {
            t["name"]: np.asarray(t["data"], np.float32).reshape(t["shape"])
            for t in pair["request"]["inputs"]
        }
        outputs = [
            {"name": o.name, "data": v.reshape(-1).tolist()}
            for o, v in zip(session.get_outputs(), session.run(None, feed), strict=True)
        ]
        answer = {"model_name": model, "model_version": version, "outputs": outputs}
        assert case.expected.matches(json.dumps(answer).encode())
        outputs[0]["data"][0] += 1.0
        assert not case.expected.matches(json.dumps(answer).encode()), "a wrong answer"
    layout = json.loads((out / "image" / "index.json").read_text())
    manifest_digest = layout["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((out / "image" / "blobs" / "sha256" / manifest_digest).read_text())
    layer = out / "image" / "blobs" / "sha256" / manifest["layers"][0]["digest"].split(":")[1]
    with tarfile.open(layer) as tar:
        names = tar.getnames()
    assert names and all(n.startswith("models") for n in names)
    assert not [n for n in names if "reference" in n or "parity" in n]


def test_rerunning_does_no_work_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cnn"
    args = [f"{MODELS}:cnn", "--out", str(out), "--name", "cnn"]
    first = package(args, monkeypatch, capsys)[1]
    before = tree_digest(out)
    second = package(args, monkeypatch, capsys)[1]
    assert first is not None and second is not None
    assert second["reused"] is True
    assert second["image_digest"] == first["image_digest"]
    assert tree_digest(out) == before


NOISY = """
import torch

class Noisy(torch.nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)

def build():
    return Noisy(), (torch.randn(2, 16),)
"""


def test_a_failed_run_leaves_the_output_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    assert package([f"{MODELS}:mlp", "--out", str(out)], monkeypatch, capsys)[0] == 0
    before = tree_digest(out)
    noisy = tmp_path / "noisy.py"
    noisy.write_text(NOISY)
    code, _, err = package([f"{noisy}:build", "--out", str(out)], monkeypatch, capsys)
    assert code == 1, "a failed parity check"
    assert "validate:" in err and "max abs" in err
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "noisy.py"], "no leftovers"


def test_sklearn_needs_trust_then_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    model = sklearn_classifier(tmp_path / "clf.joblib")
    code, _, err = package([str(model), "--out", str(tmp_path / "out")], monkeypatch, capsys)
    assert code == 2 and "export:" in err and "--trust-pickle" in err
    assert not (tmp_path / "out").exists()
    code, result, err = package(
        [str(model), "--out", str(tmp_path / "out"), "--trust-pickle", "--name", "clf"],
        monkeypatch,
        capsys,
    )
    assert code == 0, err
    assert result is not None and result["framework"] == "sklearn"


def push_args(tmp_path: Path, ref: str) -> list[str]:
    """Package the MLP and push its image to `ref` over plain HTTP."""
    out = str(tmp_path / "o")
    return [f"{MODELS}:mlp", "--out", out, "--image", ref, "--push", "--insecure-registry"]


def test_push_to_a_real_registry_and_read_back(
    tmp_path: Path,
    registry: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ref = f"{registry}/models/mlp:1"
    code, result, err = package(push_args(tmp_path, ref), monkeypatch, capsys)
    assert code == 0, err
    assert result is not None and result["pushed"][ref] == result["image_digest"]


def test_an_unreachable_registry_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.model_packaging.registry import free_port

    ref = f"127.0.0.1:{free_port()}/models/mlp:1"
    code, _, err = package(push_args(tmp_path, ref), monkeypatch, capsys)
    assert code == 2 and "image:" in err


def test_publish_to_a_stacks_store_and_read_back(
    tmp_path: Path,
    s3_store: Store,  # noqa: F811
    make_project: MakeProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in s3_store.env.items():
        monkeypatch.setenv(key, value)
    bucket = s3_store.uri.removeprefix("s3://")
    stack = service_config()
    service(stack)["model_repository"] = bucket
    project = make_project({"aws-primary": stack})
    args = [
        f"{MODELS}:mlp",
        "--out",
        str(tmp_path / "o"),
        "--name",
        "mlp",
        "--publish",
        "aws-primary",
        "--project",
        str(project.root),
    ]
    code, result, err = package(args, monkeypatch, capsys)
    assert code == 0, err
    assert result is not None
    published = result["published"]["aws-primary"]
    assert published["uri"] == s3_store.uri and published["uploaded"] >= 2
    s3 = boto3.client("s3")
    body = s3.get_object(Bucket=bucket, Key="mlp/1/model.onnx")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == result["onnx_sha256"]
    again = package(args, monkeypatch, capsys)[1]
    assert again is not None and again["published"]["aws-primary"]["uploaded"] == 0


def test_publish_to_an_unknown_stack_fails_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = package(
        [f"{MODELS}:mlp", "--out", str(tmp_path / "o"), "--publish", "oracle-primary"],
        monkeypatch,
        capsys,
    )
    assert code == 2 and "unknown stack 'oracle-primary'" in err
    assert not (tmp_path / "o").exists()


def test_a_copied_package_is_reused_with_its_own_paths(tmp_path: Path) -> None:
    """B8: after `cp -a` of a project, the copy's reused package named the original folder's
    repository, image and reference answers (its manifest's absolute paths)."""
    import shutil
    from dataclasses import replace

    from model_packaging.package import MANIFEST, REFERENCE, PackageOptions, PackageResult, _reuse

    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    original = PackageOptions(str(model), tmp_path / "a" / "pkg", "m")
    out = original.out
    (out / "image").mkdir(parents=True)
    (out / "repository").mkdir()
    (out / REFERENCE).write_text("{}")
    stored = PackageResult(
        "m", "1", "onnx", [], [], {}, "sha", 4, str(out / "repository"), str(out / "image"),
        "sha256:d", original.fingerprint(), str(out / REFERENCE),
    )  # fmt: skip
    (out / MANIFEST).write_text(json.dumps(stored.as_dict()))
    copy = tmp_path / "b" / "pkg"
    shutil.copytree(out, copy)
    reused = _reuse(replace(original, out=copy))
    assert reused is not None and reused.reused
    assert (reused.repository, reused.image_layout, reused.reference) == (
        str(copy / "repository"), str(copy / "image"), str(copy / REFERENCE),
    )  # fmt: skip
    shutil.rmtree(copy / "image")
    assert _reuse(replace(original, out=copy)) is None, "the copy's image is gone: rebuild"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"name": "bad name/../x"}, "--name 'bad name/../x' is not a Triton model name"),
        ({"version": "-1"}, "--version '-1' is not a positive integer"),
        ({"atol": -1.0}, "--atol -1 is not a tolerance"),
        ({"rtol": float("nan")}, "--rtol nan is not a tolerance"),
    ],
)
def test_options_that_need_no_model_are_refused_before_any_work(
    tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    """I11: --name and --version were refused only after export and validation (5 s), by the
    image and layout stages; --atol -1 failed parity on every row, blaming the model."""
    from dataclasses import replace

    from model_packaging.errors import PackagingError
    from model_packaging.package import PackageOptions, package

    options = replace(
        PackageOptions(str(tmp_path / "missing.onnx"), tmp_path / "out", "m"), **change
    )
    with pytest.raises(PackagingError) as caught:
        package(options)
    assert said in str(caught.value) and caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()


def test_a_python_model_source_that_is_missing_or_lacks_its_function_says_which(
    tmp_path: Path,
) -> None:
    """I11: a missing file.py was reported as FileNotFoundError with the fix "the function must
    return (model, example_inputs)"; so was a file without the function."""
    from model_packaging.errors import ExportError
    from model_packaging.export import export

    with pytest.raises(ExportError) as caught:
        export(f"{tmp_path / 'gone.py'}:build", "auto", tmp_path / "w")
    assert "gone.py: no such file" in str(caught.value) and "check the path" in caught.value.fix
    (tmp_path / "model.py").write_text("x = 1\n")
    with pytest.raises(ExportError) as caught:
        export(f"{tmp_path / 'model.py'}:build", "auto", tmp_path / "w")
    assert "defines no function 'build'" in str(caught.value)
    assert caught.value.fix.startswith("define build()")
