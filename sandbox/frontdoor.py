"""HAProxy as the sandbox's front door: the stand-in for the DNS/global load balancer of the real
stacks, balancing across one Triton HTTP endpoint per stack, with health checks, retries that
redispatch to another stack, and weights/drain changed at runtime over the admin socket.

A standby is also a failover target, as the secondary of a DNS failover record is: besides its
weighted server it has a `backup` server (same address, tracking the weighted one's health)
that takes the traffic as soon as every weighted server is down, with no one moving a weight.
A server is marked down by its health checks or by the first connection error live traffic
meets (`observe layer4`), and the request that met it is retried on the standby."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sandbox.errors import SandboxError
from sandbox.processes import stop_process

BACKEND = "be_stacks"
# The same servers (tracking be_stacks' health checks) with no retry and no redispatch: a failed
# request fails, as it does for a client a DNS router sent to a dead stack. `--router dns`.
DNS_BACKEND = "be_dns"
FALLBACK_BINARY = Path("/usr/sbin/haproxy")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FAILOVER_SUFFIX = ".failover"  # the backup server of a standby: "<server>.failover"
# Answers name the stack that served them: the server's name up to its first dot (a replica's
# server is "<stack>.r<n>", a standby's backup "<server>.failover"; stack names have no dot:
# components.stack_config refuses one).
_SERVED_BY = "%[srv_name,field(1,.)]"
_TRANSITION = re.compile(r" \d+/\d+$")
_MAX_SOCKET_PATH = 90  # HAProxy 2.6 refuses socket paths over 97 bytes (sun_path is 108)
_SOCKET_FOLDER_PREFIX = "exitplan-frontdoor-"


class FrontDoorError(SandboxError):
    """The front door could not be configured, started or driven."""


@dataclass(frozen=True)
class Backend:
    """One stack behind the front door: its HAProxy server name, address and weight; a
    `failover` one (a standby) also takes the traffic when every weighted server is down."""

    stack: str
    address: str
    weight: int = 100
    failover: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.stack):
            raise ValueError(f"invalid stack name for an HAProxy server: {self.stack!r}")
        _check_weight(self.weight)


@dataclass(frozen=True)
class FrontDoorSettings:
    """Health check, timeout and retry settings of the front door."""

    check_interval_ms: int = 500
    # after a first failed (or passed) check the next ones come this fast, so a dead stack is
    # marked down one fast check after the first failure, not one full interval later
    check_fastinter_ms: int = 100
    fall: int = 2
    rise: int = 2
    check_timeout_ms: int = 300
    # live traffic's connection errors mark a server down at once (a killed stack refuses
    # connections well before two failed health checks), so the retry goes to the standby
    observe_errors: int = 1
    server_timeout_ms: int = 2000
    connect_timeout_ms: int = 500
    # a request is tried up to 1 + retries times: on another stack when one is weighted, else
    # on the same one (a stack reloading its model on a busy 2-core box stalled one request
    # past 3 x the 200 ms server timeout once in ~25 credential-revocation runs). When a stack
    # of two replicas is killed, HAProxy applies the mark-down of the dead servers
    # asynchronously: with 3 retries, the request in flight at the kill was retried three
    # times on the other dead replica within 19 ms and failed (503, SC--) in about one
    # failover in two (MiniLM, 50 req/s); with 8, none of 8. A refused connection's retry
    # costs milliseconds.
    retries: int = 8
    served_by_header: str = "x-served-by"
    # what a health check asks each server: the planned readiness probe's path (the model's
    # own readiness: /v2/health/ready answers 200 on an empty repository)
    check_path: str = "/v2/health/ready"


def _check_weight(weight: int) -> None:
    if not 0 <= weight <= 256:
        raise ValueError(f"HAProxy weights are 0..256, not {weight}")


def haproxy_binary() -> str:
    """The HAProxy executable; FrontDoorError if it is not installed."""
    if found := shutil.which("haproxy"):
        return found
    if os.access(FALLBACK_BINARY, os.X_OK):
        return str(FALLBACK_BINARY)
    raise FrontDoorError(
        "haproxy is not installed", fix="apt-get install haproxy (make bootstrap does it as root)"
    )


def render_config(
    listen: str,
    backends: Sequence[Backend],
    settings: FrontDoorSettings,
    admin_socket: Path,
    stats_port: int | None = None,
    dns_port: int | None = None,
) -> str:
    """The HAProxy 2.6 configuration: one frontend on `listen` (loopback only), one backend;
    with `dns_port`, a second frontend there whose backend neither retries nor redispatches."""
    host, _, port = listen.rpartition(":")
    if host != "127.0.0.1" or not port.isdigit():
        raise FrontDoorError(f"the front door listens on 127.0.0.1:<port> only, not {listen!r}")
    if not backends:
        raise FrontDoorError("the front door needs at least one backend")
    s = settings
    checks = (
        f"inter {s.check_interval_ms}ms fastinter {s.check_fastinter_ms}ms "
        f"fall {s.fall} rise {s.rise} "
        f"observe layer4 error-limit {s.observe_errors} on-error mark-down"
    )
    client_timeout_ms = max(30_000, (s.retries + 1) * (s.server_timeout_ms + s.connect_timeout_ms))
    text = f"""global
    maxconn 4096
    stats socket {admin_socket} mode 600 level admin

defaults
    mode http
    option http-keep-alive
    option http-buffer-request
    timeout connect {s.connect_timeout_ms}ms
    timeout client {client_timeout_ms}ms
    timeout server {s.server_timeout_ms}ms
    timeout http-request 10s
    retries {s.retries}
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 503

frontend fe_inference
    bind {listen}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option allbackups
    option httpchk GET {s.check_path}
    http-check expect status 200
    default-server {checks}
    timeout check {s.check_timeout_ms}ms
    http-response set-header {s.served_by_header} {_SERVED_BY}
"""
    lines = [f"    server {b.stack} {b.address} weight {b.weight} check" for b in backends]
    lines += _failover_servers(backends)
    if dns_port is not None:
        lines += ["", "frontend fe_dns", f"    bind 127.0.0.1:{dns_port}"]
        lines += [f"    default_backend {DNS_BACKEND}", "", f"backend {DNS_BACKEND}"]
        lines += ["    balance roundrobin", "    option allbackups", "    retries 0"]
        lines += [
            "    no option redispatch",
            f"    http-response set-header {s.served_by_header} {_SERVED_BY}",
        ]
        lines += [
            f"    server {b.stack} {b.address} weight {b.weight} track {BACKEND}/{b.stack}"
            for b in backends
        ]
        lines += _failover_servers(backends)
    if stats_port is not None:
        lines += ["", "listen stats", f"    bind 127.0.0.1:{stats_port}", "    stats enable"]
        lines += ["    stats uri /stats", "    stats refresh 5s"]
    return text + "\n".join(lines) + "\n"


def _failover_servers(backends: Sequence[Backend]) -> list[str]:
    """A `backup` server per standby server, tracking the weighted one's health: HAProxy sends
    it the traffic once every weighted server is down (`option allbackups`: all of them)."""
    return [
        f"    server {b.stack}{FAILOVER_SUFFIX} {b.address} backup track {BACKEND}/{b.stack}"
        for b in backends
        if b.failover
    ]


def _weighted(server: str) -> bool:
    """Whether a server is a stack's weighted one (not a standby's backup)."""
    return not server.endswith(FAILOVER_SUFFIX)


class FrontDoor:
    """An HAProxy process (foreground, `-db`) in front of the stacks' Triton endpoints."""

    def __init__(
        self,
        workdir: Path,
        listen_port: int,
        backends: Sequence[Backend],
        settings: FrontDoorSettings = FrontDoorSettings(),
        dns_port: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.listen_port = listen_port
        self.dns_port = dns_port
        self.backends = tuple(backends)
        self.settings = settings
        self.config_path = self.workdir / "haproxy.cfg"
        self.log_path = self.workdir / "haproxy.log"
        self.admin_socket = self.workdir / "haproxy.sock"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The HAProxy process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @property
    def endpoint(self) -> str:
        """The front door's URL."""
        return f"http://127.0.0.1:{self.listen_port}"

    @property
    def dns_endpoint(self) -> str:
        """The URL of the frontend without retries or redispatch ('' when there is none)."""
        return f"http://127.0.0.1:{self.dns_port}" if self.dns_port is not None else ""

    def start(self, *, timeout_s: float = 10) -> int:
        """Validate the config, start HAProxy, wait until it accepts connections; the pid."""
        if self.pid is not None:
            return self.pid
        binary = haproxy_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        if len(str(self.admin_socket)) > _MAX_SOCKET_PATH:  # too long for a unix socket path
            self.admin_socket = private_socket_path()
        text = render_config(
            f"127.0.0.1:{self.listen_port}",
            self.backends,
            self.settings,
            self.admin_socket,
            dns_port=self.dns_port,
        )
        self.config_path.write_text(text)
        check = subprocess.run(
            [binary, "-c", "-f", str(self.config_path)], capture_output=True, text=True, timeout=30
        )
        if check.returncode != 0:
            out = (check.stdout + check.stderr).strip()
            raise FrontDoorError(f"invalid HAProxy config {self.config_path}:\n{out}")
        if _accepts(self.listen_port):
            raise FrontDoorError(f"port {self.listen_port} is already in use")
        self.admin_socket.unlink(missing_ok=True)
        self._log = self.log_path.open("ab")
        argv = [binary, "-f", str(self.config_path), "-db"]
        self._proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while not (_accepts(self.listen_port) and self.admin_socket.exists()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                why = f"haproxy is not serving 127.0.0.1:{self.listen_port} after {timeout_s}s"
                raise FrontDoorError(f"{why}; {self.log_path} ends:\n{self.log_tail()}")
            time.sleep(0.02)
        return self._proc.pid

    def stop(self, timeout_s: float = 5) -> None:
        """Stop HAProxy (SIGTERM, then SIGKILL after `timeout_s`); idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                stop_process(self._proc.pid, timeout_s)
                self._proc.poll()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        remove_admin_socket(self.admin_socket)
        self.admin_socket = self.workdir / "haproxy.sock"

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of HAProxy's output."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def command(self, command: str, timeout_s: float = 5) -> str:
        """Send one runtime API command over the admin socket; its whole answer. Works for an
        HAProxy started by another FrontDoor object too (set `admin_socket` to its socket)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            try:
                sock.connect(str(self.admin_socket))
                sock.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except OSError as exc:
                why = f"the front door's admin socket {self.admin_socket} does not answer"
                raise FrontDoorError(f"{why} ({exc}): is HAProxy running?") from exc
        return b"".join(chunks).decode(errors="replace")

    def _set(self, command: str) -> None:
        answer = self.command(command).strip()
        if answer:
            raise FrontDoorError(f"runtime API {command!r} failed: {answer}")

    def _server(self, stack: str) -> str:
        if not _NAME.match(stack):  # nothing that could smuggle a second command
            raise FrontDoorError(f"no stack {stack!r} behind the front door")
        return f"{BACKEND}/{stack}"

    def set_weight(self, stack: str, weight: int) -> None:
        """Change a stack's weight at runtime (no reload, no dropped connections)."""
        _check_weight(weight)
        self._set(f"set weight {self._server(stack)} {weight}")
        if self.dns_port is not None:
            self._set(f"set weight {DNS_BACKEND}/{stack} {weight}")

    def weights(self) -> dict[str, int]:
        """The current (user-set) weight of every stack."""
        lines = self.command(f"show servers state {BACKEND}").splitlines()
        header = next((ln[1:].split() for ln in lines if ln.startswith("#")), None)
        if header is None:
            raise FrontDoorError(f"unexpected 'show servers state' answer: {lines!r}")
        rows = [dict(zip(header, ln.split(), strict=False)) for ln in lines[1:] if ln[:1].isdigit()]
        return {r["srv_name"]: int(r["srv_uweight"]) for r in rows if _weighted(r["srv_name"])}

    def drain(self, stack: str) -> None:
        """Take a stack out of new traffic (health checks go on)."""
        self._set(f"set server {self._server(stack)} state drain")

    def maintain(self, stack: str) -> None:
        """Take a stack out of traffic at once (MAINT: its backups take over if it was the
        last one weighted)."""
        self._set(f"set server {self._server(stack)} state maint")

    def ready(self, stack: str) -> None:
        """Put a drained (or maintained) stack back into traffic."""
        self._set(f"set server {self._server(stack)} state ready")

    def server_status(self) -> dict[str, str]:
        """Each stack's status from `show stat`: UP, DOWN, DRAIN, MAINT (or NOLB/no check)."""
        lines = self.command("show stat").splitlines()
        if not lines or not lines[0].startswith("# "):
            raise FrontDoorError(f"unexpected 'show stat' answer: {lines[:3]!r}")
        rows = [dict(zip(lines[0][2:].split(","), ln.split(","), strict=False)) for ln in lines]
        proxies = ("FRONTEND", "BACKEND")
        servers = [
            r
            for r in rows[1:]
            if r.get("pxname") == BACKEND and r["svname"] not in proxies and _weighted(r["svname"])
        ]
        # "UP 1/2" (going down) is still UP, "DOWN 1/2" (coming up) still DOWN
        return {r["svname"]: _TRANSITION.sub("", r["status"]) for r in servers}


def private_socket_path() -> Path:
    """An admin socket path in a fresh folder of the temp dir that only this user can enter
    (`mkdtemp`: an unpredictable name, mode 0700), for a workdir too deep for a socket path. A
    predictable folder could be made first by another local user, who would then hold the
    level-admin socket the drills steer weights through."""
    return Path(tempfile.mkdtemp(prefix=_SOCKET_FOLDER_PREFIX)) / "haproxy.sock"


def remove_admin_socket(path: Path) -> None:
    """Remove the admin socket, and its folder when `private_socket_path` made it."""
    path.unlink(missing_ok=True)
    folder = path.parent
    if folder.parent == Path(tempfile.gettempdir()) and folder.name.startswith(
        _SOCKET_FOLDER_PREFIX
    ):
        shutil.rmtree(folder, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
