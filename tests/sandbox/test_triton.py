"""The sandbox's Triton: a model that fails to load (poll mode, as planned) is reported with the
server's log tail at once;
the server's environment is built, not inherited, so no stack key reaches it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbooks.targets.sandbox_setup import TRITON_ENV
from sandbox.errors import SandboxError
from sandbox.planned import PlannedTriton, Ports, sandbox_command
from sandbox.processes import free_port, pid_alive
from sandbox.triton import (
    TritonServer,
    child_env,
    prepare_backends,
    python_model,
    triton_install,
)

SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLESTACKKEY0",
    "AWS_SECRET_ACCESS_KEY": "stack-secret",
    "AWS_SESSION_TOKEN": "session",
    "AZURE_STORAGE_KEY": "azure-secret",
    "AZURE_CLIENT_SECRET": "azure-client-secret",
    "GOOGLE_APPLICATION_CREDENTIALS": "/tmp/key.json",
}


def test_triton_env_keeps_paths_and_locale_and_drops_every_credential() -> None:
    install = triton_install()
    env = child_env(install, {**SECRETS, "PATH": "/usr/bin", "LANG": "C.UTF-8", "OTHER": "x"})
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "C.UTF-8"
    assert str(install.libs) in env["LD_LIBRARY_PATH"].split(":")
    assert set(env) == {"PATH", "LANG", "LD_LIBRARY_PATH"}


def test_triton_holds_no_stack_key_and_a_failed_load_shows_the_log_tail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRETS.items():  # what publish/fetch hold while a Triton starts
        monkeypatch.setenv(name, value)
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
    install = triton_install()
    planned = PlannedTriton(
        stack="test",
        args=(
            "tritonserver",
            "--model-repository=/models",
            "--model-control-mode=poll",
            "--exit-on-error=false",
        ),
        env={},
        secret_env=(),
        store_uri="gs://test",
        identity={},
    )
    server = TritonServer(tmp_path / "server", free_port())
    command = sandbox_command(
        planned,
        binary=install.binary,
        backends=prepare_backends(install, tmp_path / "backends"),
        ports=Ports(server.http_port, free_port(), free_port()),
        repository=str(repository),
        env={},
    )
    pid = server.start(command.argv, child_env(install, os.environ))
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
        assert not names & set(SECRETS), "a stack key reached Triton"
        assert "PATH" in names
        with pytest.raises(SandboxError) as caught:  # poll mode loads before it listens
            server.wait_live()
            server.wait_ready(["/v2/models/broken/ready"], timeout_s=60)
        assert "failed to load 'broken'" in caught.value.cause
        assert server.process is not None and server.process.poll() is None  # still up
    finally:
        server.stop()
    assert not pid_alive(pid)
