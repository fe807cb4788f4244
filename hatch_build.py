"""Wheel build hook: writes `top_level.txt` into the wheel's .dist-info, `chaos` first.

Chaos Toolkit's `chaos discover exitplan` imports the first top-level package that
`importlib.metadata.packages_distributions()` maps to the `exitplan` distribution and calls its
`discover`. Hatchling writes no `top_level.txt`, and an editable install's RECORD names no package
at all (only a .pth), so without this file discovery finds nothing (editable) or a random package.
"""

import os
import tempfile
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSION = "chaos"  # the package whose `discover` Chaos Toolkit calls


class TopLevelHook(BuildHookInterface):
    """Adds `top_level.txt` (the extension package first) to every wheel, editable included."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Write the file to a temporary folder and force-include it in the .dist-info."""
        packages = [os.path.basename(p) for p in self.build_config.packages]
        top_level = [EXTENSION, *(p for p in packages if p != EXTENSION)]
        self._tmp = tempfile.TemporaryDirectory()
        path = os.path.join(self._tmp.name, "top_level.txt")
        with open(path, "w") as f:
            f.write("\n".join(top_level) + "\n")
        dist_info = f"{self.build_config.builder.artifact_project_id}.dist-info"
        build_data["force_include"][path] = f"{dist_info}/top_level.txt"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary folder."""
        self._tmp.cleanup()
