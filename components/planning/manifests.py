"""A plan's Kubernetes objects as the manifests the Kubernetes provider would apply, for a
peer's rule suite (checkov) to read.

Helm releases are not objects here: their charts are rendered by Helm at deploy time, from a
chart repository this offline plan does not fetch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from components.planning.runner import Plan

SECRET_VALUE = "<secret>"  # what a secret's value is written as: never its planned value


def manifests(plan: Plan) -> list[dict[str, Any]]:
    """Each planned Kubernetes object (one with `apiVersion` and `kind`) as a manifest, in plan
    order: secrets written as `<secret>`, whole-number floats (gRPC's numbers) as integers."""
    return [
        _clean(r.inputs)
        for r in plan.resources
        if r.type.startswith("kubernetes:") and {"apiVersion", "kind"} <= set(r.inputs)
    ]


def write_manifests(plans: list[Plan], folder: Path) -> list[Path]:
    """Write every plan's manifests under `folder/<stack>/<kind>-<name>.yaml`; returns the
    files written."""
    written = []
    for plan in plans:
        for manifest in manifests(plan):
            path = folder / plan.stack / f"{manifest['kind']}-{manifest['metadata']['name']}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(manifest, sort_keys=False))
            written.append(path)
    return written


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return (
                SECRET_VALUE
                if not isinstance(value.get("value"), dict)
                else {k: SECRET_VALUE for k in value["value"]}
            )
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
