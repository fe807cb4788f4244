"""The sandbox's Triton: a model that fails to load is reported with the server's log tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.targets.sandbox_setup import TRITON_ENV
from sandbox.errors import SandboxError
from sandbox.processes import free_port, pid_alive
from sandbox.triton import TritonServer, python_model, server_metadata, triton_install


def test_a_model_that_fails_to_load_shows_the_log_tail(tmp_path: Path) -> None:
    packaged = tmp_path / "packaged" / "broken"
    (packaged / "1").mkdir(parents=True)
    (packaged / "config.pbtxt").write_text(
        'name: "broken"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 4\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
        "instance_group [ { count: 1 kind: KIND_GPU } ]\n"
    )
    (packaged / "1" / "model.onnx").write_bytes(b"this is not an ONNX file")
    repository = tmp_path / "repository"
    python_model(packaged, repository, TRITON_ENV)
    assert 'backend: "python"' in (repository / "broken" / "config.pbtxt").read_text()
    server = TritonServer(tmp_path / "server", repository, free_port(), TRITON_ENV)
    pid = server.start(triton_install())
    try:
        server.wait_live()
        assert server_metadata(server.endpoint)["name"] == "triton"
        with pytest.raises(SandboxError) as caught:
            server.load("broken", timeout_s=60)
        assert "failed to load broken" in caught.value.cause
        assert "tritonserver" in caught.value.cause or "model" in caught.value.cause
    finally:
        server.stop()
    assert not pid_alive(pid)
