"""Reference answers: seeded inputs and the original framework's outputs for them, as KServe v2
request/response pairs with the package's tolerances (`reference.json`, beside `parity.json`).

`exitplan load` checks every answer of a served model against them, so a stack that serves the
wrong model, version or numbers fails requests of kind `wrong_answer`. The file stays out of
the OCI image: its numbers come from the build machine's kernels, and the image's digest must
not depend on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the load generator imports the codec below without ONNX or ONNX Runtime
    from model_packaging.export import Exported

REFERENCE = "reference.json"
FORMAT = 1
CASES = 8  # single-row requests: the load generator sends them in turn
SEED = 1  # not validate's seed: the answers are checked on rows parity did not pick
# numpy dtype name -> KServe v2 datatype (the "Tensor Data Types" table of the KServe v2
# protocol: https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol).
KSERVE_TYPES: dict[str, str] = {
    **{f"float{bits}": f"FP{bits}" for bits in (16, 32, 64)},
    **{f"int{bits}": f"INT{bits}" for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": f"UINT{bits}" for bits in (8, 16, 32, 64)},
    "bool": "BOOL",
}


def kserve_tensor(name: str, value: np.ndarray) -> dict[str, Any]:
    """One KServe v2 JSON tensor (`name`, `shape`, `datatype`, row-major `data`); strings are
    BYTES; a dtype KServe has no type for is a ValueError naming the tensor."""
    array = np.asarray(value)
    if array.dtype.kind in "UO":
        datatype, data = "BYTES", [str(v) for v in array.reshape(-1)]
    else:
        datatype = KSERVE_TYPES.get(array.dtype.name, "")
        if not datatype:
            raise ValueError(f"tensor {name!r}: unsupported dtype {array.dtype} for KServe v2")
        data = array.reshape(-1).tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


@dataclass(frozen=True)
class ReferenceAnswers:
    """`reference.json`: the model's name and version, the tolerances, and request/response
    pairs whose responses are what the original framework answered."""

    model_name: str
    model_version: str
    framework: str
    atol: float
    rtol: float
    pairs: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            "format": FORMAT,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "framework": self.framework,
            "atol": self.atol,
            "rtol": self.rtol,
            "seed": SEED,
            "pairs": list(self.pairs),
        }


def reference_answers(
    exported: Exported, *, name: str, version: str, atol: float, rtol: float
) -> ReferenceAnswers:
    """`CASES` seeded single-row requests and the original's answers to them (an ONNX file
    passed through has no original: ONNX Runtime's, row by row)."""
    from model_packaging.validate import original_outputs, sample

    feed = sample(exported.examples, CASES, np.random.default_rng(SEED))
    outputs = [np.asarray(v) for v in original_outputs(exported, feed)]
    names = [spec.name for spec in exported.outputs]
    pairs = tuple(
        {
            "request": {"inputs": [kserve_tensor(k, v[i : i + 1]) for k, v in feed.items()]},
            "response": {
                "model_name": name,
                "model_version": version,
                "outputs": [
                    kserve_tensor(k, v[i : i + 1]) for k, v in zip(names, outputs, strict=True)
                ],
            },
        }
        for i in range(CASES)
    )
    return ReferenceAnswers(name, version, exported.framework, atol, rtol, pairs)


def write_reference(answers: ReferenceAnswers, path: Path) -> None:
    """Write `reference.json`."""
    path.write_text(json.dumps(answers.as_dict(), indent=1, allow_nan=False) + "\n")
