"""The model-sync sidecar of a Triton pod whose store Triton cannot read itself (review J3).

A one-shot copy at pod start left the stacks that copy (azure-edge, gcp-edge, oci-standby, and
azure-standby when scaled) serving an empty repository on first deploy, when the pod starts
before `exitplan package --publish`, and never picked up a later version. The copy now runs as a
native sidecar (an init container with `restartPolicy: Always`; on by default since Kubernetes
1.29, https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/, and every minor in
`kubernetes_support.csv` is newer):

- every round runs the cloud's copy command into a staging folder, then copies each file that
  differs (by `cksum`) into the repository Triton reads, each through a temporary name and a
  rename, `config.pbtxt` files last (Triton's poll sees a changed config after its weights);
  unchanged files keep their timestamps, so Triton's poll does not reload an unchanged model;
- its startup probe passes once the repository holds a model, so Triton starts after the first
  copy that found one (kubelet starts the pod's containers after a sidecar's startup probe);
- it waits `WAIT_SECS` between rounds until then, `SYNC_SECS` after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.providers.base import FETCH_STAGING, SYNC_MOUNT, ModelFetch

CONTAINER = "sync-models"
REPOSITORY_SUBPATH = "repository"  # of the models volume: what Triton reads at /models
SYNCED_MARKER = "/tmp/models-synced"
SYNC_SECS = 60
WAIT_SECS = 10
# Until a model is published (the first deploy runs the stack before the publish step), the
# startup probe keeps Triton from starting for up to 2 hours; then kubelet restarts the sidecar.
PROBE_PERIOD_S = 5
PROBE_FAILURES = 1440
SYNC_SECS_ENV, WAIT_SECS_ENV = "MODEL_SYNC_SECS", "MODEL_WAIT_SECS"  # read by SCRIPT
SYNC_ENV = {SYNC_SECS_ENV: str(SYNC_SECS), WAIT_SECS_ENV: str(WAIT_SECS)}

# `sh -c SCRIPT sync-models COPY...`: the copy command is "$@".
SCRIPT = f"""\
staging={FETCH_STAGING}; repo={SYNC_MOUNT}/{REPOSITORY_SUBPATH}
mkdir -p "$staging" "$repo"
changed() {{ [ "$(cksum < "$staging/$1")" != "$(cksum < "$repo/$1" 2>/dev/null)" ]; }}
place() {{ mkdir -p "$repo/$(dirname "$1")" && cp "$staging/$1" "$repo/$1.part" \\
  && mv "$repo/$1.part" "$repo/$1"; }}
while true; do
  if "$@"; then
    cd "$staging" || exit 1
    {{ find . -type f ! -name config.pbtxt; find . -type f -name config.pbtxt; }} \\
      | while IFS= read -r f; do if changed "$f"; then place "$f"; fi; done
    cd /
    if [ -n "$(ls -A "$repo")" ]; then touch {SYNCED_MARKER}; fi
  else
    echo "model sync: the copy failed; next try in $MODEL_WAIT_SECS s" >&2
  fi
  if [ -f {SYNCED_MARKER} ]; then sleep "$MODEL_SYNC_SECS"; else sleep "$MODEL_WAIT_SECS"; fi
done
"""


def sync_sidecar(
    fetch: ModelFetch, mounts: Sequence[Mapping[str, Any]], security: Mapping[str, Any]
) -> dict[str, Any]:
    """The sidecar that keeps the pod's repository in step with the store, running the
    cloud's copy (`fetch.command`, into `FETCH_STAGING`) in the loop of `SCRIPT`."""
    return {
        "name": CONTAINER,
        "image": fetch.image,
        "restartPolicy": "Always",
        "command": ["sh", "-c", SCRIPT, CONTAINER, *fetch.command],
        "volumeMounts": [{"name": "models", "mountPath": SYNC_MOUNT}, *mounts],
        "env": [
            {"name": "HOME", "value": "/tmp"},
            *({"name": k, "value": v} for k, v in sorted({**SYNC_ENV, **fetch.env}.items())),
        ],
        "startupProbe": {
            "exec": {"command": ["test", "-f", SYNCED_MARKER]},
            "periodSeconds": PROBE_PERIOD_S,
            "failureThreshold": PROBE_FAILURES,
        },
        "securityContext": dict(security),
        # A limit too, so a runaway copy cannot take the GPU node's memory (streamed
        # downloads need little; policy containers-memory-limits).
        "resources": {
            "requests": {"cpu": "250m", "memory": "512Mi"},
            "limits": {"memory": "2Gi"},
        },
    }
