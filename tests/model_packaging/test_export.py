"""Export and validate: each test model becomes ONNX with a dynamic batch and matches its
framework at batch sizes 1, 2, 7 and the max; bad input fails at the right stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from model_packaging.errors import ExportError, ParityError, ShapeError, UnsafeInputError
from model_packaging.export import export
from model_packaging.validate import batch_sizes, validate
from tests.model_packaging.models import mlp, sklearn_classifier, sklearn_regressor

MODELS = Path(__file__).with_name("models.py")


@pytest.mark.parametrize("builder", ["mlp", "cnn", "transformer"])
def test_torch_models_export_with_dynamic_batch_and_parity(builder: str, tmp_path: Path) -> None:
    exported = export(f"{MODELS}:{builder}", "torch", tmp_path)
    assert all(spec.shape[0] == "batch" for spec in exported.inputs)
    report = validate(exported, max_batch=16)
    assert report.batches == (1, 2, 7, 16)
    assert report.passed and report.max_abs_error <= 1e-4
    assert {r.batch for r in report.rows} == {1, 2, 7, 16}


def test_transformer_sequence_axis_is_dynamic(tmp_path: Path) -> None:
    exported = export(f"{MODELS}:transformer", "torch", tmp_path)
    assert exported.inputs[0].shape == ("batch", "sequence", 8)
    session = ort.InferenceSession(str(exported.onnx_path))
    for sequence in (3, 20):
        tokens = np.random.default_rng(1).standard_normal((4, sequence, 8)).astype(np.float32)
        assert exported.reference is not None
        expected = exported.reference({"tokens": tokens})[0]
        np.testing.assert_allclose(session.run(None, {"tokens": tokens})[0], expected, atol=1e-4)


def test_pretrained_minilm_exports_with_parity(tmp_path: Path) -> None:
    exported = export(f"{MODELS}:minilm", "torch", tmp_path)
    assert [s.name for s in exported.inputs] == ["input_ids", "attention_mask"]
    assert exported.outputs[0].shape == ("batch", 384)
    report = validate(exported, max_batch=8)
    assert report.passed and report.max_abs_error <= 1e-4


def test_exported_program_file(tmp_path: Path) -> None:
    model, args = mlp()
    program = torch.export.export(
        model, args, dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64)},)
    )
    torch.export.save(program, tmp_path / "mlp.pt2")
    exported = export(str(tmp_path / "mlp.pt2"), "auto", tmp_path / "out")
    assert exported.framework == "torch"
    assert validate(exported, max_batch=8).passed


def test_torchscript_needs_an_input_shape_then_exports(tmp_path: Path) -> None:
    model, (x,) = mlp()
    torch.jit.save(torch.jit.trace(model, (x,)), tmp_path / "mlp.pt")
    with pytest.raises(ShapeError) as caught:
        export(str(tmp_path / "mlp.pt"), "torch", tmp_path / "a")
    assert "--input-shape" in caught.value.fix
    exported = export(str(tmp_path / "mlp.pt"), "torch", tmp_path / "b", input_shape=(2, 16))
    assert validate(exported, max_batch=8).passed


def test_torchscript_input_shape_that_does_not_match(tmp_path: Path) -> None:
    model, (x,) = mlp()
    torch.jit.save(torch.jit.trace(model, (x,)), tmp_path / "mlp.pt")
    with pytest.raises(ShapeError) as caught:
        export(str(tmp_path / "mlp.pt"), "torch", tmp_path / "a", input_shape=(2, 17))
    assert caught.value.stage == "export"
    assert "(2, 17)" in caught.value.cause


def test_a_fixed_batch_size_is_caught_not_shipped(tmp_path: Path) -> None:
    model, args = mlp()
    fixed = tmp_path / "fixed.onnx"
    # The TorchScript-based exporter without dynamic axes fixes the batch to the example's.
    torch.onnx.export(model, args, str(fixed), dynamo=False, input_names=["x"])
    with pytest.raises(ShapeError) as caught:
        export(str(fixed), "onnx", tmp_path / "out")
    assert "batch axis is fixed" in caught.value.cause
    assert "x float32 [2, 16]" in caught.value.cause


def test_sklearn_classifier_pipeline_plain_tensors_and_labels(tmp_path: Path) -> None:
    path = sklearn_classifier(tmp_path / "clf.joblib")
    exported = export(str(path), "auto", tmp_path / "out", trust_pickle=True)
    assert exported.classifier
    model = onnx.load(str(exported.onnx_path))
    assert all(o.type.HasField("tensor_type") for o in model.graph.output), "no ZipMap"
    assert [o.name for o in exported.outputs] == ["label", "probabilities"]
    report = validate(exported, max_batch=32)
    labels = [r for r in report.rows if r.output == "label"]
    assert labels and all(r.label_agreement == 1.0 for r in labels)


def test_sklearn_regressor(tmp_path: Path) -> None:
    path = sklearn_regressor(tmp_path / "reg.joblib")
    exported = export(str(path), "sklearn", tmp_path / "out", trust_pickle=True)
    assert exported.inputs[0].shape[1] == 16
    assert validate(exported, max_batch=8, atol=1e-3).passed


def test_pickles_are_refused_without_trust(tmp_path: Path) -> None:
    path = sklearn_classifier(tmp_path / "clf.joblib")
    with pytest.raises(UnsafeInputError) as caught:
        export(str(path), "sklearn", tmp_path / "out")
    assert "runs code" in caught.value.cause and "--trust-pickle" in caught.value.fix


def test_onnx_passes_through_and_is_checked_row_by_row(tmp_path: Path) -> None:
    first = export(f"{MODELS}:cnn", "torch", tmp_path / "first")
    exported = export(str(first.onnx_path), "auto", tmp_path / "second")
    assert exported.framework == "onnx" and exported.reference is None
    assert validate(exported, max_batch=8).passed


def test_a_truncated_onnx_file_fails_at_export(tmp_path: Path) -> None:
    first = export(f"{MODELS}:mlp", "torch", tmp_path / "first")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(first.onnx_path.read_bytes()[:200])
    with pytest.raises(ExportError) as caught:
        export(str(broken), "onnx", tmp_path / "out")
    assert "not a valid ONNX model" in caught.value.cause


def test_the_wrong_framework_says_so(tmp_path: Path) -> None:
    first = export(f"{MODELS}:mlp", "torch", tmp_path / "first")
    with pytest.raises(ExportError) as caught:
        export(str(first.onnx_path), "sklearn", tmp_path / "out", trust_pickle=True)
    assert "could not be unpickled" in caught.value.cause
    with pytest.raises(ExportError):
        export(str(first.onnx_path), "torch", tmp_path / "out2")


class NoOnnxOperator(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigvals(x @ x.transpose(-1, -2)).real


def test_an_operator_without_onnx_fails_at_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    module = types.ModuleType("no_onnx_model")
    module.build = lambda: (NoOnnxOperator(), (torch.randn(2, 4, 4),))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "no_onnx_model", module)
    with pytest.raises(ExportError) as caught:
        export("no_onnx_model:build", "torch", tmp_path)
    assert "torch.onnx could not export" in caught.value.cause


class Noisy(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.rand_like(x)


def test_a_parity_failure_is_exit_1_with_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    module = types.ModuleType("noisy_model")
    module.build = lambda: (Noisy(), (torch.randn(2, 4),))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "noisy_model", module)
    exported = export("noisy_model:build", "torch", tmp_path)
    with pytest.raises(ParityError) as caught:
        validate(exported, max_batch=8)
    assert caught.value.exit_code == 1
    assert "max abs" in caught.value.cause and "NO" in caught.value.cause


def test_batch_sizes_include_the_max() -> None:
    assert batch_sizes(1) == (1,)
    assert batch_sizes(4) == (1, 2, 4)
    assert batch_sizes(64) == (1, 2, 7, 64)
