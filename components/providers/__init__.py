"""The registry of cloud modules: adding a cloud is its module, one line here, a stack file
and its tests."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from components.errors import UnsupportedFeatureError
from components.providers.base import CloudModule
from components.spec import ServiceSpec

# Cloud -> module. Imported on first use: each cloud SDK costs a second or more to import,
# and a plan of one stack needs one cloud.
PROVIDERS: dict[str, str] = {
    "aws": "components.providers.aws",
    "azure": "components.providers.azure",
    "gcp": "components.providers.gcp",
}

if TYPE_CHECKING:  # mypy checks every registered module against the protocol
    from components.providers import aws, azure, gcp

    _CHECKED: tuple[CloudModule, ...] = (aws, azure, gcp)


def cloud(name: str) -> CloudModule:
    """The registered module of a cloud."""
    return cast(CloudModule, importlib.import_module(PROVIDERS[name]))


def required_features(spec: ServiceSpec) -> set[str]:
    """The optional features a spec asks its cloud for (keys of a module's `UNSUPPORTED`)."""
    features = set()
    if spec.gpu.capacity_type == "spot":
        features.add("spot-gpu-nodes")
    if spec.gpu.min_nodes == 0:
        features.add("gpu-scale-to-zero")
    return features


def cloud_for(spec: ServiceSpec) -> CloudModule:
    """The spec's cloud module, after checking it supports all the spec asks for."""
    return check_features(spec.provider, required_features(spec))


def check_features(name: str, features: set[str]) -> CloudModule:
    """A cloud's module if it has every feature; else one `UnsupportedFeatureError` that lists
    every gap with its reason."""
    module = cloud(name)
    gaps = {f: module.UNSUPPORTED[f] for f in sorted(features) if f in module.UNSUPPORTED}
    if gaps:
        listed = "; ".join(f"{feature}: {reason}" for feature, reason in gaps.items())
        raise UnsupportedFeatureError(
            f"{name} cannot provide what this stack asks for: {listed}",
            fix="change the stack config or use another cloud for this part",
        )
    return module
