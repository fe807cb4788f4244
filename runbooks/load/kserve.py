"""KServe v2 (Triton's HTTP protocol) request bodies from numpy arrays."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

DATATYPES: dict[str, str] = {
    **{f"float{bits}": f"FP{bits}" for bits in (16, 32, 64)},
    **{f"int{bits}": f"INT{bits}" for bits in (8, 16, 32, 64)},
    **{f"uint{bits}": f"UINT{bits}" for bits in (8, 16, 32, 64)},
    "bool": "BOOL",
}


def infer_body(inputs: Mapping[str, np.ndarray]) -> bytes:
    """The JSON body of an infer request with the named input arrays."""
    tensors = []
    for name, value in inputs.items():
        array = np.asarray(value)
        datatype = DATATYPES.get(array.dtype.name)
        if datatype is None:
            raise ValueError(f"input {name!r}: unsupported dtype {array.dtype} for KServe v2")
        tensors.append(
            {
                "name": name,
                "shape": list(array.shape),
                "datatype": datatype,
                "data": array.reshape(-1).tolist(),
            }
        )
    try:
        return json.dumps({"inputs": tensors}, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise ValueError(f"inputs cannot be encoded as JSON: {exc}") from exc
