"""Reproducible artefacts: the same model gives the same ONNX bytes and the same OCI image digest
from any folder, and no string in the exported ONNX names the machine that built it (absolute
paths, stack traces, timestamps, user@host)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from google.protobuf.message import Message

from model_packaging import package as package_module
from model_packaging.export import canonicalize, export
from model_packaging.package import PackageOptions, PackageResult, package
from runbooks.cli import main
from tests.model_packaging.models import cnn, sklearn_classifier

MODELS = Path(__file__).with_name("models.py")

# What a machine-specific string looks like: a home, temp or system folder, an installed
# package's folder, a Windows drive, or any `/`-rooted path with two components or more.
ABSOLUTE_PATH = re.compile(
    r"/home|/root|/tmp|/usr|site-packages|dist-packages|[A-Za-z]:\\"
    r"|(?<![\w.])/[\w.+-]+/[\w.+-]+"
)
# Stronger markers that no identifier contains (TorchScript's scope names, `/features/0/Conv`,
# are `/`-rooted without naming any folder; these are checked on every export path).
MACHINE = re.compile(
    r"/home/|/root/|/tmp/|/usr/|/work/|site-packages|dist-packages|[A-Za-z]:\\"
    r'|File "|Traceback|\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\w@\w'
)
# Bytes fields that hold text (an attribute's strings, a string tensor); raw weights do not.
TEXT_BYTES = {"s", "strings", "string_data"}


def onnx_strings(message: Message, where: str = "model") -> Iterator[tuple[str, str]]:
    """(field path, text) for every string in `message`, recursively: names, doc_strings,
    metadata keys and values, producer, domains, attribute strings."""
    for descriptor, value in message.ListFields():
        repeated = descriptor.label == descriptor.LABEL_REPEATED
        for index, item in enumerate(value if repeated else [value]):
            path = f"{where}.{descriptor.name}" + (f"[{index}]" if repeated else "")
            if isinstance(item, Message):
                yield from onnx_strings(item, path)
            elif isinstance(item, str):
                yield path, item
            elif isinstance(item, bytes) and descriptor.name in TEXT_BYTES:
                yield path, item.decode("utf-8", "replace")


def machine_strings(
    model: onnx.ModelProto, pattern: re.Pattern[str], *extra: str
) -> list[tuple[str, str]]:
    """The strings of `model` that match `pattern` or contain one of `extra`."""
    return [
        (path, text[:160])
        for path, text in onnx_strings(model)
        if pattern.search(text) or any(e in text for e in extra)
    ]


def descriptive_strings(model: onnx.ModelProto) -> Iterator[tuple[str, str]]:
    """doc_strings, metadata and producer: the free text, as opposed to identifiers."""
    for path, text in onnx_strings(model):
        leaf = path.rsplit(".", 1)[-1].split("[")[0]
        if leaf in ("doc_string", "key", "value", "producer_name", "producer_version"):
            yield path, text


def copy_source(root: Path) -> Path:
    """The test models' source file, copied into `root`."""
    root.mkdir(parents=True)
    return Path(shutil.copy(MODELS, root / "models.py"))


@pytest.fixture(scope="module")
def two_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[PackageResult, PackageResult]:
    """The CNN (a module class defined in the copied file) packaged from two folders whose
    paths differ in length: once through `package()`, once through the CLI."""
    base = tmp_path_factory.mktemp("repro")
    short = copy_source(base / "a")
    long = copy_source(base / "a-much-longer-checkout-folder" / "nested" / "deeper")
    first = package(PackageOptions(source=f"{short}:cnn", out=short.parent / "out", name="cnn"))
    argv = sys.argv
    sys.argv = ["exitplan", "package", f"{long}:cnn", "--out", str(long.parent / "out")]
    sys.argv += ["--name", "cnn", "--json"]
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        sys.argv = argv
    assert exited.value.code in (0, None)
    manifest = json.loads((long.parent / "out" / "manifest.json").read_text())
    fields = {k: v for k, v in manifest.items() if k in PackageResult.__dataclass_fields__}
    return first, PackageResult(**fields)


def onnx_of(result: PackageResult) -> Path:
    return Path(result.repository) / result.name / result.version / "model.onnx"


def test_two_folders_give_the_same_onnx_and_image(
    two_folders: tuple[PackageResult, PackageResult],
) -> None:
    first, second = two_folders
    assert Path(first.repository) != Path(second.repository)
    one, two = onnx_of(first).read_bytes(), onnx_of(second).read_bytes()
    assert hashlib.sha256(one).hexdigest() == first.onnx_sha256
    assert one == two, "the ONNX bytes differ between folders"
    assert first.onnx_sha256 == second.onnx_sha256
    assert first.image_digest == second.image_digest
    for blob in (Path(first.image_layout) / "blobs" / "sha256").iterdir():
        assert (Path(second.image_layout) / "blobs" / "sha256" / blob.name).is_file()


def test_no_string_in_the_packaged_onnx_is_a_machine_path(
    two_folders: tuple[PackageResult, PackageResult],
) -> None:
    for result in two_folders:
        model = onnx.load(str(onnx_of(result)))
        folder = str(Path(result.repository).parent)
        found = machine_strings(model, ABSOLUTE_PATH, folder)
        assert not found, f"machine-specific strings in {result.repository}: {found[:5]}"
        found = machine_strings(model, MACHINE)
        assert not found, found[:5]


def test_the_path_check_catches_a_stack_trace() -> None:
    """The check above can fail: the exporter's raw output carries the source's path."""
    model, args = cnn()
    raw = torch.onnx.export(model, args, dynamo=True, external_data=False, verbose=False)
    assert raw is not None
    assert machine_strings(raw.model_proto, ABSOLUTE_PATH, str(MODELS))
    assert not machine_strings(canonicalize(raw.model_proto), ABSOLUTE_PATH, str(MODELS))


def junk_model() -> onnx.ModelProto:
    """A one-node model carrying the kinds of machine-specific text exporters leave behind."""
    helper = onnx.helper
    weight = helper.make_tensor("w", onnx.TensorProto.FLOAT, [4, 2], np.arange(8.0).tolist())
    weight.doc_string = "loaded from /home/alice/ckpt/w.npy"
    node = helper.make_node(
        "MatMul", ["x", "w"], ["y"], name="matmul", doc_string='File "/home/alice/m.py", line 3'
    )
    helper.set_metadata_props(node, {"pkg.torch.onnx.stack_trace": "/usr/lib/x.py"})
    graph = helper.make_graph(
        [node],
        "main_graph",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["batch", 2])],
        [weight],
        doc_string="exported on builder-7 at 2026-11-02T10:11:12 by alice@builder-7",
    )
    helper.set_metadata_props(graph, {"pkg.torch.export.range": "{s7: VR[1, 9]}"})
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18)],
        producer_name="pytorch",
        producer_version="2.13.0+cu128",
        doc_string="Traceback (most recent call last): C:\\Users\\alice\\train.py",
    )
    model.ir_version = 10
    helper.set_metadata_props(
        model, {"source": "/tmp/build-123/model.pt", "labels": "legit,fraud", "author": "team"}
    )
    return model


def test_canonicalize_strips_the_machine_and_keeps_the_model() -> None:
    model = junk_model()
    before = onnx.load_from_string(model.SerializeToString())
    clean = canonicalize(model)
    assert not machine_strings(clean, ABSOLUTE_PATH) and not machine_strings(clean, MACHINE)
    assert {p.key: p.value for p in clean.metadata_props} == {
        "author": "team",
        "labels": "legit,fraud",
    }, "metadata without machine text is kept (sorted by key)"
    assert [p.key for p in clean.metadata_props] == ["author", "labels"]
    assert clean.producer_name == "pytorch" and clean.producer_version == "2.13.0"
    assert clean.ir_version == before.ir_version and clean.opset_import == before.opset_import
    assert [n.name for n in clean.graph.node] == ["matmul"]
    assert clean.graph.initializer[0].raw_data or clean.graph.initializer[0].float_data
    assert onnx.numpy_helper.to_array(clean.graph.initializer[0]).tolist() == (
        onnx.numpy_helper.to_array(before.graph.initializer[0]).tolist()
    )
    x = np.ones((3, 4), np.float32)
    runs = [
        ort.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0] for m in (before, clean)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert canonicalize(onnx.load_from_string(clean.SerializeToString())) == clean, "idempotent"


def test_canonical_bytes_do_not_depend_on_metadata_order() -> None:
    one, two = junk_model(), junk_model()
    reordered = list(reversed(two.metadata_props))
    del two.metadata_props[:]
    two.metadata_props.extend(reordered)
    assert one.SerializeToString() != two.SerializeToString()
    assert canonicalize(one).SerializeToString(deterministic=True) == canonicalize(
        two
    ).SerializeToString(deterministic=True)


def export_source(kind: str, folder: Path) -> tuple[str, dict[str, Any]]:
    """A model file of `kind` in `folder`, and the export options it needs."""
    model, args = cnn()
    if kind == "pt2":
        batch = torch.export.Dim("batch", min=1, max=64)
        program = torch.export.export(model, args, dynamic_shapes=({0: batch},))
        torch.export.save(program, folder / "cnn.pt2")
        return str(folder / "cnn.pt2"), {}
    if kind == "torchscript":
        torch.jit.save(torch.jit.trace(model, args), folder / "cnn.ts")
        return str(folder / "cnn.ts"), {"input_shape": (2, 1, 28, 28)}
    if kind == "sklearn":
        return str(sklearn_classifier(folder / "clf.joblib")), {"trust_pickle": True}
    onnx.save(junk_model(), folder / "given.onnx")
    return str(folder / "given.onnx"), {}


@pytest.mark.parametrize("kind", ["pt2", "torchscript", "sklearn", "onnx"])
def test_every_export_path_writes_canonical_onnx(kind: str, tmp_path: Path) -> None:
    source, options = export_source(kind, tmp_path)
    exported = export(source, "auto", tmp_path / "work", **options)
    data = exported.onnx_path.read_bytes()
    model = onnx.load_from_string(data)
    found = machine_strings(model, MACHINE, str(tmp_path))
    assert not found, found[:5]
    found = [(p, t) for p, t in descriptive_strings(model) if ABSOLUTE_PATH.search(t)]
    assert not found, found[:5]
    assert "+" not in model.producer_version
    assert canonicalize(model).SerializeToString(deterministic=True) == data, "canonical bytes"


def test_the_image_does_not_record_the_measured_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The measured parity error depends on the CPU's kernels; the image's labels must not, or
    the same ONNX would give a different image digest on another machine."""
    first = package(PackageOptions(source=f"{MODELS}:mlp", out=tmp_path / "a", name="mlp"))
    real = package_module.validate

    def other_cpu(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        rows = [dataclasses.replace(r, max_abs_error=r.max_abs_error + 1e-6) for r in report.rows]
        return dataclasses.replace(report, rows=tuple(rows))

    monkeypatch.setattr(package_module, "validate", other_cpu)
    second = package(PackageOptions(source=f"{MODELS}:mlp", out=tmp_path / "b", name="mlp"))
    assert second.parity["max_abs_error"] != first.parity["max_abs_error"], "the fake applied"
    assert second.onnx_sha256 == first.onnx_sha256
    assert second.image_digest == first.image_digest


def test_a_package_from_an_older_format_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reuse is keyed on the inputs; a package written before the ONNX was canonical (another
    artefact format) must not be served again as if it were current."""
    options = PackageOptions(source=f"{MODELS}:mlp", out=tmp_path / "out", name="mlp")
    current = package_module.ARTEFACT_FORMAT
    monkeypatch.setattr(package_module, "ARTEFACT_FORMAT", current - 1)
    assert not package(options).reused
    assert package(options).reused
    monkeypatch.setattr(package_module, "ARTEFACT_FORMAT", current)
    assert not package(options).reused
