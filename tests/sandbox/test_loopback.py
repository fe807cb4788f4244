"""A proxy from the environment would carry the sandbox's loopback requests (urllib, boto3,
requests and the GCS client all honour it, none exempts 127.0.0.1 by itself): the sandbox
exempts loopback before it starts or is driven, keeping the proxy for every other host."""

from __future__ import annotations

import http.server
import os
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.loopback import exempt_loopback_from_proxy
from sandbox.manager import Sandbox

PROXY_VARS = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")
UNREACHABLE_PROXY = "http://10.255.255.1:3128"


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The environment without the machine's proxy settings (restored after the test)."""
    for name in PROXY_VARS:
        monkeypatch.setenv(name, "")  # recorded, so what the test sets is undone after it
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def loopback_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 that answers 200: a sandbox service."""

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def reachable(url: str) -> bool:
    """Whether urllib's default path (proxies from the environment) reaches `url`."""
    opener = urllib.request.build_opener()  # a fresh ProxyHandler: reads the environment now
    try:
        with opener.open(url, timeout=3) as response:
            return int(response.status) == 200
    except OSError:
        return False


def test_no_proxy_set_changes_nothing(environ: pytest.MonkeyPatch) -> None:
    assert exempt_loopback_from_proxy() is None
    assert "no_proxy" not in os.environ and "NO_PROXY" not in os.environ


@pytest.mark.parametrize("name", ["http_proxy", "HTTP_PROXY", "all_proxy"])
def test_a_proxy_that_would_carry_loopback_is_told_to_let_it_go_direct(
    environ: pytest.MonkeyPatch, loopback_server: str, name: str
) -> None:
    environ.setenv(name, UNREACHABLE_PROXY)
    if name != "all_proxy":  # urllib itself ignores all_proxy; boto3 and requests do not
        assert not reachable(loopback_server), "the proxy carries loopback requests"
    note = exempt_loopback_from_proxy()
    assert note is not None and UNREACHABLE_PROXY in note
    assert reachable(loopback_server)
    assert urllib.request.proxy_bypass("localhost")


def test_the_users_own_exemptions_are_kept_and_the_proxy_stays_for_other_hosts(
    environ: pytest.MonkeyPatch,
) -> None:
    environ.setenv("http_proxy", UNREACHABLE_PROXY)
    environ.setenv("NO_PROXY", "internal.example.com")
    exempt_loopback_from_proxy()
    assert os.environ["NO_PROXY"] == "internal.example.com,127.0.0.1,localhost"
    assert os.environ["no_proxy"] == "127.0.0.1,localhost"
    assert urllib.request.getproxies()["http"] == UNREACHABLE_PROXY
    assert not urllib.request.proxy_bypass("pypi.org")
    assert exempt_loopback_from_proxy() is None  # once is enough


def test_every_sandbox_command_exempts_loopback(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`Sandbox` is what up, down, status and the sandbox target are built on."""
    environ.setenv("http_proxy", UNREACHABLE_PROXY)
    sandbox = Sandbox(tmp_path / "sandbox", tmp_path / "triton-env")
    assert sandbox.proxy_note is not None
    assert urllib.request.proxy_bypass("127.0.0.1")
