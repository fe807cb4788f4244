"""Model-store backends that live with a cloud's builders (`components/providers/<cloud>/
publish.py`), for `exitplan package --publish` and verified fetches of a store scheme that
model_packaging does not serve itself. A backend module imports its storage SDK lazily and no
Pulumi SDK; it is loaded by its file, so its cloud's builders (and their Pulumi SDK) are not."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from components.providers.registry import CLOUDS

# (URI host, path parts, the call's settings) -> (store, key prefix parts): model_packaging.
# publish's opener shape.
StoreOpener = Callable[[str, list[str], Mapping[str, str]], tuple[Any, list[str]]]
PROVIDERS = Path(__file__).parent / "providers"


def store_backend(cloud: str) -> StoreOpener | None:
    """The store opener of a registered cloud's `publish.py`, or None when it has none."""
    name = f"{CLOUDS[cloud]}.publish"
    module = sys.modules.get(name)
    if module is None:
        path = PROVIDERS / cloud / "publish.py"
        if not path.is_file():
            return None
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    opener: Callable[[], StoreOpener] = module.opener
    return opener()
