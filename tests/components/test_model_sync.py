"""The model-sync sidecar's script, run for real by `sh` (review J3): it waits for a published
model, starts Triton only after a copy found one, moves only what changed, and picks up a later
version. The planned paths are moved under a temporary folder; the copy command stands in for
the cloud CLI (`cp` from a folder playing the store)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components import model_sync
from components.providers.base import SYNC_MOUNT, ModelFetch
from sandbox import planned
from sandbox.planned import PlannedCopy


class Sidecar:
    """The sidecar's loop running over `root` (its /sync and /tmp), copying from `store`."""

    def __init__(self, root: Path) -> None:
        self.store = root / "store"
        self.sync = root / "sync"
        self.marker = root / "tmp" / "models-synced"
        self.repository = self.sync / model_sync.REPOSITORY_SUBPATH
        self.store.mkdir()
        self.marker.parent.mkdir()
        script = model_sync.SCRIPT.replace(model_sync.SYNCED_MARKER, str(self.marker)).replace(
            SYNC_MOUNT, str(self.sync)
        )
        copy = f'[ ! -f "{root}/copy-fails" ] && cp -R "{self.store}/." "{self.sync}/staging"'
        env = {**os.environ, "MODEL_SYNC_SECS": "0.2", "MODEL_WAIT_SECS": "0.1"}
        self.log = root / "sidecar.log"
        self.process = subprocess.Popen(
            ["sh", "-c", script, model_sync.CONTAINER, "sh", "-c", copy],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def publish(self, relative: str, text: str) -> None:
        path = self.store / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Sidecar]:
    running = Sidecar(tmp_path)
    try:
        yield running
    finally:
        running.process.kill()
        running.process.wait(timeout=10)


def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_sidecar_waits_for_a_model_then_keeps_the_copy_in_step(sidecar: Sidecar) -> None:
    time.sleep(0.5)  # several rounds over an empty store (the first deploy's order)
    assert sidecar.process.poll() is None
    assert not sidecar.marker.exists(), "Triton must not start on an empty repository"
    assert not any(sidecar.repository.iterdir())
    sidecar.publish("demo/1/model.onnx", "weights v1")
    sidecar.publish("demo/config.pbtxt", "versions [1]")
    wait_for(sidecar.marker.exists)
    assert (sidecar.repository / "demo" / "1" / "model.onnx").read_text() == "weights v1"
    weights = sidecar.repository / "demo" / "1" / "model.onnx"
    first = weights.stat().st_mtime_ns
    # A later version reaches the repository; unchanged files are not rewritten (Triton's poll
    # would reload a model whose files changed).
    sidecar.publish("demo/2/model.onnx", "weights v2")
    sidecar.publish("demo/config.pbtxt", "versions [2]")
    config = sidecar.repository / "demo" / "config.pbtxt"
    wait_for(lambda: config.read_text() == "versions [2]")
    assert (sidecar.repository / "demo" / "2" / "model.onnx").read_text() == "weights v2"
    assert weights.stat().st_mtime_ns == first
    assert not list(sidecar.repository.rglob("*.part"))


def test_a_failing_copy_is_retried_and_says_so(sidecar: Sidecar, tmp_path: Path) -> None:
    (tmp_path / "copy-fails").touch()
    sidecar.publish("demo/config.pbtxt", "versions [1]")
    wait_for(lambda: "the copy failed" in sidecar.log.read_text())
    assert not sidecar.marker.exists() and sidecar.process.poll() is None
    (tmp_path / "copy-fails").unlink()
    wait_for(sidecar.marker.exists)
    assert (sidecar.repository / "demo" / "config.pbtxt").read_text() == "versions [1]"


def test_config_files_are_placed_after_the_weights() -> None:
    """Triton's poll sees a changed config.pbtxt only after the files it names."""
    script = model_sync.SCRIPT
    assert script.index("! -name config.pbtxt") < script.index("-type f -name config.pbtxt")


def test_the_sandbox_finds_the_copy_command_after_the_sidecars_name() -> None:
    fetch = ModelFetch(image="cli:1", command=["gcloud", "storage", "rsync", "gs://b", "/x"])
    sidecar = model_sync.sync_sidecar(fetch, [], {})
    copy = PlannedCopy(fetch.image, tuple(sidecar["command"]), sync_every_s=60.0)
    assert planned.SYNC_CONTAINER == model_sync.CONTAINER
    assert (
        planned.copy_substitution(copy).planned
    ) == "cli:1: gcloud storage rsync gs://b /x (sidecar, every 60 s)"
