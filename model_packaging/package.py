"""The packaging pipeline: export -> validate -> lay out -> image, into a temporary folder that
replaces the output folder only when every stage passed; then push and publish.

Re-running with the same inputs (model file, options) reuses the output folder: no stage runs
twice, and publishing skips objects whose checksum already matches.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model_packaging.errors import LayoutError, PackagingError
from model_packaging.export import TensorSpec, export
from model_packaging.image import ImageResult, build_image, push_image
from model_packaging.progress import Progress, reporter
from model_packaging.publish import PublishResult, publish
from model_packaging.reference import REFERENCE, reference_answers, write_reference
from model_packaging.triton_repo import write_repository
from model_packaging.validate import validate, write_report

MANIFEST = "manifest.json"
# Bumped whenever the same inputs give different artefacts (2: canonical ONNX, labels without
# the measured error; 3: reference.json), so that a package made by an older exitplan is
# rebuilt, not reused.
ARTEFACT_FORMAT = 3


@dataclass(frozen=True)
class PackageOptions:
    """Everything `exitplan package` was asked to do."""

    source: str
    out: Path
    name: str
    framework: str = "auto"
    version: str = "1"
    max_batch: int = 8
    dynamic_batching: bool = True
    opset: int = 18
    atol: float = 1e-4
    rtol: float = 1e-3
    trust_pickle: bool = False
    input_shape: tuple[int, ...] = ()
    image_ref: str = ""
    push: bool = False
    registry_tls: bool = True
    publish_to: Mapping[str, str] = field(default_factory=dict)  # stack -> store URI

    def fingerprint(self) -> str:
        """sha256 over the model's bytes and every option that changes the artefacts."""
        digest = hashlib.sha256()
        source = Path(self.source.rpartition(":")[0] if ":" in self.source else self.source)
        if source.is_file():
            digest.update(source.read_bytes())
        stable = {k: v for k, v in asdict(self).items() if k not in ("out", "push", "publish_to")}
        stable["artefact_format"] = ARTEFACT_FORMAT
        digest.update(json.dumps(stable, sort_keys=True, default=str).encode())
        return digest.hexdigest()


@dataclass
class PackageResult:
    """What was produced (or reused), pushed and published."""

    name: str
    version: str
    framework: str
    inputs: list[str]
    outputs: list[str]
    parity: dict[str, Any]
    onnx_sha256: str
    onnx_bytes: int
    repository: str
    image_layout: str
    image_digest: str
    fingerprint: str
    reference: str = ""  # reference.json: the answers `exitplan load` checks (not in the image)
    reused: bool = False
    pushed: dict[str, str] = field(default_factory=dict)
    published: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The summary for `--json` and `manifest.json`."""
        return asdict(self)


def package(
    options: PackageOptions, progress: Progress | Callable[[str], None] | None = None
) -> PackageResult:
    """Run the stages (or reuse their output), then push and publish as asked; each stage is
    reported to `progress` (export, validate, layout, image, push, publish)."""
    progress = reporter(progress)
    check_options(options)
    result = _reuse(options)
    if result is None:
        result = _build(options, progress)
    else:
        progress.stage(
            "reuse", f"{options.out} already holds this package ({result.onnx_sha256[:12]})"
        )
        progress.done()
    repository = options.out / "repository"
    if options.image_ref and options.push:
        image = ImageResult(Path(result.image_layout), options.version, result.image_digest, 0)
        result.pushed[options.image_ref] = push_image(
            image, options.image_ref, tls_verify=options.registry_tls, progress=progress
        )
    for stack, uri in options.publish_to.items():
        progress.stage("publish", f"{stack}: {uri}")
        published: PublishResult = publish(
            repository, uri, name=options.name, version=options.version, progress=progress
        )
        result.published[stack] = asdict(published)
    return result


# Triton's model name as the stacks' spec takes it (components.spec.ModelRef): a folder name.
MODEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


def check_options(options: PackageOptions) -> None:
    """What needs no model refused before any work (exit 2, naming the option): a name
    Triton cannot use as its folder, a version that is not a positive integer, a tolerance
    that is negative or not a number (review I11: --name was refused by the image stage and
    --version by the layout, after export and validation; --atol -1 failed parity on every
    row with a hint about the model's layers)."""
    if not MODEL_NAME.match(options.name):
        raise LayoutError(
            f"--name {options.name!r} is not a Triton model name",
            fix="use letters, digits, '_', '.' and '-' (64 at most; no '/' or spaces), e.g. "
            "--name fraud-scorer",
        )
    if not options.version.isdigit() or int(options.version) < 1:
        raise LayoutError(
            f"--version {options.version!r} is not a positive integer", fix="e.g. --version 1"
        )
    for flag, value in (("--atol", options.atol), ("--rtol", options.rtol)):
        if not (math.isfinite(value) and value >= 0):
            raise PackagingError(
                f"{flag} {value:g} is not a tolerance (0 or more)",
                fix=f"e.g. {flag} {1e-4 if flag == '--atol' else 1e-3:g}",
            )


def _reuse(options: PackageOptions) -> PackageResult | None:
    """The package `options.out` already holds for these inputs, or None. Its paths are
    `options.out`'s own, never the absolute ones its manifest stored: a copied or moved
    project's package is the copy's (review B8: the copy published and checked answers against
    the original folder's files)."""
    manifest = options.out / MANIFEST
    if not manifest.is_file():
        return None
    try:
        stored = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return None
    if stored.get("fingerprint") != options.fingerprint():
        return None
    here = {
        "repository": str(options.out / "repository"),
        "image_layout": str(options.out / "image"),
        "reference": str(options.out / REFERENCE),
    }
    if not Path(here["image_layout"]).is_dir() or not Path(here["reference"]).is_file():
        return None
    fields = {k: v for k, v in stored.items() if k in PackageResult.__dataclass_fields__}
    return PackageResult(**{**fields, **here, "reused": True, "pushed": {}, "published": {}})


def _build(options: PackageOptions, progress: Progress) -> PackageResult:
    options.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{options.out.name}.", dir=options.out.parent))
    try:
        progress.stage("export", f"{options.source} ({options.framework})")
        exported = export(
            options.source,
            options.framework,
            staging / "work",
            opset=options.opset,
            trust_pickle=options.trust_pickle,
            input_shape=options.input_shape or None,
        )
        parity = validate(
            exported,
            max_batch=options.max_batch,
            atol=options.atol,
            rtol=options.rtol,
            progress=progress,
        )
        write_report(parity, staging / "parity.json")
        answers = reference_answers(
            exported, name=options.name, version=options.version, atol=options.atol,
            rtol=options.rtol,
        )  # fmt: skip
        write_reference(answers, staging / REFERENCE)
        progress.stage("layout", f"Triton repository {options.name}/{options.version}")
        repository = staging / "repository"
        write_repository(
            exported,
            repository,
            name=options.name,
            version=options.version,
            max_batch=options.max_batch,
            dynamic_batching=options.dynamic_batching,
        )
        onnx_bytes = exported.onnx_path.read_bytes()
        sha = hashlib.sha256(onnx_bytes).hexdigest()
        image = build_image(
            repository,
            staging / "image",
            name=options.name,
            version=options.version,
            labels=_labels(options, sha),
            progress=progress,
        )
        shutil.rmtree(staging / "work")
        result = PackageResult(
            name=options.name,
            version=options.version,
            framework=exported.framework,
            inputs=_described(exported.inputs),
            outputs=_described(exported.outputs),
            parity=parity.as_dict(),
            onnx_sha256=sha,
            onnx_bytes=len(onnx_bytes),
            repository=str(options.out / "repository"),
            image_layout=str(options.out / "image"),
            image_digest=image.digest,
            fingerprint=options.fingerprint(),
            reference=str(options.out / REFERENCE),
        )
        (staging / MANIFEST).write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        _replace(staging, options.out)
        return result
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _labels(options: PackageOptions, sha: str) -> dict[str, str]:
    """The image's labels: functions of the inputs only. The measured parity error is not one
    (it moves with the CPU's kernels, and would change the image digest from machine to
    machine); it stays in parity.json."""
    return {
        "exitplan.model.name": options.name,
        "exitplan.model.version": options.version,
        "exitplan.onnx.sha256": sha,
        "exitplan.parity": f"passed atol={options.atol:g} rtol={options.rtol:g}",
    }


def _described(specs: Sequence[TensorSpec]) -> list[str]:
    return [s.describe() for s in specs]


def _replace(staging: Path, out: Path) -> None:
    """Swap the finished staging folder in for `out` (the old one is removed after)."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
