"""The modelcar image: reproducible OCI layouts built without a daemon, read by skopeo and pushed
to a real registry (`docker-registry` on a free local port)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from model_packaging.errors import ImageError, RegistryUnreachableError
from model_packaging.image import ImageResult, build_image, inspect_layout, push_image
from tests.model_packaging.registry import free_port, make_repository, registry  # noqa: F401

LABELS = {"exitplan.model": "tiny", "exitplan.framework": "onnx"}


def build(repo: Path, layout: Path, **labels: str) -> ImageResult:
    return build_image(repo, layout, name="tiny", version="1", labels=labels or LABELS)


def snapshot(folder: Path) -> dict[str, bytes]:
    files = (p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


def blob(result: ImageResult, digest: str) -> bytes:
    return (result.layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def manifest(result: ImageResult) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(blob(result, result.digest))
    return data


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repository(tmp_path / "repo")


def test_same_inputs_give_the_same_digest(repo: Path, tmp_path: Path) -> None:
    first = build(repo, tmp_path / "a")
    second = build(repo, tmp_path / "b")
    assert first.digest == second.digest and first.digest.startswith("sha256:")
    assert first.size_bytes == second.size_bytes > 0
    assert snapshot(first.layout) == snapshot(second.layout)
    # A fresh copy of the repository (new mtimes, inodes) still gives the same image.
    copy = make_repository(tmp_path / "copy")
    assert build(copy, tmp_path / "c").digest == first.digest


def test_rebuilding_an_up_to_date_layout_does_no_work(repo: Path, tmp_path: Path) -> None:
    first = build(repo, tmp_path / "layout")
    index = tmp_path / "layout" / "index.json"
    before = (index.stat().st_ino, index.stat().st_mtime_ns)
    again = build(repo, tmp_path / "layout")
    assert again == first
    assert (index.stat().st_ino, index.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout", "repo"]


def test_changed_inputs_give_another_digest(repo: Path, tmp_path: Path) -> None:
    first = build(repo, tmp_path / "layout")
    first_layer = manifest(first)["layers"][0]["digest"]
    (repo / "tiny" / "1" / "model.onnx").write_bytes(b"other weights")
    changed = build(repo, tmp_path / "layout")
    assert changed.digest != first.digest
    assert manifest(changed)["layers"][0]["digest"] != first_layer
    relabelled = build(repo, tmp_path / "layout", **{"exitplan.model": "renamed"})
    assert relabelled.digest not in {first.digest, changed.digest}
    assert len(list((tmp_path / "layout" / "blobs" / "sha256").iterdir())) == 3


def test_skopeo_reads_the_layout_with_labels_and_annotations(repo: Path, tmp_path: Path) -> None:
    result = build(repo, tmp_path / "layout")
    inspected = inspect_layout(result)
    assert inspected["Digest"] == result.digest
    assert inspected["Labels"] == LABELS
    assert (inspected["Architecture"], inspected["Os"]) == ("amd64", "linux")
    assert inspected["Created"].startswith("1970-01-01T00:00:00")
    assert len(inspected["Layers"]) == 1
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", f"oci:{result.layout}:1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    annotations = json.loads(raw)["annotations"]
    assert annotations["org.opencontainers.image.title"] == "tiny"
    assert annotations["org.opencontainers.image.version"] == "1"
    assert annotations["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"
    assert "tiny" in annotations["org.opencontainers.image.description"]
    assert LABELS.items() <= annotations.items()


def test_layout_files_follow_the_oci_spec(repo: Path, tmp_path: Path) -> None:
    result = build(repo, tmp_path / "layout")
    assert result.tag == "1"
    assert json.loads((result.layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((result.layout / "index.json").read_text())
    [descriptor] = index["manifests"]
    assert descriptor["digest"] == result.digest
    assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert descriptor["annotations"] == {"org.opencontainers.image.ref.name": "1"}
    data = manifest(result)
    assert data["schemaVersion"] == 2 and data["mediaType"] == descriptor["mediaType"]
    assert data["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    [layer] = data["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert layer["size"] == result.size_bytes
    compressed = blob(result, layer["digest"])
    assert f"sha256:{hashlib.sha256(compressed).hexdigest()}" == layer["digest"]
    config = json.loads(blob(result, data["config"]["digest"]))
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert config["config"]["Labels"] == LABELS
    diff_id = f"sha256:{hashlib.sha256(gzip.decompress(compressed)).hexdigest()}"
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert [step["created"] for step in config["history"]] == ["1970-01-01T00:00:00Z"]


def test_layer_holds_the_repository_under_models(repo: Path, tmp_path: Path) -> None:
    result = build(repo, tmp_path / "layout")
    compressed = blob(result, manifest(result)["layers"][0]["digest"])
    assert compressed[:3] == b"\x1f\x8b\x08" and compressed[3] == 0  # no FNAME/FCOMMENT flags
    assert compressed[4:8] == b"\0\0\0\0"  # gzip mtime 0
    with tarfile.open(fileobj=io.BytesIO(compressed), mode="r:gz") as tar:
        members = tar.getmembers()
        model = tar.extractfile("models/tiny/1/model.onnx")
        assert model is not None and model.read() == b"onnx-bytes"
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == [
        "models",
        "models/tiny",
        "models/tiny/1",
        "models/tiny/1/model.onnx",
        "models/tiny/config.pbtxt",
    ]
    for member in members:
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
        assert member.mtime == 0
        assert member.mode == (0o755 if member.isdir() else 0o644)
        assert member.isdir() or member.isfile()


def test_push_and_read_back(repo: Path, tmp_path: Path, registry: str) -> None:  # noqa: F811
    result = build(repo, tmp_path / "layout")
    ref = f"{registry}/models/tiny:1"
    assert push_image(result, ref, tls_verify=False, timeout_s=60) == result.digest
    assert push_image(result, ref, tls_verify=False, timeout_s=60) == result.digest  # idempotent
    request = urllib.request.Request(
        f"http://{registry}/v2/models/tiny/manifests/1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        served = response.read()
        assert response.headers["Docker-Content-Digest"] == result.digest
    assert served == blob(result, result.digest)


def test_plain_http_registry_with_tls_verify_is_an_image_error(
    repo: Path,
    tmp_path: Path,
    registry: str,  # noqa: F811
) -> None:
    result = build(repo, tmp_path / "layout")
    with pytest.raises(ImageError) as caught:
        push_image(result, f"{registry}/models/tiny:1", timeout_s=60)
    assert not isinstance(caught.value, RegistryUnreachableError)
    assert "tls_verify=False" in caught.value.fix


def test_unreachable_registry(repo: Path, tmp_path: Path) -> None:
    result = build(repo, tmp_path / "layout")
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(RegistryUnreachableError) as caught:
        push_image(result, f"{address}/models/tiny:1", tls_verify=False, timeout_s=30)
    assert address in caught.value.cause and "connection refused" in caught.value.cause
    assert "start the registry" in caught.value.fix
    assert caught.value.stage == "image"


def test_failed_build_leaves_the_previous_layout(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = tmp_path / "layout"
    previous = build(repo, layout)
    before = snapshot(layout)
    (repo / "tiny" / "1" / "model.onnx").write_bytes(b"new weights")

    class FullDisk(gzip.GzipFile):
        def write(self, data: Any) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(gzip, "GzipFile", FullDisk)
    with pytest.raises(ImageError, match="No space left"):
        build(repo, layout)
    monkeypatch.undo()
    assert snapshot(layout) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout", "repo"]  # no temp left
    assert inspect_layout(previous)["Digest"] == previous.digest
    # A repository that stopped being valid fails before touching the layout as well.
    (repo / "tiny" / "config.pbtxt").unlink()
    with pytest.raises(ImageError, match=r"no config\.pbtxt in tiny"):
        build(repo, layout)
    assert snapshot(layout) == before


def test_missing_repository_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="does not exist") as caught:
        build(tmp_path / "nowhere", tmp_path / "layout")
    assert caught.value.stage == "image" and caught.value.exit_code == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="no model folder"):
        build(tmp_path / "empty", tmp_path / "layout")
    assert not (tmp_path / "layout").exists()


def test_bad_inputs_are_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="not a valid image tag"):
        build_image(repo, tmp_path / "layout", name="tiny", version="v 1", labels={})
    with pytest.raises(ImageError, match="bad image name"):
        build_image(repo, tmp_path / "layout", name="a/b", version="1", labels={})
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ImageError, match="not an OCI layout"):
        build(repo, precious)
    assert (precious / "notes.txt").read_text() == "keep me"
    with pytest.raises(ImageError, match="inside the repository"):
        build(repo, repo / "image")
    assert not (repo / "image").exists()


def test_missing_skopeo(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = build(repo, tmp_path / "layout")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ImageError) as caught:
        push_image(result, "127.0.0.1:5000/models/tiny:1", tls_verify=False)
    assert caught.value.fix == "apt-get install skopeo (make bootstrap does it as root)"
    with pytest.raises(ImageError, match="skopeo is not installed"):
        inspect_layout(result)
