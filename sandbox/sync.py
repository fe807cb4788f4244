"""The planned model-sync sidecar of a copy-step stack, run as a sandbox process
(`python -m sandbox.sync`): the loop of `components.model_sync`, with exitplan's own store
client in place of the cloud's CLI (no container image runs here: `substitutions.csv`).

Each round copies the model from the store with the stack's own credentials (the process's
environment) into a staging folder, then moves each file that differs into the repository the
stack's Triton reads, config.pbtxt files last; once the repository holds the model it writes
the marker the planned startup probe checks, and Triton may start. It waits `--wait` seconds
between rounds until then, `--every` after, as planned.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import time
from pathlib import Path

from model_packaging.publish import fetch

CONFIG = "config.pbtxt"


def place_changed(staging: Path, repository: Path) -> list[str]:
    """Copy into `repository` each file of `staging` that it lacks or holds differently (through
    a temporary name and a rename), config files last; the relative paths copied."""
    files = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    ordered = [f for f in files if f.name != CONFIG] + [f for f in files if f.name == CONFIG]
    placed = []
    for relative in ordered:
        source, target = staging / relative, repository / relative
        if target.is_file() and filecmp.cmp(source, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        shutil.copyfile(source, partial)
        partial.replace(target)
        placed.append(str(relative))
    return placed


def sign_in(token: Path) -> None:
    """What a copy that signs in with the pod's service-account token needs: the file, not
    empty (the cloud CLI reads it at every call)."""
    if not token.is_file() or not token.read_text().strip():
        raise FileNotFoundError(f"no service-account token at {token}: cannot sign in")


def sync_once(
    uri: str, model: str, staging: Path, repository: Path, token: Path | None = None
) -> bool:
    """One round: the store's model into `staging` (credentials from the environment, after
    signing in with `token` where the copy uses one), what changed into `repository`; whether
    the repository now holds the model."""
    if token is not None:
        sign_in(token)
    shutil.rmtree(staging, ignore_errors=True)
    fetch(uri, model, staging, env=dict(os.environ))
    for path in place_changed(staging, repository):
        print(f"model sync: placed {path}", flush=True)
    return (repository / model).is_dir()


def sync_command(
    uri: str,
    model: str,
    folder: Path,
    repository: Path,
    marker: Path,
    every: float,
    wait: float,
    token: Path | None = None,
) -> list[str]:
    """The command line of a sync process over the store at `uri` (signing in with the
    service-account `token` file where given)."""
    signs_in = ["--token-file", str(token)] if token is not None else []
    return [
        sys.executable,
        "-m",
        "sandbox.sync",
        "--uri",
        uri,
        "--model",
        model,
        "--staging",
        str(folder / "sync-staging"),
        "--repository",
        str(repository),
        "--marker",
        str(marker),
        "--every",
        str(every),
        "--wait",
        str(wait),
        *signs_in,
    ]


def main() -> None:
    """Sync until stopped."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--staging", type=Path, required=True)
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--marker", type=Path, required=True)
    parser.add_argument("--every", type=float, required=True)
    parser.add_argument("--wait", type=float, required=True)
    parser.add_argument("--token-file", type=Path, help="the service-account token to sign in")
    args = parser.parse_args()
    args.repository.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            if sync_once(args.uri, args.model, args.staging, args.repository, args.token_file):
                args.marker.touch()
        except Exception as exc:  # the planned loop retries whatever the copy's failure
            why = " ".join(str(exc).split())  # one line: `sandbox status` shows the last
            print(f"model sync: the copy failed ({why}); next try in {args.wait:g} s", flush=True)
        time.sleep(args.every if args.marker.exists() else args.wait)


if __name__ == "__main__":
    main()
