"""exitplan's Chaos Toolkit extension: activities that act on a `Target` (the sandbox by default),
never on a cloud SDK, and the experiments in `chaos/experiments/`."""

from chaoslib.discovery.discover import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import Discovery

__all__ = ["AREAS", "__version__", "discover"]
__version__ = "0.1.0"
AREAS = ("credentials", "traffic", "serving")


def discover(discover_system: bool = True) -> Discovery:
    """The activities this extension offers (for `chaos discover exitplan`)."""
    discovery = initialize_discovery_result("exitplan", __version__, "exitplan")
    for area in AREAS:
        discovery["activities"].extend(discover_actions(f"chaos.{area}.actions"))
        discovery["activities"].extend(discover_probes(f"chaos.{area}.probes"))
    return discovery
