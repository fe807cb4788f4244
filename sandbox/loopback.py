"""The sandbox's services listen on 127.0.0.1, and everything that talks to them (urllib here,
boto3, the Azure and GCS SDKs, HAProxy's clients) must reach them directly. A proxy set in the
environment (`http_proxy`, `all_proxy`) that does not exempt 127.0.0.1 (`no_proxy`) would carry
those requests to the proxy, which cannot reach this machine's loopback: every health check,
store call and control-plane call would fail, each with its own puzzling error. The sandbox
refuses to start or to be driven then, with the one fix."""

from __future__ import annotations

import urllib.request

from sandbox.errors import SandboxError

LOOPBACK_HOST = "127.0.0.1"


def check_loopback_not_proxied() -> None:
    """SandboxError when a proxy from the environment would carry requests to 127.0.0.1
    (read as urllib, requests and botocore read it: `<scheme>_proxy`, then `no_proxy`)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get("http") or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(LOOPBACK_HOST):
        raise SandboxError(
            f"the proxy {proxy} from the environment would carry the sandbox's requests to "
            f"{LOOPBACK_HOST}, which it cannot reach",
            fix=f"export NO_PROXY={LOOPBACK_HOST},localhost (http_proxy may stay, for the "
            "package registries)",
        )
