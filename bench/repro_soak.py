"""Soak: is `exitplan package` reproducible across virtual environments and folders?

Builds a second virtual environment with uv from the project's uv.lock (a copy of this checkout
under a longer path, installed as a wheel, and the same torch build this environment has, from
the same wheel folders the Makefile hands uv), copies the sandbox's demo model
(sandbox/demo_model.py) into two folders of different path lengths, and packages it with both
environments' `exitplan` from both folders, as the sandbox does (its stack's model name, version
and max batch). Every run must give the same ONNX sha256 and the same OCI image digest.

Prints a table, writes bench/results/repro.json, and exits 1 when any digest differs. It runs the
CLI as a subprocess and imports nothing of the project. `make soak` runs it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# bench/packaging.py is named like the PyPI `packaging` module: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import yaml  # noqa: E402

STACK = ROOT / "stacks" / "Pulumi.aws-primary.yaml"  # the stack `make drill` packages for
RESULTS = ROOT / "bench" / "results" / "repro.json"


def run(args: list[str], **kwargs: Any) -> str:
    """Run a command; its stdout, or exit with its output when it fails."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def uv() -> list[str]:
    """uv, as the Makefile finds it (on PATH, else `python -m uv`)."""
    found = shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def find_links() -> str:
    """The Makefile's UV_FIND_LINKS: PIP_FIND_LINKS plus pip's configured find-links."""
    if os.environ.get("UV_FIND_LINKS"):
        return os.environ["UV_FIND_LINKS"]
    config = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    links = set(os.environ.get("PIP_FIND_LINKS", "").split())
    links |= {m for line in config.splitlines() for m in re.findall(r"find-links='(.*)'", line)}
    return ",".join(sorted(link for part in links for link in part.split() if link))


def base_python() -> str:
    """The interpreter this virtual environment was made from (uv must not download one)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    return str(candidate if candidate.is_file() else sys.executable)


def copy_checkout(target: Path) -> None:
    """Copy the working tree's tracked and unignored files (what a fresh checkout holds)."""
    listed = run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT
    ).split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def second_environment(work: Path, torch_spec: str, env: dict[str, str]) -> Path:
    """A new venv with the locked dependencies, the project (from a copy of this checkout, not
    editable) and `torch_spec`; its bin folder."""
    checkout = work / "second-checkout-with-a-longer-path" / "exitplan"
    copy_checkout(checkout)
    venv = work / "venv-second"
    run([*uv(), "venv", "--quiet", "--python", base_python(), str(venv)], env=env)
    requirements = work / "requirements.txt"
    export = ["export", "--frozen", "--no-dev", "--no-emit-project", "--quiet"]
    export += ["--format", "requirements-txt", "--output-file", str(requirements)]
    run([*uv(), *export], cwd=checkout, env=env)
    python = ["--python", str(venv / "bin" / "python")]
    run([*uv(), "pip", "install", "--quiet", *python, "-r", str(requirements)], env=env)
    run([*uv(), "pip", "install", "--quiet", *python, "--no-deps", str(checkout)], env=env)
    run([*uv(), "pip", "install", "--quiet", *python, torch_spec], env=env)
    return venv / "bin"


def where_loaded(bin_dir: Path) -> dict[str, str]:
    """Where an environment imports the packager and torch from (proof they are distinct)."""
    code = "import model_packaging, torch; print(model_packaging.__file__); print(torch.__file__)"
    packager, torch_file = run([str(bin_dir / "python"), "-c", code], cwd="/").split()
    return {"model_packaging": packager, "torch": torch_file}


def package(bin_dir: Path, model: Path, out: Path, options: list[str]) -> dict[str, Any]:
    """`exitplan package` of the demo model; its JSON summary and wall time."""
    start = time.perf_counter()
    args = [str(bin_dir / "exitplan"), "package", f"{model}:build", "--out", str(out)]
    summary = json.loads(run([*args, *options, "--json"], cwd=model.parent))
    return {**summary, "seconds": round(time.perf_counter() - start, 2)}


def sandbox_options() -> list[str]:
    """The name, version and max batch the sandbox packages the demo model with."""
    service = yaml.safe_load(STACK.read_text())["config"]["exitplan:service"]["triton"]
    model = service["models"][0]
    max_batch = str(service["max_batch_size"])
    return ["--name", model["name"], "--version", str(model["version"]), "--max-batch", max_batch]


def main() -> int:
    """Build the second environment, package four times, compare, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="keep the environments and outputs here")
    work_arg = parser.parse_args().work
    torch_version = importlib.metadata.version("torch")
    env = {**os.environ, "UV_FIND_LINKS": find_links(), "UV_PYTHON_DOWNLOADS": "never"}
    with tempfile.TemporaryDirectory(prefix="exitplan-repro-") as tmp:
        work = (work_arg or Path(tmp)).absolute()
        work.mkdir(parents=True, exist_ok=True)
        for leftover in ("second-checkout-with-a-longer-path", "venv-second", "a", "b-folder"):
            shutil.rmtree(work / leftover, ignore_errors=True)  # from an earlier --work run
        start = time.perf_counter()
        second = second_environment(work, f"torch=={torch_version}", env)
        setup_s = round(time.perf_counter() - start, 1)
        environments = {"project .venv": ROOT / ".venv" / "bin", "second venv": second}
        folders = {"short": work / "a", "long": work / "b-folder" / "with-a-much-longer-name"}
        options = sandbox_options()
        rows = []
        for env_name, bin_dir in environments.items():
            for folder_name, folder in folders.items():
                folder.mkdir(parents=True, exist_ok=True)
                model = Path(shutil.copy(ROOT / "sandbox" / "demo_model.py", folder))
                out = folder / f"out-{env_name.split()[0]}"
                summary = package(bin_dir, model, out, options)
                rows.append(
                    {
                        "environment": env_name,
                        "folder": folder_name,
                        "model_path_chars": len(str(model)),
                        "onnx_sha256": summary["onnx_sha256"],
                        "image_digest": summary["image_digest"],
                        "seconds": summary["seconds"],
                    }
                )
        loaded = {name: where_loaded(bin_dir) for name, bin_dir in environments.items()}
    onnx_digests = {r["onnx_sha256"] for r in rows}
    image_digests = {r["image_digest"] for r in rows}
    reproducible = len(onnx_digests) == 1 and len(image_digests) == 1
    print(f"second environment built in {setup_s} s (torch {torch_version})")
    print(f"{'environment':<15}{'folder':<7}{'ONNX sha256':<18}{'image digest':<25}{'s':>6}")
    for r in rows:
        print(
            f"{r['environment']:<15}{r['folder']:<7}{r['onnx_sha256'][:16]:<18}"
            f"{r['image_digest'][:23]:<25}{r['seconds']:>6.2f}"
        )
    for name, places in loaded.items():
        print(f"{name}: model_packaging {places['model_packaging']}, torch {places['torch']}")
    verdict = "ok" if reproducible else "FAILED"
    print(f"one ONNX sha256 and one image digest over {len(rows)} runs: {verdict}")
    if reproducible:
        print(f"demo model: onnx sha256:{rows[0]['onnx_sha256']}  image {rows[0]['image_digest']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "torch": torch_version,
                "zlib": zlib.ZLIB_RUNTIME_VERSION,
                "package_options": options,
                "second_environment_setup_s": setup_s,
                "imported_from": loaded,
                "reproducible": reproducible,
                "onnx_sha256": sorted(onnx_digests),
                "image_digest": sorted(image_digests),
                "runs": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if reproducible else 1


if __name__ == "__main__":
    sys.exit(main())
