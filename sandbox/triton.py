"""A real NVIDIA Triton server per sandbox stack, on the CPU.

The `nvidia-pytriton` wheel ships `tritonserver` 2.51 with the python backend. Production
stacks serve the packaged repository with the onnxruntime backend; the wheel has none, so the
sandbox serves the same ONNX file through a python-backend model that runs it with ONNX Runtime
(`python_model`), with the same inputs, outputs and batching.

Facts this module is built on (seen here):
- the binary is `pytriton/tritonserver/bin/tritonserver`; `LD_LIBRARY_PATH` needs the wheel's
  `nvidia_pytriton.libs` and the interpreter's libpython directory;
- the python backend is copied into a backend folder of our own with the stub for our Python
  version from `python_backend_stubs/<major.minor>/`;
- the stub ignores PYTHONPATH and imports numpy from the interpreter's own site-packages; with
  numpy 2 every response fails ("output tensor shape does not match size of output"), so models
  run in `EXECUTION_ENV_PATH`, a venv with numpy < 2 (`make bootstrap` builds it);
- it binds every address unless told `--http-address=127.0.0.1`; CUDA warnings on a CPU
  machine are harmless; SIGTERM takes over 3 s.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.catalog.clouds import triton_wire
from sandbox.errors import SandboxError
from sandbox.processes import stop_process

# What Triton and its python-backend stubs take from the sandbox's environment. The backend
# starts a stub with execvp("bash") sourcing <EXECUTION_ENV_PATH>/bin/activate (both strings
# are in libtriton_python.so 2.51), so PATH; Python reads HOME, the locale and TMPDIR.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
# KServe v2 datatypes by numpy kind (FP32, INT64, ...): what `example_inputs` makes. The load
# client has the full codec (runbooks/load/kserve.py); the sandbox may not import it.
KSERVE_KINDS = {"f": "FP", "i": "INT", "u": "UINT"}
MODEL_PY = '''"""Serves {name} with ONNX Runtime in Triton's python backend (made by exitplan)."""

import json
import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        here = os.path.join(args["model_repository"], args["model_version"])
        self.session = ort.InferenceSession(
            os.path.join(here, "model.onnx"), providers=["CPUExecutionProvider"]
        )
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [o["name"] for o in config["output"]]

    def execute(self, requests):
        responses = []
        for request in requests:
            feed = {{
                n: pb_utils.get_input_tensor_by_name(request, n).as_numpy() for n in self.inputs
            }}
            results = self.session.run(self.outputs, feed)
            tensors = [
                pb_utils.Tensor(n, np.ascontiguousarray(r)) for n, r in zip(self.outputs, results)
            ]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
'''


@dataclass(frozen=True)
class TritonInstall:
    """Where the wheel put the server, its libraries, the python backend and its stubs."""

    binary: Path
    libs: Path
    python_backend: Path
    stub_dir: Path


def triton_install() -> TritonInstall:
    """Locate tritonserver in the `nvidia-pytriton` wheel (installed by `make bootstrap`)."""
    import pytriton

    root = Path(pytriton.__file__).parent / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    install = TritonInstall(
        binary=root / "bin" / "tritonserver",
        libs=Path(pytriton.__file__).parents[1] / "nvidia_pytriton.libs",
        python_backend=root / "backends" / "python",
        stub_dir=root / "python_backend_stubs" / version,
    )
    for path in (install.binary, install.libs, install.python_backend, install.stub_dir):
        if not path.exists():
            raise SandboxError(f"{path} is missing", fix="run make bootstrap (nvidia-pytriton)")
    return install


def prepare_backends(install: TritonInstall, folder: Path) -> Path:
    """A backend folder with the python backend and the stub for this Python version."""
    target = folder / "python"
    if not (target / "triton_python_backend_stub").exists():
        shutil.copytree(install.python_backend, target, dirs_exist_ok=True)
        shutil.copytree(install.stub_dir, target, dirs_exist_ok=True)
    return folder


def python_model(packaged: Path, repository: Path, env: Path) -> Path:
    """Turn a packaged model folder (`config.pbtxt`, `<version>/model.onnx`) into the same
    model served by the python backend on the CPU, in `repository/<name>`."""
    name = packaged.name
    target = repository / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(packaged, target, ignore=shutil.ignore_patterns("configs"))
    config = (target / "config.pbtxt").read_text()
    config = config.replace('platform: "onnxruntime_onnx"', 'backend: "python"')
    config = config.replace("KIND_GPU", "KIND_CPU")
    config += (
        'parameters: { key: "EXECUTION_ENV_PATH", '
        f'value: {{ string_value: "{env.resolve()}" }} }}\n'
    )
    (target / "config.pbtxt").write_text(config)
    for version in (p for p in target.iterdir() if p.is_dir() and p.name.isdigit()):
        (version / "model.py").write_text(MODEL_PY.format(name=name))
    return target


def child_env(install: TritonInstall, parent: Mapping[str, str]) -> dict[str, str]:
    """Triton's whole environment, built rather than inherited: the library path it needs and
    the few locale/path variables of `parent` in `INHERITED`. Nothing else passes, so no stack
    key or operator credential (AWS_*, AZURE_*, GOOGLE_*: the sandbox publishes and fetches
    models with keys in its own environment) shows in /proc/<triton>/environ or reaches the
    python-backend stubs; the sandbox's Triton serves a local repository and needs none."""
    libpython = sysconfig.get_config_var("LIBDIR") or ""
    env = {name: parent[name] for name in INHERITED if name in parent}
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(install.libs), libpython]))
    return env


class TritonServer:
    """One tritonserver process run from its stack's planned command line
    (`sandbox.planned.sandbox_command`): start, readiness as the planned probe asks for it,
    and stop (faults are the target's: `SandboxTarget.hang/resume/kill`)."""

    def __init__(self, workdir: Path, http_port: int) -> None:
        self.workdir = workdir
        self.http_port = http_port
        self.log = workdir / "tritonserver.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_offset = 0  # where this start's lines begin in the (appended) log

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, argv: Sequence[str], env: Mapping[str, str]) -> int:
        """Start `argv` with exactly `env` (built, never inherited: `child_env`); its pid."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.log_offset = log.tell()
            self.process = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, env=dict(env),
                start_new_session=True,
            )  # fmt: skip
        return self.process.pid

    def wait_live(self, timeout_s: float = 60) -> None:
        """Until the HTTP endpoint answers (the server is up, models may not be loaded)."""
        self._wait(lambda: _status(f"{self.endpoint}/v2/health/live") == 200, timeout_s, "start")

    def wait_ready(self, paths: Sequence[str], timeout_s: float = 120) -> None:
        """Until every path of the planned readiness probe answers 200 on this server (its
        models loaded from the repository at start, as poll mode does)."""
        self._wait(
            lambda: self.answers(paths), timeout_s, "become ready (" + ", ".join(paths) + ")"
        )

    def answers(self, paths: Sequence[str]) -> bool:
        """Whether every path (of the planned readiness probe) answers 200 now."""
        return all(_status(f"{self.endpoint}{p}") == 200 for p in paths)

    def ready(self) -> bool:
        """Whether `/v2/health/ready` answers 200 (every loaded model ready)."""
        return _status(f"{self.endpoint}{triton_wire().ready_path}") == 200

    def _wait(self, check: object, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                failed = start_failure(self.log, self.log_offset)
                raise SandboxError(
                    f"tritonserver exited ({self.process.returncode}) before it could {what}"
                    + (f": {failed}" if failed else "")
                    + f"\n{self.log_tail()}"
                )
            if check():  # type: ignore[operator]
                return
            if failed := start_failure(self.log, self.log_offset):
                raise SandboxError(f"tritonserver could not {what}: {failed}\n{self.log_tail()}")
            time.sleep(0.1)
        raise SandboxError(f"tritonserver did not {what} within {timeout_s:g} s\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the server's log (ANSI and table noise removed)."""
        return log_tail(self.log, lines)

    def stop(self) -> None:
        """SIGTERM (resuming a paused server first), then SIGKILL after a grace period."""
        if self.process is None or self.process.poll() is not None:
            return
        stop_process(self.process.pid)
        self.process.poll()


# Error lines after which a starting server never gets ready by itself: its repository
# manager failed (tritonserver.cc: the server runs on, serving nothing) or a model failed to
# load (model_lifecycle.cc: retried only at the next poll, with the same files).
START_FAILURE = re.compile(
    r"^E\d{4} [\d:.]+ +\d+ (?:tritonserver\.cc|model_lifecycle\.cc|model_repository_manager"
    r'\.cc):\d+\] "?(.*?)"?$',
    re.MULTILINE,
)


# What tritonserver prints (then its usage, and exits 1) for an option it does not know.
REJECTED_OPTION = re.compile(r"unrecognized option '[^']*'|option '[^']*' requires an argument")


def start_failure(log: Path, offset: int = 0) -> str:
    """The first error in a Triton log (from `offset`) after which it cannot get ready: an
    option it rejected, a repository it cannot open, a model it cannot load; or ""."""
    if not log.exists():
        return ""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    if rejected := REJECTED_OPTION.search(text):
        return rejected.group(0)
    found = START_FAILURE.search(text)
    return found.group(1) if found else ""


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log (blank lines and Triton's option and model tables left out)."""
    if not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()
    kept = [line for line in text if line.strip() and not re.match(r"^[+|]", line)]
    return "\n".join(kept[-lines:])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def server_metadata(endpoint: str) -> dict[str, object]:
    """`GET /v2`: Triton's server metadata (name, version, extensions)."""
    with urllib.request.urlopen(f"{endpoint}/v2", timeout=2) as response:
        return dict(json.loads(response.read()))


def example_inputs(onnx_path: Path, seed: int = 0) -> dict[str, Any]:
    """One row of valid inputs for a model (random floats, zero integers), from its ONNX
    graph: dynamic axes other than the batch get size 1."""
    import numpy as np
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    rng = np.random.default_rng(seed)
    inputs: dict[str, Any] = {}
    for value in (v for v in graph.input if v.name not in initializers):
        tensor = value.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim]
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        shape = (1, *dims[1:])
        inputs[value.name] = (
            rng.standard_normal(shape).astype(dtype)
            if dtype.kind == "f"
            else np.zeros(shape, dtype)
        )
    return inputs


def baseline_p99_ms(endpoint: str, model: str, onnx_path: Path, requests: int = 40) -> float:
    """p99 latency (ms) of single-row inferences, sequentially, straight to one Triton: the
    baseline the front door's server timeout is derived from."""
    import numpy as np

    body = _infer_body(example_inputs(onnx_path))
    url = f"{endpoint}/v2/models/{model}/infer"
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
            r.read()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 99))


def checked_answer(endpoint: str, model: str, onnx_path: Path) -> str:
    """ "checked" when the server's answer to one row of example inputs matches ONNX Runtime's
    on the packaged file (rtol 1e-4, atol 1e-5); else what was wrong."""
    import numpy as np
    import onnxruntime as ort

    inputs = example_inputs(onnx_path, seed=1)
    url = f"{endpoint}/v2/models/{model}/infer"
    try:
        request = urllib.request.Request(url, data=_infer_body(inputs))
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError) as exc:
        return f"no answer from {url}: {exc}"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(None, inputs)
    served = {o["name"]: o for o in answer.get("outputs", [])}
    for output, want in zip(session.get_outputs(), expected, strict=True):
        if output.name not in served:
            return f"the answer has no output {output.name!r}"
        got = np.asarray(served[output.name]["data"], dtype=want.dtype).reshape(want.shape)
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            worst = float(np.max(np.abs(got - want)))
            return f"output {output.name!r} differs from ONNX Runtime's by up to {worst:.3g}"
    return "checked"


def _infer_body(inputs: dict[str, Any]) -> bytes:
    """The KServe v2 JSON body of one infer request with these (numeric) input arrays."""
    tensors = [
        {
            "name": name,
            "shape": list(array.shape),
            "datatype": _datatype(array),
            "data": array.reshape(-1).tolist(),
        }
        for name, array in inputs.items()
    ]
    return json.dumps({"inputs": tensors}, separators=(",", ":")).encode()


def _datatype(array: Any) -> str:
    if array.dtype.kind == "b":
        return "BOOL"
    if array.dtype.kind not in KSERVE_KINDS:
        raise SandboxError(f"input dtype {array.dtype} has no KServe v2 datatype")
    return f"{KSERVE_KINDS[array.dtype.kind]}{array.dtype.itemsize * 8}"
