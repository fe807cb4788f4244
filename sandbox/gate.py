"""The permission gate: an HTTP reverse proxy in front of a store emulator (the GCS emulator,
Azurite) that lets one identity do what its planned roles allow, and nothing else.

One gate per identity, on its own port (the emulators check no identity, so the port is the
identity). Each request is mapped to the permission the cloud documents for it
(`components.catalog.store_permissions.permission_for`); the gate checks it against the
permissions of the roles granted on that request's bucket or container (`--grant B=ROLE,...`;
`*` is the project or account, whose grants hold on every bucket), forwards an allowed request
to the emulator unchanged (bodies streamed, keep-alive kept) and answers a refused one with the
cloud's own 403 (`sandbox.denials`). A request no catalog row maps is refused too. Every
decision is one line on stdout: `allow|deny METHOD PATH PERMISSION|unmapped (operation)`.

Revocation: while the gate's revocation marker exists (`revocation_marker`), the principal holds
no permission at all and every request is refused with the same 403 (" revoked" ends its log
line). That is what the clouds' own revocations of a workload identity do: a Google Cloud IAM
deny policy on the principal (https://cloud.google.com/iam/docs/deny-overview), the deletion of
an Azure role assignment (AuthorizationPermissionMismatch until it is restored). Removing the
marker lifts it, as removing the deny policy or restoring the assignment would.

    python -m sandbox.gate --listen-port P --upstream http://127.0.0.1:Q --cloud gcp \\
        --principal triton@gcp-standby --grant models=roles/storage.objectViewer
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from components.catalog.clouds import facts
from components.catalog.store_permissions import RequestPermission, permission_for, permissions_of
from components.errors import ExitplanError
from sandbox.denials import DENIALS, Denial, Refused
from sandbox.errors import SandboxError
from sandbox.stores import start_process

ANY_BUCKET = "*"  # a grant on the project (GCP) or storage account (Azure)
CHUNK = 64 * 1024
UPSTREAM_TIMEOUT_S = 300.0
# Hop-by-hop headers (RFC 9110 7.6.1) are the gate's own on each side; Expect is answered by
# the gate (http.server sends 100 Continue itself).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)


@dataclass(frozen=True)
class Policy:
    """Who the gate lets through: a principal, its cloud and scheme, and the permissions it
    holds per bucket (`ANY_BUCKET` for the project or account)."""

    cloud: str
    scheme: str
    principal: str
    held: Mapping[str, frozenset[str]]

    def allows(self, needed: RequestPermission) -> bool:
        """Whether the permission is held on the request's bucket (or on the project)."""
        scopes = {ANY_BUCKET} if needed.bucket is None else {needed.bucket, ANY_BUCKET}
        return any(needed.permission in self.held.get(scope, frozenset()) for scope in scopes)


def policy(cloud: str, principal: str, grants: Mapping[str, Sequence[str]]) -> Policy:
    """The policy of `principal` holding `grants` (bucket -> roles) on `cloud`'s store; a role
    the catalog does not know, or a cloud whose store has no gate, is an error."""
    scheme = facts(cloud).store_scheme
    if scheme not in DENIALS:
        raise SandboxError(
            f"no permission gate for {cloud}'s {scheme}:// store",
            fix=f"gates stand in front of: {', '.join(DENIALS)}",
        )
    held = {bucket: permissions_of(cloud, roles) for bucket, roles in grants.items()}
    return Policy(cloud, scheme, principal, held)


class GateHandler(BaseHTTPRequestHandler):
    """One client connection: each request decided, then forwarded or refused."""

    protocol_version = "HTTP/1.1"
    server: GateServer

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the decision lines are the gate's log."""

    def gate(self) -> None:
        """Decide, log, then forward or refuse."""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        gate = self.server.policy
        needed = permission_for(gate.cloud, self.command, url.path, query)
        revoked = self.server.revoked()
        allowed = needed is not None and not revoked and gate.allows(needed)
        what = f"{needed.permission} ({needed.operation})" if needed else "unmapped"
        decision = f"{'allow' if allowed else 'deny'} {self.command} {self.path} {what}"
        self.server.log(decision + (" revoked" if revoked else ""))
        if allowed:
            self.forward()
            return
        self.discard_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        refused = Refused(gate.principal, self.command, url.path, needed, headers)
        self.answer(DENIALS[gate.scheme](refused))

    # Every method goes through the same gate (one the catalog does not map is refused).
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = gate

    def answer(self, denial: Denial) -> None:
        """Send the cloud's refusal."""
        self.send_response(denial.status)
        for name, value in denial.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(denial.body)

    def body_chunks(self) -> Iterable[bytes]:
        """The request body as it arrives (Content-Length or chunked)."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining > 0:
            data = self.rfile.read(min(CHUNK, remaining))
            if not data:
                return
            remaining -= len(data)
            yield data

    def discard_body(self) -> None:
        """Read a refused request's body, so the connection stays usable."""
        for _ in self.body_chunks():
            pass

    def forward(self) -> None:
        """Send the request upstream as it came and stream the answer back."""
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        connection = self.server.upstream()
        try:
            connection.putrequest(
                self.command, self.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            if chunked:
                connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for data in self.body_chunks():
                connection.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
        except OSError as exc:
            connection.close()
            self.send_error(502, f"upstream {self.server.upstream_address}: {exc}")
            return
        self.relay(response)
        response.close()
        connection.close()

    def relay(self, response: http.client.HTTPResponse) -> None:
        """The upstream answer, re-framed for this connection (length kept, else chunked)."""
        self.send_response_only(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        bodiless = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        rechunk = length is None and not bodiless
        if rechunk:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if bodiless:
            return
        while data := response.read(CHUNK):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if rechunk else data)
        if rechunk:
            self.wfile.write(b"0\r\n\r\n")


class GateServer(ThreadingHTTPServer):
    """The gate's listener on 127.0.0.1: a thread per connection, a lock around the log."""

    daemon_threads = True

    def __init__(
        self, port: int, upstream: str, gate_policy: Policy, marker: Path | None = None
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise SandboxError(f"upstream {upstream!r} is not http://host:port")
        self.upstream_address = (parts.hostname, parts.port)
        self.policy = gate_policy
        self.marker = marker
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", port), GateHandler)

    def upstream(self) -> http.client.HTTPConnection:
        """A new connection to the emulator (one per forwarded request)."""
        host, port = self.upstream_address
        return http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_S)

    def revoked(self) -> bool:
        """Whether the principal's access is revoked now (its revocation marker exists)."""
        return self.marker is not None and self.marker.exists()

    def log(self, line: str) -> None:
        """One decision line on stdout."""
        with self._lock:
            print(line, flush=True)


def parse_grants(values: Iterable[str]) -> dict[str, list[str]]:
    """`BUCKET=ROLE[,ROLE]` arguments (repeatable) -> bucket -> roles."""
    grants: dict[str, list[str]] = {}
    for value in values:
        bucket, sep, roles = value.partition("=")
        if not sep or not bucket or not roles:
            raise SandboxError(f"--grant {value!r} is not BUCKET=ROLE[,ROLE]")
        grants.setdefault(bucket, []).extend(r.strip() for r in roles.split(",") if r.strip())
    return grants


def main(argv: Sequence[str] | None = None) -> int:
    """Run a gate until interrupted; exit 2 on bad arguments."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.gate", description=__doc__)
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--cloud", required=True)
    parser.add_argument("--principal", required=True)
    parser.add_argument("--grant", action="append", default=[], metavar="BUCKET=ROLE[,ROLE]")
    parser.add_argument(
        "--revocation-marker", type=Path, help="while this file exists, every request is refused"
    )
    args = parser.parse_args(argv)
    try:
        grants = parse_grants(args.grant)
        gate_policy = policy(args.cloud, args.principal, grants)
        server = GateServer(args.listen_port, args.upstream, gate_policy, args.revocation_marker)
    except (SandboxError, ExitplanError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 2
    held = " ".join(f"{bucket}={','.join(roles)}" for bucket, roles in grants.items())
    server.log(f"gate {args.principal} on 127.0.0.1:{args.listen_port} -> {args.upstream} {held}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def gate_log(workdir: Path, port: int) -> Path:
    """The decision log of the gate on `port`."""
    return workdir / f"gate-{port}.log"


def revocation_marker(log: Path) -> Path:
    """The file whose existence revokes the principal of the gate logging to `log`."""
    return log.with_suffix(".revoked")


def start_gate(
    workdir: Path,
    port: int,
    upstream: str,
    cloud: str,
    principal: str,
    grants: Mapping[str, Sequence[str]],
) -> subprocess.Popen[bytes]:
    """Start a gate for `principal` on `port` in front of `upstream`, its decisions logged in
    `gate_log(workdir, port)` (its revocation marker beside it, absent: not revoked), and
    wait until it accepts connections."""
    log = gate_log(workdir, port)
    revocation_marker(log).unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "sandbox.gate",
        "--listen-port",
        str(port),
        "--upstream",
        upstream,
        "--cloud",
        cloud,
        "--principal",
        principal,
        "--revocation-marker",
        str(revocation_marker(log)),
    ]
    for bucket, roles in grants.items():
        command += ["--grant", f"{bucket}={','.join(roles)}"]

    def ready() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    return start_process(command, log, ready, f"gate for {principal}")


if __name__ == "__main__":
    sys.exit(main())
