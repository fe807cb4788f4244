"""The sandbox's services listen on 127.0.0.1, and everything that talks to them (urllib here,
boto3, the Azure and GCS SDKs) must reach them directly. Those clients all honour a proxy set
in the environment (`http_proxy`, `all_proxy`) unless `no_proxy` exempts the host, and none
exempts loopback by itself: a proxy that cannot reach this machine's loopback would then fail
every health check, store call and control-plane call, each with its own puzzling error.

So the sandbox exempts loopback itself, as Go's HTTP client does by default: before it starts
or is driven, 127.0.0.1 and localhost are added to `no_proxy`/`NO_PROXY` of this process (and
so of what it starts). Other hosts keep the proxy; nothing is removed."""

from __future__ import annotations

import os
import urllib.request

LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
NO_PROXY_VARS = ("no_proxy", "NO_PROXY")


def exempt_loopback_from_proxy() -> str | None:
    """Add the loopback hosts to `no_proxy` and `NO_PROXY` when a proxy from the environment
    would otherwise carry requests to 127.0.0.1; returns what was done (for the progress
    line), or None when nothing needed doing."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get("http") or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(LOOPBACK_HOSTS[0]):
        return None
    for name in NO_PROXY_VARS:
        given = [host.strip() for host in os.environ.get(name, "").split(",") if host.strip()]
        os.environ[name] = ",".join([*given, *(h for h in LOOPBACK_HOSTS if h not in given)])
    return f"loopback exempted from the proxy {proxy} (no_proxy += {','.join(LOOPBACK_HOSTS)})"
