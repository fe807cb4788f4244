"""Progress on long work (issue 13, item 4): rich bars on a terminal with bytes, steps and the
time left; plain lines when stderr is not a terminal; nothing with --json; and the library
stages (image build, publish) report their bytes through the UI-free protocol."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from model_packaging import publish as publishing
from model_packaging.image import build_image
from model_packaging.package import PackageOptions, PackageResult
from model_packaging.progress import SILENT, Lines, Progress, reporter
from runbooks.cli import main
from runbooks.progress import Bars, Log, display

CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Recorder:
    """A `Progress` that keeps every call, for the library stages' tests."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, message: str) -> None:
        self.calls.append(("line", message))

    def stage(
        self, name: str, message: str = "", *, total: float | None = None, unit: str = ""
    ) -> None:
        self.calls.append(("stage", name, total, unit))

    def advance(self, amount: float = 1) -> None:
        self.calls.append(("advance", amount))

    def done(self) -> None:
        self.calls.append(("done",))

    def advanced(self) -> float:
        return sum(call[1] for call in self.calls if call[0] == "advance")

    def stages(self) -> list[tuple[Any, ...]]:
        return [call[1:] for call in self.calls if call[0] == "stage"]


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=100, color_system=None), buffer


def plain(text: str) -> str:
    return CONTROL.sub("", text)


def fake_long_work(progress: Progress, *, fail_in_drill: bool = False) -> None:
    """Stages as packaging, the sandbox and a drill report them, in no time."""
    progress.stage("export", "model.pt (torch)")
    progress.stage("publish", "aws-primary: s3://models", total=3_000_000, unit="bytes")
    progress("uploading m/1/model.onnx")
    progress.advance(1_000_000)
    if isinstance(progress, Bars):
        progress.rows.refresh()  # what rich's refresh thread does several times a second
    progress.advance(2_000_000)
    progress.stage("sandbox up", "2 stacks", total=9, unit="steps")
    for _ in range(9):
        progress.advance()
    progress.stage("drill", "aws-primary -> gcp-standby", total=30, unit="s")
    progress("baseline: 5 s at 200 req/s")
    progress.advance(12)
    if isinstance(progress, Bars):
        progress.rows.refresh()
    if fail_in_drill:
        raise RuntimeError("gate at 10% failed")
    progress.advance(18)


def test_bars_on_a_terminal_show_bytes_steps_and_the_time_left() -> None:
    shown, buffer = console(terminal=True)
    with display(enabled=True, console=shown) as progress:
        assert isinstance(progress, Bars)
        fake_long_work(progress)
    raw = buffer.getvalue()
    text = plain(raw)
    assert CONTROL.search(raw), "a live display redraws with control sequences"
    assert "1.0/3.0 MB" in text  # mid-upload
    assert "12/30 s" in text and "0:00:18 left" in text  # the drill's plan, mid-way
    final = text.rsplit("✓ export", 1)[1]  # the rows as they stay when the work is over
    assert "✓ publish" in final and "3.0/3.0 MB" in final
    assert "✓ sandbox up" in final and "9/9 steps" in final
    assert "✓ drill" in final and "30/30 s" in final and "left" not in final
    # the log's lines print above the rows, whole
    assert "• publish: aws-primary: s3://models" in text
    assert "  uploading m/1/model.onnx" in text


def test_a_failing_stage_is_marked_where_it_stopped_and_the_error_goes_on() -> None:
    shown, buffer = console(terminal=True)
    with (
        pytest.raises(RuntimeError, match="gate at 10% failed"),
        display(enabled=True, console=shown) as progress,
    ):
        fake_long_work(progress, fail_in_drill=True)
    final = plain(buffer.getvalue()).rsplit("✓ export", 1)[1]
    assert "✗ drill" in final and "12/30 s" in final
    assert "✓ drill" not in final


def test_no_terminal_gives_one_plain_line_per_stage_and_message() -> None:
    shown, buffer = console(terminal=False)
    with display(enabled=True, console=shown) as progress:
        assert isinstance(progress, Log) and not isinstance(progress, Bars)
        fake_long_work(progress)
    assert buffer.getvalue().splitlines() == [
        "• export: model.pt (torch)",
        "• publish: aws-primary: s3://models",
        "  uploading m/1/model.onnx",
        "• sandbox up: 2 stacks",
        "• drill: aws-primary -> gcp-standby",
        "  baseline: 5 s at 200 req/s",
    ]


def test_disabled_display_prints_nothing() -> None:
    shown, buffer = console(terminal=True)
    with display(enabled=False, console=shown) as progress:
        fake_long_work(progress)
    assert buffer.getvalue() == ""


def test_a_line_callback_is_a_reporter() -> None:
    said: list[str] = []
    progress = reporter(said.append)
    assert isinstance(progress, Lines)
    fake_long_work(progress)
    assert said[:3] == [
        "export: model.pt (torch)",
        "publish: aws-primary: s3://models",
        "uploading m/1/model.onnx",
    ]
    assert reporter(None) is SILENT
    recorder = Recorder()
    assert reporter(recorder) is recorder


def _repository(root: Path, size: int) -> Path:
    model = root / "repository" / "m"
    (model / "1").mkdir(parents=True)
    (model / "config.pbtxt").write_text('name: "m"\n')
    (model / "1" / "model.onnx").write_bytes(bytes(range(256)) * (size // 256))
    return root / "repository"


def test_the_image_build_counts_the_bytes_it_compresses(tmp_path: Path) -> None:
    repository = _repository(tmp_path, 300_000)
    recorder = Recorder()
    build_image(repository, tmp_path / "image", name="m", version="1", labels={}, progress=recorder)
    (_, first, _), (_, total, unit) = recorder.stages()  # hashing, then compressing
    assert first is None and unit == "bytes" and total is not None
    assert total > 300_000 and recorder.advanced() == total
    assert recorder.calls[-1] == ("done",)

    again = Recorder()
    build_image(repository, tmp_path / "image", name="m", version="1", labels={}, progress=again)
    assert again.stages() == [("image", None, "")] and again.advanced() == 0
    assert ("line", f"{tmp_path / 'image'} already holds this image") in again.calls


class MemoryStore:
    """A model store in memory, with `_Store`'s methods."""

    chain = "none (in memory)"
    endpoint = "memory"

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    def list(self, prefix: str) -> dict[str, str]:
        return {k: sha for k, (_, sha) in self.objects.items() if k.startswith(prefix)}

    def upload(self, key: str, path: Path, sha256: str) -> None:
        self.objects[key] = (path.read_bytes(), sha256)

    def copy(self, source: str, target: str, sha256: str) -> None:
        self.objects[target] = (self.objects[source][0], sha256)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            del self.objects[key]

    def download(self, key: str, path: Path) -> None:
        path.write_bytes(self.objects[key][0])

    def classify(self, exc: BaseException) -> str | None:
        return None


def test_publish_counts_the_bytes_of_the_files_it_uploads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MemoryStore()
    monkeypatch.setitem(publishing._BACKENDS, "mem", lambda _host, parts, _env: (store, parts))
    repository = _repository(tmp_path, 100_000)
    sizes = sum(p.stat().st_size for p in repository.rglob("*") if p.is_file())

    first = Recorder()
    publishing.publish(repository, "mem://models", name="m", version="1", progress=first)
    assert first.stages() == [("publish", sizes, "bytes")]
    assert first.advanced() == sizes and first.calls[-1] == ("done",)

    again = Recorder()
    publishing.publish(repository, "mem://models", name="m", version="1", progress=again)
    assert again.stages() == [("publish", 0, "bytes")] and again.advanced() == 0


def fake_package(
    options: PackageOptions, progress: Progress | Callable[[str], None] | None = None
) -> PackageResult:
    """`model_packaging.package.package` in no time, reporting as the real one does."""
    fake_long_work(reporter(progress))
    return PackageResult(
        name=options.name,
        version=options.version,
        framework="torch",
        inputs=["x float32 [-1, 4]"],
        outputs=["y float32 [-1, 2]"],
        parity={"framework": "torch", "atol": 1e-4, "rtol": 1e-3, "rows": []},
        onnx_sha256="0" * 64,
        onnx_bytes=1024,
        repository=str(options.out / "repository"),
        image_layout=str(options.out / "image"),
        image_digest="sha256:" + "1" * 64,
        fingerprint="2" * 64,
    )


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "log"])
def test_the_cli_draws_no_bars_off_a_terminal(
    as_json: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for forcing in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(forcing, raising=False)
    monkeypatch.setattr("model_packaging.package.package", fake_package)
    args = ["exitplan", "package", "model.pt", "--out", str(tmp_path / "out"), "--name", "m"]
    monkeypatch.setattr(sys, "argv", args + (["--json"] if as_json else []))
    with pytest.raises(SystemExit) as exited:
        main()
    captured = capsys.readouterr()
    assert exited.value.code in (0, None), captured.err
    assert not CONTROL.search(captured.err) and "━" not in captured.err
    if as_json:
        assert json.loads(captured.out)["schema"] == "exitplan.package/1"  # one object
        assert captured.err == ""
    else:
        assert captured.err.splitlines()[:3] == [
            "• export: model.pt (torch)",
            "• publish: aws-primary: s3://models",
            "  uploading m/1/model.onnx",
        ]
        assert "m version 1 (torch)" in captured.out
