"""KServe v2 (Triton's HTTP protocol): request bodies from numpy arrays, and the reference
answers a package records (`reference.json`, `model_packaging/reference.py`) as ready-to-send
bodies with the answers expected back, precomputed so that checking one costs a JSON parse and
one numpy comparison."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_packaging.reference import KSERVE_TYPES, kserve_tensor
from runbooks.errors import RunbookError

DATATYPES = KSERVE_TYPES


def infer_body(inputs: Mapping[str, np.ndarray]) -> bytes:
    """The JSON body of an infer request with the named input arrays."""
    tensors = []
    for name, value in inputs.items():
        array = np.asarray(value)
        if array.dtype.name not in DATATYPES:
            raise ValueError(f"input {name!r}: unsupported dtype {array.dtype} for KServe v2")
        tensors.append(kserve_tensor(name, array))
    try:
        return json.dumps({"inputs": tensors}, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise ValueError(f"inputs cannot be encoded as JSON: {exc}") from exc


@dataclass(frozen=True)
class ExpectedOutput:
    """One output of a reference answer: numbers within `tolerance` of `numbers` (float
    outputs), or exactly `labels` (integer, boolean and string outputs)."""

    name: str
    size: int
    numbers: np.ndarray | None = None
    tolerance: np.ndarray | None = None
    labels: tuple[str, ...] = ()

    def matches(self, data: Any) -> bool:
        """Whether a response tensor's `data` is this answer."""
        if not isinstance(data, list) or len(data) != self.size:
            return False
        if self.numbers is None:
            return tuple(str(v) for v in data) == self.labels
        try:
            values = np.asarray(data, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return bool((np.abs(values - self.numbers) <= self.tolerance).all())  # NaN: False


@dataclass(frozen=True)
class ExpectedAnswer:
    """What a correct response to one reference request holds: the model's name and version
    and every output."""

    model_name: str
    model_version: str
    outputs: tuple[ExpectedOutput, ...]

    def matches(self, body: bytes) -> bool:
        """Whether a response body is this answer (anything unreadable is not)."""
        try:
            document = json.loads(body)
        except ValueError:
            return False
        if not isinstance(document, dict) or document.get("model_name") != self.model_name:
            return False
        if document.get("model_version", self.model_version) != self.model_version:
            return False
        tensors = document.get("outputs")
        if not isinstance(tensors, list):
            return False
        got = {t.get("name"): t.get("data") for t in tensors if isinstance(t, dict)}
        return all(output.matches(got.get(output.name)) for output in self.outputs)


@dataclass(frozen=True)
class ReferenceCase:
    """One reference request (its body, ready to send) and the answer expected back."""

    body: bytes
    expected: ExpectedAnswer


def _expected_output(tensor: Mapping[str, Any], atol: float, rtol: float) -> ExpectedOutput:
    data = tensor["data"]
    if tensor["datatype"].startswith("FP"):
        numbers = np.asarray(data, dtype=np.float64)
        return ExpectedOutput(tensor["name"], len(data), numbers, atol + rtol * np.abs(numbers))
    return ExpectedOutput(tensor["name"], len(data), labels=tuple(str(v) for v in data))


def reference_cases(document: Mapping[str, Any]) -> tuple[str, list[ReferenceCase]]:
    """The model name and the cases of a `reference.json` document (KeyError, TypeError or
    ValueError when it is not one)."""
    atol, rtol = float(document["atol"]), float(document["rtol"])
    cases = []
    for pair in document["pairs"]:
        response = pair["response"]
        expected = ExpectedAnswer(
            str(response["model_name"]),
            str(response["model_version"]),
            tuple(_expected_output(t, atol, rtol) for t in response["outputs"]),
        )
        body = {"inputs": pair["request"]["inputs"]}
        encoded = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        cases.append(ReferenceCase(encoded, expected))
    if not cases:
        raise ValueError("it holds no request/response pairs")
    return str(document["model_name"]), cases


def read_reference(path: Path) -> tuple[str, list[ReferenceCase]]:
    """`reference_cases` of a file; a missing or malformed file is bad input."""
    fix = "pass the reference.json that exitplan package wrote beside parity.json"
    try:
        return reference_cases(json.loads(path.read_text()))
    except FileNotFoundError:
        raise RunbookError(f"no reference answers at {path}", fix=fix) from None
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise RunbookError(f"{path} is not a reference.json: {exc!r}", fix=fix) from None
