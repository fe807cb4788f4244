"""The Triton repository: configs parsed back with Triton's own model-config schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from model_packaging.errors import LayoutError
from model_packaging.export import export
from model_packaging.triton_repo import write_repository
from tests.model_packaging.models import sklearn_classifier

MODELS = Path(__file__).with_name("models.py")


def parse(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_transformer_config_has_dynamic_dims_without_batch(tmp_path: Path) -> None:
    exported = export(f"{MODELS}:transformer", "torch", tmp_path / "work")
    model_dir = write_repository(exported, tmp_path / "repo", name="seq", version="3", max_batch=16)
    assert (model_dir / "3" / "model.onnx").read_bytes() == exported.onnx_path.read_bytes()
    config = parse(model_dir / "config.pbtxt")
    assert (config.name, config.platform, config.max_batch_size) == ("seq", "onnxruntime_onnx", 16)
    assert list(config.input[0].dims) == [-1, 8]
    assert config.input[0].data_type == model_config_pb2.TYPE_FP32
    assert list(config.output[0].dims) == [3]
    assert list(config.dynamic_batching.preferred_batch_size) == [4, 8, 16]
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert list(config.version_policy.specific.versions) == [3]
    cpu = parse(model_dir / "configs" / "cpu.pbtxt")
    assert cpu.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert cpu.input == config.input


def test_classifier_labels_are_reshaped_scalars(tmp_path: Path) -> None:
    exported = export(
        str(sklearn_classifier(tmp_path / "c.joblib")), "sklearn", tmp_path / "w", trust_pickle=True
    )
    model_dir = write_repository(exported, tmp_path / "repo", name="clf", version="1", max_batch=8)
    config = parse(model_dir / "config.pbtxt")
    label = next(o for o in config.output if o.name == "label")
    assert label.data_type == model_config_pb2.TYPE_INT64
    assert list(label.dims) == [1] and list(label.reshape.shape) == []


def test_a_typo_in_a_field_name_fails_to_parse() -> None:
    with pytest.raises(text_format.ParseError):
        text_format.Parse('name: "x" max_batch_sise: 8', model_config_pb2.ModelConfig())


def test_a_version_must_be_a_positive_integer(tmp_path: Path) -> None:
    exported = export(f"{MODELS}:mlp", "torch", tmp_path / "work")
    with pytest.raises(LayoutError):
        write_repository(exported, tmp_path / "repo", name="m", version="v2", max_batch=8)


def test_dynamic_batching_off_leaves_the_block_out(tmp_path: Path) -> None:
    """The spec's `triton.dynamic_batching: false` reaches config.pbtxt: no scheduler block."""
    exported = export(f"{MODELS}:transformer", "torch", tmp_path / "work")
    model_dir = write_repository(
        exported, tmp_path / "repo", name="seq", version="1", max_batch=32, dynamic_batching=False
    )
    for path in (model_dir / "config.pbtxt", model_dir / "configs" / "cpu.pbtxt"):
        config = parse(path)
        assert config.max_batch_size == 32
        assert not config.HasField("dynamic_batching")
