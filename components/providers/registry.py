"""The registry: the one list of clouds. Adding a cloud is one line here (plus its builders
folder, its cost pricers in components/cost/<cloud>/, catalog rows, a stack file and its
tests; tests/test_completeness.py checks them).

Importing this module imports no cloud SDK: each cloud's builders load on first use, since
each SDK costs a second or more to import and a plan of one stack needs one cloud.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from components.providers.base import CloudModule

# Cloud -> the package of its builders.
CLOUDS: dict[str, str] = {
    "aws": "components.providers.aws",
    "azure": "components.providers.azure",
    "gcp": "components.providers.gcp",
    "oci": "components.providers.oci",
}


def builders(name: str) -> CloudModule:
    """The builders of a registered cloud (imports its SDK)."""
    return cast("CloudModule", importlib.import_module(CLOUDS[name]))
