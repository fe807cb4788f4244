"""A model-only OCI image ("modelcar", as KServe mounts it): one layer with a Triton repository
under `/models/`, written as an OCI image layout without a daemon and pushed with skopeo.
Reproducible: sorted entries, mtime 0, uid/gid 0, fixed modes, a gzip header without name or
time and a fixed `created`, so the same inputs give the same manifest digest."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

from model_packaging.errors import ImageError, RegistryUnreachableError
from model_packaging.progress import Progress, reporter

EPOCH = "1970-01-01T00:00:00Z"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
COMPRESSLEVEL = 6
SKOPEO_FIX = "apt-get install skopeo (make bootstrap does it as root)"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOWN = re.compile(r"(?i)refused|reset by peer|no such host|timeout|deadline|unreachable|no route")


@dataclass(frozen=True)
class ImageResult:
    """A built image: its layout directory, ref name, manifest digest and layer size."""

    layout: Path
    tag: str
    digest: str
    size_bytes: int


class _Hasher:
    """A write-only stream that hashes and counts what passes through to `raw` (if any), and
    tells `counted` how many bytes each write carried."""

    def __init__(
        self,
        raw: IO[bytes] | gzip.GzipFile | None = None,
        counted: Callable[[int], None] = lambda _n: None,
    ) -> None:
        self.raw, self.sha, self.size, self.counted = raw, hashlib.sha256(), 0, counted

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.counted(len(data))
        return self.raw.write(data) if self.raw is not None else len(data)

    def tell(self) -> int:
        return self.size

    def digest(self) -> str:
        return f"sha256:{self.sha.hexdigest()}"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _entries(repository: Path) -> list[tuple[str, Path]]:
    """(name in the layer, source) for every directory and file, sorted by name."""
    if not repository.is_dir():
        raise ImageError(
            f"model repository {repository} does not exist or is not a folder",
            fix="write the Triton repository first (the layout stage)",
        )
    models = sorted(p for p in repository.iterdir() if p.is_dir())
    bad = [p.name for p in models if not (p / "config.pbtxt").is_file()]
    if not models or bad:
        raise ImageError(
            f"{repository} is not a Triton model repository: "
            + (f"no config.pbtxt in {', '.join(bad)}" if bad else "no model folder"),
            fix="point at the folder that holds <model>/config.pbtxt",
        )
    found = [("models", repository)]
    for path in repository.rglob("*"):
        if not path.is_file() and (path.is_symlink() or not path.is_dir()):
            raise ImageError(f"{path} is a special file or a link to a folder; not packaged")
        found.append((f"models/{path.relative_to(repository).as_posix()}", path))
    return sorted(found)


def _write_tar(entries: list[tuple[str, Path]], out: _Hasher) -> None:
    stream = cast(IO[bytes], out)
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.mode, info.size = 0o644, path.stat().st_size
            with path.open("rb") as f:
                tar.addfile(info, f)


def _config(diff_id: str, name: str, version: str, labels: Mapping[str, str]) -> bytes:
    step = {"created": EPOCH, "created_by": f"exitplan modelcar {name}:{version}"}
    rootfs = {"type": "layers", "diff_ids": [diff_id]}
    config = {"Labels": dict(labels)}
    image = {"architecture": "amd64", "os": "linux", "config": config, "rootfs": rootfs}
    return _dumps({**image, "created": EPOCH, "history": [step]})


def _annotations(name: str, version: str, labels: Mapping[str, str]) -> dict[str, str]:
    description = f"Triton model repository for {name} version {version} under /models"
    return {
        "org.opencontainers.image.description": description,
        **labels,
        "org.opencontainers.image.title": name,
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": EPOCH,
    }


def _descriptor(media_type: str, data: bytes, **annotations: str) -> dict[str, Any]:
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    desc = {"mediaType": media_type, "digest": digest, "size": len(data)}
    return {**desc, "annotations": annotations} if annotations else desc


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.removeprefix("sha256:")


def _existing(
    layout: Path, version: str, config_digest: str, annotations: dict[str, str]
) -> ImageResult | None:
    """The layout's image for `version` when it already has this config and annotations."""
    try:
        index = json.loads((layout / "index.json").read_bytes())
        desc = next(m for m in index["manifests"] if m["annotations"][REF_NAME] == version)
        manifest = json.loads(_blob(layout, desc["digest"]).read_bytes())
        layer = manifest["layers"][0]
        same = manifest["config"]["digest"] == config_digest
        same = same and manifest.get("annotations") == annotations and len(index["manifests"]) == 1
        same = same and _blob(layout, config_digest).is_file()
        if same and _blob(layout, layer["digest"]).stat().st_size == layer["size"]:
            return ImageResult(layout, version, desc["digest"], layer["size"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, StopIteration):
        pass
    return None


def _replace(built: Path, layout: Path) -> None:
    if not layout.exists():
        built.rename(layout)
        return
    old = Path(tempfile.mkdtemp(dir=layout.parent, prefix=f".{layout.name}.old-"))
    layout.rename(old / "layout")
    try:
        built.rename(layout)
    except OSError:
        (old / "layout").rename(layout)
        raise
    shutil.rmtree(old, ignore_errors=True)


def build_image(
    repository: Path,
    layout: Path,
    *,
    name: str,
    version: str,
    labels: Mapping[str, str],
    progress: Progress | Callable[[str], None] | None = None,
) -> ImageResult:
    """Write the modelcar image of `repository` as an OCI layout at `layout`, tagged `version`
    (a `progress` stage: hashing the layer, then compressing it, in bytes).

    The layout is replaced atomically; it is left alone when it already holds this image."""
    progress = reporter(progress)
    if not _TAG.fullmatch(version):
        raise ImageError(f"version {version!r} is not a valid image tag", fix="use e.g. 3 or 1.2")
    if not name or "/" in name or ":" in str(layout):
        raise ImageError(f"bad image name {name!r} (no '/') or layout {layout} (no ':')")
    layout = layout.absolute()
    if layout.resolve().is_relative_to(repository.resolve()):
        raise ImageError(f"the layout {layout} is inside the repository {repository}")
    if layout.exists() and any(layout.iterdir()) and not (layout / "oci-layout").is_file():
        raise ImageError(
            f"{layout} exists and is not an OCI layout; refusing to replace it",
            fix="choose an empty or new folder for the image layout",
        )
    entries = _entries(repository)
    annotations = _annotations(name, version, labels)
    progress.stage("image", f"OCI image layout of {name}:{version} (model only)")
    tar_hash = _Hasher()
    try:
        _write_tar(entries, tar_hash)
    except OSError as exc:
        raise ImageError(f"could not read the model repository {repository}: {exc}") from exc
    config = _config(tar_hash.digest(), name, version, labels)
    config_desc = _descriptor(CONFIG_TYPE, config)
    if found := _existing(layout, version, config_desc["digest"], annotations):
        progress(f"{layout} already holds this image")
        progress.done()
        return found
    progress.stage("image", "compressing the layer", total=tar_hash.size, unit="bytes")
    layout.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=layout.parent, prefix=f".{layout.name}.tmp-"))
    try:
        (tmp / "blobs" / "sha256").mkdir(parents=True)
        with (tmp / "layer.partial").open("wb") as raw:
            gz_hash = _Hasher(raw)
            fileobj = cast(IO[bytes], gz_hash)
            with gzip.GzipFile(
                fileobj=fileobj, mode="wb", mtime=0, filename="", compresslevel=COMPRESSLEVEL
            ) as gz:
                tar = _Hasher(gz, progress.advance)
                _write_tar(entries, tar)
        if tar.digest() != tar_hash.digest():
            raise ImageError(f"{repository} changed while the image was being built")
        (tmp / "layer.partial").rename(_blob(tmp, gz_hash.digest()))
        layer = {"mediaType": LAYER_TYPE, "digest": gz_hash.digest(), "size": gz_hash.size}
        manifest = _dumps(
            {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config_desc}
            | {"layers": [layer], "annotations": annotations}
        )
        manifest_desc = _descriptor(MANIFEST_TYPE, manifest, **{REF_NAME: version})
        index = {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": [manifest_desc]}
        for path, data in [
            (_blob(tmp, config_desc["digest"]), config),
            (_blob(tmp, manifest_desc["digest"]), manifest),
            (tmp / "index.json", _dumps(index)),
            (tmp / "oci-layout", _dumps({"imageLayoutVersion": "1.0.0"})),
        ]:
            path.write_bytes(data)
        _replace(tmp, layout)
    except OSError as exc:
        raise ImageError(f"could not write the image layout {layout}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    progress.done()
    return ImageResult(layout, version, manifest_desc["digest"], gz_hash.size)


def _skopeo(args: list[str], ref: str, timeout_s: float) -> str:
    """skopeo's stdout; its failures as `ImageError`, unreachable registries told apart."""
    remote = ref.startswith("docker://")
    registry = ref.removeprefix("docker://").split("/", 1)[0]
    unreachable = f"start the registry at {registry} or check the reference {ref}"
    try:
        proc = subprocess.run(
            ["skopeo", *args, ref], capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except FileNotFoundError as exc:
        raise ImageError("skopeo is not installed", fix=SKOPEO_FIX) from exc
    except subprocess.TimeoutExpired as exc:
        if remote:
            cause = f"registry {registry} did not answer within {timeout_s:g} s"
            raise RegistryUnreachableError(cause, fix=unreachable) from exc
        raise ImageError(f"skopeo {args[0]} of {ref} timed out after {timeout_s:g} s") from exc
    if proc.returncode == 0:
        return proc.stdout
    message = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
    if found := re.search(r'msg="(.*)"', message):  # logrus: time=... level=fatal msg="..."
        message = found[1].replace('\\"', '"')
    if remote and _DOWN.search(message):
        cause = f"registry {registry} did not answer: {message}"
        raise RegistryUnreachableError(cause, fix=unreachable)
    fix = "pass tls_verify=False for a plain-HTTP registry" if "HTTP response" in message else ""
    raise ImageError(f"skopeo {args[0]} of {ref} failed: {message}", fix=fix)


def push_image(
    result: ImageResult,
    ref: str,
    *,
    tls_verify: bool = True,
    timeout_s: float = 120,
    progress: Progress | Callable[[str], None] | None = None,
) -> str:
    """Copy the image to `docker://<ref>` and return the digest the registry reports.

    The `progress` stage has no byte total: skopeo reports no byte counts to a pipe (it names
    each blob as it starts), and a modelcar's bytes are all in one layer, so a per-blob count
    would sit at 0 until the push is over. Its row shows the time it takes."""
    progress = reporter(progress)
    progress.stage("push", ref)
    source = f"oci:{result.layout}:{result.tag}"
    insecure = [] if tls_verify else ["--dest-tls-verify=false"]
    _skopeo(["copy", "--quiet", *insecure, source], f"docker://{ref}", timeout_s)
    insecure = [] if tls_verify else ["--tls-verify=false"]
    out = _skopeo(["inspect", *insecure], f"docker://{ref}", timeout_s)
    try:
        digest = str(json.loads(out)["Digest"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ImageError(f"skopeo inspect of {ref} gave no digest: {out[:200]}") from exc
    progress.done()
    return digest


def inspect_layout(result: ImageResult) -> dict[str, Any]:
    """`skopeo inspect oci:<layout>:<tag>`, parsed."""
    data: dict[str, Any] = json.loads(_skopeo(["inspect"], f"oci:{result.layout}:{result.tag}", 60))
    return data
