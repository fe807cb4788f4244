"""Export: PyTorch, scikit-learn or ONNX models to a checked ONNX file with a dynamic batch axis.

Each framework is one function in `EXPORTERS`; all of them return an `Exported`: the ONNX file,
its inputs and outputs, example inputs, and the original model as a callable so that the
validate stage can compare ONNX Runtime against it.

Every path ends in `canonicalize`: the file keeps what ONNX Runtime and Triton read (graph,
initializers, names, opsets, IR version, producer) and loses what names the machine that built
it (the exporters' stack traces and source locations, absolute paths, timestamps, user@host, a
local version label such as `+cpu`), and is serialised deterministically, so the same model
gives the same bytes from any folder or machine.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import pickle
import re
import shutil
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from model_packaging.errors import ExportError, ShapeError, UnsafeInputError

DEFAULT_OPSET = 18
Arrays = dict[str, np.ndarray]
Reference = Callable[[Arrays], list[np.ndarray]]


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, numpy dtype name, shape (a string for a dynamic axis)."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]

    def describe(self) -> str:
        """`x float32 [batch, 16]`."""
        return f"{self.name} {self.dtype} [{', '.join(str(d) for d in self.shape)}]"


@dataclass(frozen=True)
class Exported:
    """The export stage's result."""

    onnx_path: Path
    framework: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    examples: Arrays
    reference: Reference | None
    classifier: bool = False


def detect_framework(source: str) -> str:
    """`torch`, `sklearn` or `onnx` from the file name (or `module:function` for torch)."""
    path = Path(source)
    if not path.exists() and ":" in source:
        return "torch"
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt2", ".pt", ".pth", ".ts"):
        return "torch"
    if suffix in (".pkl", ".pickle", ".joblib"):
        return "sklearn"
    raise ExportError(
        f"cannot tell the framework of {source!r} from its name",
        fix="pass --framework torch|sklearn|onnx",
    )


def export(
    source: str,
    framework: str,
    workdir: Path,
    *,
    opset: int = DEFAULT_OPSET,
    trust_pickle: bool = False,
    input_shape: Sequence[int] | None = None,
) -> Exported:
    """Convert `source` to `workdir/model.onnx`, check it and describe its inputs and outputs."""
    if framework == "auto":
        framework = detect_framework(source)
    if framework not in EXPORTERS:
        raise ExportError(
            f"unknown framework {framework!r}", fix=f"use one of: {', '.join(EXPORTERS)}, auto"
        )
    if framework != "torch" or ":" not in source or Path(source).exists():
        _require_file(source)
    workdir.mkdir(parents=True, exist_ok=True)
    target = workdir / "model.onnx"
    exported = EXPORTERS[framework](source, target, opset, trust_pickle, input_shape)
    write_canonical(target)
    check(target)
    return exported


def _require_file(source: str) -> None:
    path = Path(source)
    if not path.is_file() or path.stat().st_size == 0:
        raise ExportError(f"{source} is missing or empty", fix="check the path of the model file")


def check(path: Path) -> onnx.ModelProto:
    """`onnx.checker` and shape inference; a failure is an `ExportError`."""
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        return onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:  # onnx raises many types; one stage error
        raise ExportError(
            f"{path.name} is not a valid ONNX model: {exc}",
            fix="re-export it, or check that the file is complete",
        ) from exc


# -- canonical ONNX --------------------------------------------------------------------------

# Text that names the machine: an absolute path (a home, temp or system folder, an installed
# package, a Windows drive or share, any `/`-rooted path of two components or more outside a
# URL), a Python stack trace, a timestamp, user@host.
_MACHINE_SPECIFIC = re.compile(
    r"""(?<![\w.:/-])/[\w.@+-]+/[\w.@+-]+
    | /(?:home|Users|root|tmp|usr|opt|var|private|mnt|srv)/ | site-packages | dist-packages
    | \b[A-Za-z]:\\ | \\\\[\w.-]+\\
    | File\ " | Traceback\ \(
    | \b\d{4}-\d\d-\d\d[T\ ]\d\d:\d\d
    | [\w.-]+@[\w-]+""",
    re.X,
)
# Tool-private metadata (torch's `pkg.torch.*`: graph signature, symbolic ranges, FX nodes).
_TOOL_PREFIX = "pkg."
_Element = onnx.NodeProto | onnx.ValueInfoProto | onnx.TensorProto
_Container = onnx.ModelProto | onnx.GraphProto | onnx.FunctionProto


def canonicalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Strip machine-specific text from `model` (in place) and return it.

    Per node, value, tensor and attribute: no doc_string and no metadata (exporters put stack
    traces, source files and scopes there; no runtime reads them). Per model, graph and
    function: doc_strings and metadata kept unless tool-private (`pkg.*`) or machine-specific,
    metadata sorted by key. The producer's version loses its local label (`2.13.0+cpu` ->
    `2.13.0`). Names, opsets, the IR version, initializers and attribute values are untouched."""
    _scrub_container(model)
    model.producer_version = model.producer_version.split("+", 1)[0]
    for field in ("producer_name", "producer_version"):
        if _MACHINE_SPECIFIC.search(getattr(model, field)):
            setattr(model, field, "")
    _scrub_graph(model.graph)
    for function in model.functions:
        _scrub_container(function)
        for node in function.node:
            _scrub_node(node)
        for value in function.value_info:
            _scrub_element(value)
        for attribute in function.attribute_proto:
            _scrub_attribute(attribute)
    for training in model.training_info:
        _scrub_graph(training.initialization)
        _scrub_graph(training.algorithm)
    return model


def write_canonical(path: Path) -> None:
    """Rewrite the ONNX file at `path` canonicalised, serialised deterministically."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and friends; one stage error
        raise ExportError(
            f"{path.name} is not a readable ONNX model: {_first_line(exc)}",
            fix="re-export it, or check that the file is complete",
        ) from exc
    path.write_bytes(canonicalize(model).SerializeToString(deterministic=True))


def _scrub_container(message: _Container) -> None:
    if _MACHINE_SPECIFIC.search(message.doc_string):
        message.doc_string = ""
    kept = sorted(
        (p.key, p.value)
        for p in message.metadata_props
        if not p.key.startswith(_TOOL_PREFIX) and not _MACHINE_SPECIFIC.search(f"{p.key} {p.value}")
    )
    del message.metadata_props[:]
    for key, value in kept:
        message.metadata_props.add(key=key, value=value)


def _scrub_element(message: _Element) -> None:
    message.doc_string = ""
    del message.metadata_props[:]


def _scrub_graph(graph: onnx.GraphProto) -> None:
    _scrub_container(graph)
    for tensor in graph.initializer:
        _scrub_element(tensor)
    for sparse in graph.sparse_initializer:
        _scrub_element(sparse.values)
        _scrub_element(sparse.indices)
    for value in (*graph.input, *graph.output, *graph.value_info):
        _scrub_element(value)
    for node in graph.node:
        _scrub_node(node)


def _scrub_node(node: onnx.NodeProto) -> None:
    _scrub_element(node)
    for attribute in node.attribute:
        _scrub_attribute(attribute)


def _scrub_attribute(attribute: onnx.AttributeProto) -> None:
    attribute.doc_string = ""
    for graph in (*([attribute.g] if attribute.HasField("g") else []), *attribute.graphs):
        _scrub_graph(graph)
    for tensor in (*([attribute.t] if attribute.HasField("t") else []), *attribute.tensors):
        _scrub_element(tensor)
    for sparse in (
        *([attribute.sparse_tensor] if attribute.HasField("sparse_tensor") else []),
        *attribute.sparse_tensors,
    ):
        _scrub_element(sparse.values)
        _scrub_element(sparse.indices)


def describe(model: onnx.ModelProto) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The graph's inputs (initializers excluded) and outputs."""
    initializers = {i.name for i in model.graph.initializer}

    def spec(value: onnx.ValueInfoProto) -> TensorSpec:
        tensor = value.type.tensor_type
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)).name
        dims = tuple(
            d.dim_param or (d.dim_value if d.HasField("dim_value") else "?")
            for d in tensor.shape.dim
        )
        return TensorSpec(value.name, dtype, dims)

    inputs = tuple(spec(v) for v in model.graph.input if v.name not in initializers)
    return inputs, tuple(spec(v) for v in model.graph.output)


def _require_dynamic_batch(specs: Sequence[TensorSpec], where: str) -> None:
    fixed = [s for s in specs if s.shape and isinstance(s.shape[0], int)]
    if fixed:
        raise ShapeError(
            f"{where}: the batch axis is fixed ({', '.join(s.describe() for s in fixed)}); "
            "Triton batches requests along it",
            fix="export with a dynamic first axis (torch.export Dim / dynamic_axes)",
        )


# -- PyTorch ---------------------------------------------------------------------------------


def _export_torch(
    source: str, target: Path, opset: int, _trust: bool, input_shape: Sequence[int] | None
) -> Exported:
    import torch

    model, args, extra_axes = _load_torch(source, input_shape)
    exportable: Any = model
    if isinstance(model, torch.export.ExportedProgram):
        model = model.module()  # a callable with the program's own (dynamic) shapes
    else:
        model.eval()
    args = tuple(_batch_of_two(a) for a in args)
    names = _input_names(model, len(args))
    dims = {}
    batch = torch.export.Dim("batch", min=1, max=4096)
    for index, axes in extra_axes.items():
        dims[index] = {axis: torch.export.Dim(name) for axis, name in axes.items()}
    shapes = tuple({0: batch, **dims.get(i, {})} for i in range(len(args)))
    try:
        with torch.no_grad():
            sample_out = model(*args)
    except Exception as exc:  # the user's model: any error means the inputs do not fit
        shapes_given = ", ".join(str(tuple(a.shape)) for a in args)
        raise ShapeError(
            f"the model cannot run on inputs of shape {shapes_given}: {_first_line(exc)}",
            fix="check --input-shape (or the example inputs) against what the model expects",
        ) from exc
    count = len(sample_out) if isinstance(sample_out, (tuple, list)) else 1
    outputs_named = ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
    try:
        with _quiet_exporter(), torch.no_grad():
            if isinstance(model, torch.jit.ScriptModule):
                # torch.export cannot read TorchScript: the TorchScript-based exporter can. It
                # may bake the example's batch size into reshapes; validation's batch sizes
                # catch that and fail.
                torch.onnx.export(
                    model,
                    args,
                    str(target),
                    dynamo=False,
                    opset_version=opset,
                    input_names=names,
                    output_names=outputs_named,
                    dynamic_axes={n: {0: "batch"} for n in [*names, *outputs_named]},
                )
            else:
                torch.onnx.export(
                    exportable,
                    args,
                    str(target),
                    dynamo=True,
                    opset_version=opset,
                    input_names=names,
                    output_names=outputs_named,
                    # An ExportedProgram carries the dynamic shapes it was exported with.
                    dynamic_shapes=None if exportable is not model else shapes,
                    external_data=False,
                )
    except Exception as exc:  # the exporter's errors are many; one stage error
        raise ExportError(
            f"torch.onnx could not export the model: {type(exc).__name__}: {_first_line(exc)}",
            fix="an operator may have no ONNX equivalent at this opset; try --opset, or "
            "replace the layer",
        ) from exc
    inputs, outputs = describe(check(target))
    _require_dynamic_batch(inputs, "exported ONNX inputs")

    def reference(feed: Arrays) -> list[np.ndarray]:
        with torch.no_grad():
            result = model(*(torch.from_numpy(feed[n]) for n in names))
        items = result if isinstance(result, (tuple, list)) else [result]
        return [t.detach().numpy() for t in items]

    examples = {n: a.detach().numpy() for n, a in zip(names, args, strict=True)}
    return Exported(target, "torch", inputs, outputs, examples, reference)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's progress lines, warnings and log messages, kept off the user's terminal."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _load_torch(
    source: str, input_shape: Sequence[int] | None
) -> tuple[Any, tuple[Any, ...], dict[int, dict[int, str]]]:
    import torch

    path = Path(source)
    if not path.exists():
        return _from_python(source)
    if path.suffix == ".pt2":
        try:
            program = torch.export.load(str(path))
        except Exception as exc:
            raise ExportError(
                f"{path.name} is not a readable ExportedProgram: {_first_line(exc)}",
                fix="save it with torch.export.save",
            ) from exc
        args, _kwargs = program.example_inputs
        return program, tuple(args), {}
    if not zipfile.is_zipfile(path):
        raise ExportError(
            f"{path.name} is not a TorchScript archive (corrupt or truncated?)",
            fix="save it with torch.jit.save, or pass the right --framework",
        )
    try:
        module = torch.jit.load(str(path))
    except Exception as exc:
        raise ExportError(
            f"{path.name} could not be loaded by torch.jit: {_first_line(exc)}",
            fix="save it with torch.jit.save",
        ) from exc
    if not input_shape:
        raise ShapeError(
            "a TorchScript file does not record its input shape",
            fix="pass --input-shape, e.g. --input-shape 1,16 (batch first)",
        )
    return module, (torch.randn(*input_shape),), {}


def _from_python(spec: str) -> tuple[Any, tuple[Any, ...], dict[int, dict[int, str]]]:
    """`module:function` or `path/to/file.py:function` returning (model, example_inputs) or
    (model, example_inputs, {input_index: {axis: name}}) for dynamic axes beyond the batch."""
    module_name, _, function = spec.rpartition(":")
    if module_name.endswith(".py") and not Path(module_name).is_file():
        # review I11: a missing file was reported with "the function must return ..."
        raise ExportError(
            f"{module_name}: no such file", fix="check the path in MODEL (file.py:function)"
        )
    try:
        if module_name.endswith(".py"):
            loader = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if loader is None or loader.loader is None:
                raise ImportError(module_name)
            module = importlib.util.module_from_spec(loader)
            sys.modules[loader.name] = module
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        if not callable(getattr(module, function, None)):
            raise ExportError(
                f"{module_name} defines no function {function!r}",
                fix=f"define {function}() in {module_name}, returning (model, example_inputs), "
                "or name the one it has after the ':'",
            )
        result = getattr(module, function)()
    except ExportError:
        raise
    except Exception as exc:  # the user's code; report its error
        raise ExportError(
            f"--from-python {spec} failed: {type(exc).__name__}: {exc}",
            fix="the function must return (model, example_inputs)",
        ) from exc
    if not isinstance(result, tuple) or len(result) not in (2, 3):
        raise ExportError(
            f"{spec} returned {type(result).__name__}",
            fix="return (model, example_inputs[, dynamic_axes])",
        )
    model, args = result[0], result[1]
    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
    return model, args, dict(result[2]) if len(result) == 3 else {}


def _batch_of_two(tensor: Any) -> Any:
    """torch.export specialises a size-1 axis; export from a batch of two instead."""
    import torch

    return torch.cat([tensor, tensor]) if tensor.shape[0] == 1 else tensor


def _input_names(model: Any, count: int) -> list[str]:
    import inspect

    try:
        params = [p for p in inspect.signature(model.forward).parameters if p != "self"]
    except (TypeError, ValueError):
        params = []
    return params[:count] if len(params) >= count else [f"input_{i}" for i in range(count)]


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return (text.splitlines() or [""])[0][:300]


# -- scikit-learn ----------------------------------------------------------------------------


def _export_sklearn(
    source: str, target: Path, opset: int, trust_pickle: bool, _shape: Sequence[int] | None
) -> Exported:
    if not trust_pickle:
        raise UnsafeInputError(
            f"{Path(source).name} is a pickle: loading it runs code the file contains",
            fix="pass --trust-pickle only if you trust whoever produced the file",
        )
    import joblib
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier

    try:
        model = joblib.load(source)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
        AttributeError,
        ModuleNotFoundError,
    ) as exc:
        raise ExportError(
            f"{Path(source).name} could not be unpickled: {_first_line(exc)}",
            fix="check the file is a complete joblib/pickle dump",
        ) from exc
    features = getattr(model, "n_features_in_", None)
    if not hasattr(model, "predict") or features is None:
        raise ExportError(
            f"{Path(source).name} holds a {type(model).__name__}, not a fitted "
            "scikit-learn estimator",
            fix="pass a fitted estimator or pipeline",
        )
    classifier = bool(is_classifier(model))
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    try:
        onx = to_onnx(
            model,
            initial_types=[("input", FloatTensorType([None, int(features)]))],
            target_opset={"": opset, "ai.onnx.ml": 3},
            options={id(final): {"zipmap": False}} if classifier else None,
        )
    except Exception as exc:  # skl2onnx raises many types
        raise ExportError(
            f"skl2onnx cannot convert {type(final).__name__}: {_first_line(exc)}",
            fix="use an estimator skl2onnx supports",
        ) from exc
    target.write_bytes(onx.SerializeToString())
    inputs, outputs = describe(check(target))

    def reference(feed: Arrays) -> list[np.ndarray]:
        x = feed["input"]
        if classifier:
            return [model.predict(x), model.predict_proba(x).astype(np.float32)]
        return [model.predict(x).astype(np.float32).reshape(len(x), -1)]

    rng = np.random.default_rng(0)
    examples = {"input": rng.standard_normal((2, int(features))).astype(np.float32)}
    return Exported(target, "sklearn", inputs, outputs, examples, reference, classifier)


# -- ONNX ------------------------------------------------------------------------------------


def _export_onnx(
    source: str, target: Path, _opset: int, _trust: bool, _shape: Sequence[int] | None
) -> Exported:
    shutil.copyfile(source, target)
    inputs, outputs = describe(check(target))
    _require_dynamic_batch(inputs, Path(source).name)
    rng = np.random.default_rng(0)
    examples = {}
    for spec in inputs:
        shape = [2, *(d if isinstance(d, int) else 3 for d in spec.shape[1:])]
        dtype = np.dtype(spec.dtype)
        examples[spec.name] = (
            rng.standard_normal(shape).astype(dtype)
            if dtype.kind == "f"
            else rng.integers(0, 2, shape).astype(dtype)
        )
    return Exported(target, "onnx", inputs, outputs, examples, None)


Exporter = Callable[[str, Path, int, bool, Sequence[int] | None], Exported]
EXPORTERS: dict[str, Exporter] = {
    "torch": _export_torch,
    "sklearn": _export_sklearn,
    "onnx": _export_onnx,
}
