"""Lay out a Triton model repository: `<name>/config.pbtxt`, `<name>/<version>/model.onnx`, and
`<name>/configs/cpu.pbtxt` (the same model on CPU, for edge zones without GPUs, selected with
`--model-config-name=cpu`)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from model_packaging.errors import LayoutError
from model_packaging.export import Exported, TensorSpec

PLATFORM = "onnxruntime_onnx"
CPU_CONFIG = "cpu"
MAX_QUEUE_DELAY_US = 100
# numpy dtype name -> Triton data type (model_config.proto DataType).
TRITON_TYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
    "object": "TYPE_STRING",
}


def preferred_batch_sizes(max_batch: int) -> list[int]:
    """Powers of two from 4 up to the max batch, and the max batch itself."""
    sizes = [b for b in (4, 8, 16, 32, 64, 128, 256) if b < max_batch]
    return [*sizes, max_batch]


def render_config(
    name: str,
    version: str,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    *,
    max_batch: int,
    dynamic_batching: bool = True,
    kind: str = "KIND_GPU",
) -> str:
    """config.pbtxt text: dims without the batch axis, -1 for dynamic ones; the
    `dynamic_batching` block only when asked for (the service spec's `triton.dynamic_batching`:
    without it Triton runs each request as it comes)."""
    batching = [
        "dynamic_batching {",
        f"  preferred_batch_size: [ {', '.join(map(str, preferred_batch_sizes(max_batch)))} ]",
        f"  max_queue_delay_microseconds: {MAX_QUEUE_DELAY_US}",
        "}",
    ]
    body = [
        f'name: "{name}"',
        f'platform: "{PLATFORM}"',
        f"max_batch_size: {max_batch}",
        "input [",
        ",\n".join(_tensor(t) for t in inputs),
        "]",
        "output [",
        ",\n".join(_tensor(t) for t in outputs),
        "]",
        *(batching if dynamic_batching else []),
        "instance_group [",
        f"  {{ count: 1 kind: {kind} }}",
        "]",
        f"version_policy: {{ specific: {{ versions: [ {int(version)} ] }} }}",
    ]
    return "\n".join(body) + "\n"


def _tensor(spec: TensorSpec) -> str:
    dtype = TRITON_TYPES.get(spec.dtype)
    if dtype is None:
        raise LayoutError(f"{spec.name} has dtype {spec.dtype}, which Triton cannot serve")
    dims = [d if isinstance(d, int) else -1 for d in spec.shape[1:]]
    if not dims:
        # A tensor of one value per request: Triton wants a non-empty dims, reshaped away.
        return (
            f'  {{ name: "{spec.name}" data_type: {dtype} dims: [ 1 ] reshape: {{ shape: [ ] }} }}'
        )
    return f'  {{ name: "{spec.name}" data_type: {dtype} dims: [ {", ".join(map(str, dims))} ] }}'


def write_repository(
    exported: Exported,
    repository: Path,
    *,
    name: str,
    version: str,
    max_batch: int,
    dynamic_batching: bool = True,
) -> Path:
    """Write the model's folder into `repository`; returns `repository/<name>`."""
    if not version.isdigit() or int(version) < 1:
        raise LayoutError(f"version {version!r} is not a positive integer", fix="use --version 1")
    model_dir = repository / name
    (model_dir / version).mkdir(parents=True, exist_ok=True)
    (model_dir / "configs").mkdir(exist_ok=True)
    shutil.copyfile(exported.onnx_path, model_dir / version / "model.onnx")
    for path, kind in (
        (model_dir / "config.pbtxt", "KIND_GPU"),
        (model_dir / "configs" / f"{CPU_CONFIG}.pbtxt", "KIND_CPU"),
    ):
        path.write_text(
            render_config(
                name,
                version,
                exported.inputs,
                exported.outputs,
                max_batch=max_batch,
                dynamic_batching=dynamic_batching,
                kind=kind,
            )
        )
    return model_dir
