"""The HAProxy front door for real: HAProxy in front of tiny HTTP servers standing in for the
stacks' Triton endpoints (health toggled to 503 or hung, inference hung), on loopback."""

from __future__ import annotations

import json
import os
import socket
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox import frontdoor
from sandbox.frontdoor import (
    Backend,
    FrontDoor,
    FrontDoorError,
    FrontDoorSettings,
    private_socket_path,
    remove_admin_socket,
    render_config,
)

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

try:
    frontdoor.haproxy_binary()
    HAVE_HAPROXY = True
except FrontDoorError:
    HAVE_HAPROXY = False
needs_haproxy = pytest.mark.skipif(not HAVE_HAPROXY, reason="haproxy missing: run make bootstrap")

SETTINGS = FrontDoorSettings(
    check_interval_ms=100,
    fall=2,
    rise=2,
    check_timeout_ms=100,
    server_timeout_ms=300,
    connect_timeout_ms=200,
    retries=2,
)
HANG_S = 3.0  # longer than any timeout above; released at teardown


class FakeTriton:
    """A tiny HTTP server answering Triton's readiness and inference routes, naming itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.health = "ok"  # ok | fail (503) | hang
        self.infer_hang = False
        self.infer_calls = 0
        self.release = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _handler(triton: FakeTriton) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: bytes = b"") -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # HAProxy gave up on a hung answer and closed the connection
                pass

        def do_GET(self) -> None:
            if self.path != "/v2/health/ready":
                return self._reply(404)
            if triton.health == "hang":
                triton.release.wait(HANG_S)
            self._reply(200 if triton.health == "ok" else 503)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v2/models/demo/infer":
                return self._reply(404)
            triton.infer_calls += 1
            if triton.infer_hang:
                triton.release.wait(HANG_S)
            self._reply(200, json.dumps({"model_name": "demo", "served_by": triton.name}).encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def infer(door: FrontDoor) -> tuple[str, str, float]:
    """One inference through the front door: (x-served-by, the body's served_by, seconds)."""
    body = json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})
    request = urllib.request.Request(
        f"{door.endpoint}/v2/models/demo/infer", data=body.encode(), method="POST"
    )
    began = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        payload = json.loads(response.read())
        return response.headers["x-served-by"], payload["served_by"], time.monotonic() - began


def served(door: FrontDoor, n: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for _ in range(n):
        header, name, _ = infer(door)
        assert header == name
        counts[header] += 1
    return counts


def wait_for_status(door: FrontDoor, stack: str, status: str, limit_s: float) -> float:
    began = time.monotonic()
    while (now := door.server_status()[stack]) != status:
        assert time.monotonic() - began < limit_s, f"{stack} still {now}, not {status}"
        time.sleep(0.02)
    return time.monotonic() - began


@pytest.fixture
def tritons() -> Iterator[dict[str, FakeTriton]]:
    servers = {name: FakeTriton(name) for name in ("aws-primary", "gcp-standby")}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


@pytest.fixture
def make_door(tmp_path: Path, tritons: dict[str, FakeTriton]) -> Iterator[Callable[..., FrontDoor]]:
    doors: list[FrontDoor] = []

    def make(
        weights: dict[str, int] | None = None, start: bool = True, failover: bool = False
    ) -> FrontDoor:
        """A door over the fake stacks; with `failover`, gcp-standby is a failover target."""
        weights = weights or {}
        backends = [
            Backend(n, t.address, weights.get(n, 100), failover and n == "gcp-standby")
            for n, t in tritons.items()
        ]
        door = FrontDoor(tmp_path / f"door{len(doors)}", free_port(), backends, SETTINGS)
        doors.append(door)
        if start:
            door.start()
        return door

    try:
        yield make
    finally:
        for door in doors:
            door.stop()


def test_render_config_has_the_front_door_directives(tmp_path: Path) -> None:
    backends = [
        Backend("aws-primary", "127.0.0.1:8000", 100),
        Backend("gcp-edge", "127.0.0.1:8001", 0),
    ]
    text = render_config("127.0.0.1:9000", backends, SETTINGS, tmp_path / "s.sock", stats_port=9001)
    for line in (
        f"stats socket {tmp_path / 's.sock'} mode 600 level admin",
        "maxconn 4096",
        "timeout server 300ms",
        "retries 2",
        "option redispatch 1",
        "retry-on conn-failure empty-response response-timeout 503",
        "option http-buffer-request",
        "bind 127.0.0.1:9000",
        "option httpchk GET /v2/health/ready",
        "http-check expect status 200",
        "default-server inter 100ms fastinter 100ms fall 2 rise 2 "
        "observe layer4 error-limit 1 on-error mark-down",
        "option allbackups",
        "timeout check 100ms",
        "http-response set-header x-served-by %[srv_name,field(1,.)]",
        "server aws-primary 127.0.0.1:8000 weight 100 check",
        "server gcp-edge 127.0.0.1:8001 weight 0 check",
        "bind 127.0.0.1:9001",
    ):
        assert f"    {line}\n" in text, line
    with pytest.raises(FrontDoorError, match=r"127\.0\.0\.1"):
        render_config("0.0.0.0:9000", backends, SETTINGS, tmp_path / "s.sock")
    with pytest.raises(ValueError, match=r"0\.\.256"):
        Backend("aws-primary", "127.0.0.1:8000", 257)
    with pytest.raises(ValueError, match="stack name"):
        Backend("aws primary\nshutdown", "127.0.0.1:8000", 1)


def test_haproxy_binary_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontdoor.shutil, "which", lambda name: None)
    monkeypatch.setattr(frontdoor, "FALLBACK_BINARY", Path("/nonexistent/haproxy"))
    with pytest.raises(FrontDoorError, match="apt-get install haproxy"):
        frontdoor.haproxy_binary()


@needs_haproxy
def test_responses_name_the_stack_that_served(make_door: Callable[..., FrontDoor]) -> None:
    door = make_door()
    assert door.pid is not None and door.endpoint.startswith("http://127.0.0.1:")
    assert door.server_status() == {"aws-primary": "UP", "gcp-standby": "UP"}
    assert served(door, 10) == {"aws-primary": 5, "gcp-standby": 5}  # round robin, equal weights


@needs_haproxy
def test_weights_steer_traffic_at_runtime_without_restart(
    make_door: Callable[..., FrontDoor],
) -> None:
    door = make_door({"aws-primary": 100, "gcp-standby": 0})
    pid = door.pid
    assert door.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert served(door, 30) == {"aws-primary": 30}

    door.set_weight("aws-primary", 50)
    door.set_weight("gcp-standby", 50)
    assert door.weights() == {"aws-primary": 50, "gcp-standby": 50}
    counts = served(door, 200)
    for stack in ("aws-primary", "gcp-standby"):
        assert 0.35 <= counts[stack] / 200 <= 0.65, counts

    door.set_weight("aws-primary", 0)
    assert served(door, 30) == {"gcp-standby": 30}
    assert door.pid == pid  # the runtime API, no reload

    with pytest.raises(ValueError, match=r"0\.\.256"):
        door.set_weight("gcp-standby", 300)
    with pytest.raises(FrontDoorError, match="No such server"):
        door.set_weight("azure-standby", 10)

    # another process (a drill) drives the same HAProxy through its admin socket
    other = FrontDoor(door.workdir, door.listen_port, [])
    other.admin_socket = door.admin_socket
    other.set_weight("aws-primary", 7)
    assert other.weights() == {"aws-primary": 7, "gcp-standby": 50}


@needs_haproxy
@pytest.mark.parametrize("failure", ["fail", "hang"])
def test_unhealthy_stack_goes_down_and_traffic_moves(
    make_door: Callable[..., FrontDoor], tritons: dict[str, FakeTriton], failure: str
) -> None:
    door = make_door()
    tritons["gcp-standby"].health = failure
    detect_s = SETTINGS.fall * (SETTINGS.check_interval_ms + SETTINGS.check_timeout_ms) / 1000
    took = wait_for_status(door, "gcp-standby", "DOWN", limit_s=detect_s + 1.0)
    assert took <= detect_s + 1.0
    assert served(door, 20) == {"aws-primary": 20}

    tritons["gcp-standby"].health = "ok"
    wait_for_status(door, "gcp-standby", "UP", limit_s=SETTINGS.rise * 0.1 + 1.0)
    assert set(served(door, 10)) == {"aws-primary", "gcp-standby"}


@needs_haproxy
def test_hung_stack_costs_at_most_the_server_timeout(
    make_door: Callable[..., FrontDoor], tritons: dict[str, FakeTriton]
) -> None:
    door = make_door()
    tritons["aws-primary"].infer_hang = True  # health checks still pass
    timings = []
    for _ in range(4):
        header, name, seconds = infer(door)
        assert header == name == "gcp-standby"
        timings.append(seconds)
    timeout_s = SETTINGS.server_timeout_ms / 1000
    assert tritons["aws-primary"].infer_calls >= 1  # it was tried, then the request replayed
    assert max(timings) >= timeout_s * 0.9
    assert max(timings) <= timeout_s + 0.5, timings
    assert door.server_status()["aws-primary"] == "UP"


@needs_haproxy
def test_drain_takes_a_stack_out_of_new_traffic(make_door: Callable[..., FrontDoor]) -> None:
    door = make_door()
    door.drain("aws-primary")
    assert door.server_status() == {"aws-primary": "DRAIN", "gcp-standby": "UP"}
    assert served(door, 20) == {"gcp-standby": 20}
    door.ready("aws-primary")
    assert door.server_status() == {"aws-primary": "UP", "gcp-standby": "UP"}
    assert served(door, 10) == {"aws-primary": 5, "gcp-standby": 5}


@needs_haproxy
def test_bad_config_raises_the_checker_message(tmp_path: Path) -> None:
    door = FrontDoor(tmp_path, free_port(), [Backend("aws-primary", "127.0.0.1:99999", 100)])
    with pytest.raises(FrontDoorError, match="invalid port '99999'"):
        door.start()
    assert door.pid is None


@needs_haproxy
def test_stop_leaves_no_haproxy_process(make_door: Callable[..., FrontDoor]) -> None:
    door = make_door()
    pid = door.pid
    assert pid is not None
    door.stop()
    assert door.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(urllib.error.URLError):
        infer(door)
    door.stop()  # idempotent
    with pytest.raises(FrontDoorError, match="is HAProxy running"):
        door.weights()
    assert door.start() != pid  # and startable again


@needs_haproxy
def test_a_deep_workdir_puts_the_admin_socket_in_a_private_folder(
    tmp_path: Path, tritons: dict[str, FakeTriton]
) -> None:
    port = free_port()
    predictable = Path(tempfile.gettempdir()) / f"frontdoor-{os.getpid()}-{port}"
    predictable.mkdir(mode=0o777)  # what another local user could have made beforehand
    backends = [Backend(n, t.address, 100) for n, t in tritons.items()]
    door = FrontDoor(tmp_path / ("deep" * 25), port, backends, SETTINGS)
    try:
        door.start()
        folder = door.admin_socket.parent
        assert folder != predictable and not any(predictable.iterdir())
        assert folder.parent == Path(tempfile.gettempdir())
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert folder.stat().st_uid == os.getuid()
        assert door.weights() == {"aws-primary": 100, "gcp-standby": 100}
    finally:
        door.stop()
        predictable.rmdir()
    assert not folder.exists(), "stop removes the private folder"
    assert door.admin_socket == door.workdir / "haproxy.sock", "a restart makes a new one"


def test_removing_an_admin_socket_keeps_a_folder_it_did_not_make(tmp_path: Path) -> None:
    socket_path = tmp_path / "haproxy.sock"
    socket_path.write_text("")
    remove_admin_socket(socket_path)
    assert not socket_path.exists() and tmp_path.exists()
    private = private_socket_path()
    private.write_text("")
    remove_admin_socket(private)
    assert not private.parent.exists()


def test_a_standby_s_backup_server_is_rendered_in_both_frontends(tmp_path: Path) -> None:
    backends = [
        Backend("aws-primary", "127.0.0.1:8000", 100),
        Backend("gcp-standby", "127.0.0.1:8001", 0, failover=True),
    ]
    text = render_config("127.0.0.1:9000", backends, SETTINGS, tmp_path / "s.sock", dns_port=9002)
    backup = "    server gcp-standby.failover 127.0.0.1:8001 backup track be_stacks/gcp-standby\n"
    assert text.count(backup) == 2  # the retrying front door's backend and the DNS one
    assert "aws-primary.failover" not in text  # a primary is no failover target


@needs_haproxy
def test_a_dead_primary_fails_over_to_the_standby_without_a_failed_request(
    make_door: Callable[..., FrontDoor], tritons: dict[str, FakeTriton]
) -> None:
    """The standby holds no weight, as before a failover: once the primary's process is gone
    (connections refused), the first request that meets the refusal marks it down and is
    retried on the standby's backup server, and every later one goes there: no request fails
    and no weight moves. The backup servers are not stacks: weights and status omit them."""
    door = make_door({"aws-primary": 100, "gcp-standby": 0}, failover=True)
    assert door.weights() == {"aws-primary": 100, "gcp-standby": 0}
    assert set(door.server_status()) == {"aws-primary", "gcp-standby"}
    assert served(door, 10) == {"aws-primary": 10}
    tritons["aws-primary"].close()  # its port now refuses connections
    assert served(door, 20) == {"gcp-standby": 20}  # served() asserts each answer is a 200
    assert door.server_status()["aws-primary"] == "DOWN"
    assert door.weights() == {"aws-primary": 100, "gcp-standby": 0}


@needs_haproxy
def test_without_a_failover_target_a_dead_primary_fails_requests(
    make_door: Callable[..., FrontDoor], tritons: dict[str, FakeTriton]
) -> None:
    """The same dead primary with a standby that is no failover target: the requests fail
    (503) until someone moves the weight, as the failover test above would if its backup
    servers did not work."""
    door = make_door({"aws-primary": 100, "gcp-standby": 0})
    tritons["aws-primary"].close()
    with pytest.raises(urllib.error.HTTPError) as caught:
        for _ in range(5):
            infer(door)
    assert caught.value.code == 503


@needs_haproxy
def test_answers_name_the_stack_not_the_replica_server(
    tmp_path: Path, tritons: dict[str, FakeTriton]
) -> None:
    """A stack's second replica is server "<stack>.r2": its answers still name the stack."""
    address = tritons["gcp-standby"].address
    door = FrontDoor(
        tmp_path / "door", free_port(), [Backend("gcp-standby.r2", address, 100)], SETTINGS
    )
    door.start()
    try:
        header, body, _ = infer(door)
        assert (header, body) == ("gcp-standby", "gcp-standby")
    finally:
        door.stop()
