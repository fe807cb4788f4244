"""`LiveTarget`: the `Target` of real deployed stacks, built from their stack outputs (the typed
contract `components.outputs.StackOutputs`, read with `pulumi stack output --json`).

It probes each stack's Triton readiness over HTTP and answers from the outputs (store URI,
model digest); the router cloud's adapter (`live/<cloud>/`, a `Router`) reads and shifts the
DNS weights and waits until the change has propagated; a stack's cloud adapter revokes and
restores its store credentials (`StoreCredentials`: on AWS, a deny policy on the IRSA role, or
an IAM user's key). What it cannot do live is data (`unsupported`, each with its reason),
checked before a drill or an experiment starts; a method called anyway raises
`LiveTargetError` with the same reason. Every call is appended, with its time, to `log` (for
the drill's journal)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol
from urllib.parse import urlparse

from components.catalog.clouds import clouds, facts, triton_wire
from components.outputs import StackOutputs
from runbooks.errors import LiveTargetError

PROCESS_FAULTS = (
    "process faults are rehearsed on the sandbox; on live stacks use the chaos experiments' "
    "Kubernetes actions (the live target has no process access to the Triton pods of a "
    "managed cluster)"
)
REDEPLOY = (
    "a live redeploy is `pulumi up` or a rollout restart of the Triton deployment; not "
    "automated here"
)
# What the live target cannot do on any stack, and why.
UNSUPPORTED: dict[str, str] = {
    "kill": PROCESS_FAULTS,
    "restart": PROCESS_FAULTS,
    "hang": PROCESS_FAULTS,
    "resume": PROCESS_FAULTS,
}
# Operations on a stack's store credentials, done by the adapter of the stack's identity.
CREDENTIAL_OPERATIONS = ("revoke_credentials", "rotate_credentials", "credential_state")
# The catalog gap (cloud_gaps.csv) of a cloud whose identity the live target cannot revoke.
REVOCATION_GAP = "live-credential-revocation"


@dataclass(frozen=True)
class Propagation:
    """How a weight change reached the DNS: the change's id, the seconds from submitting it
    until every authoritative server answered with it, and the records' TTL, for which
    resolvers may still answer with the old weights after that."""

    change_id: str
    insync_s: float
    ttl_s: int


class Router(Protocol):
    """The DNS weights of the router cloud, as the live target needs them (`live/<cloud>/`).
    Each raises `LiveTargetError` with the cause when the cloud refuses or the input is bad."""

    def weights(self) -> dict[str, int]:
        """Stack -> weight of the public name's weighted records."""
        ...

    def set_weights(self, weights: Mapping[str, int], notify: Callable[[str], None]) -> Propagation:
        """Change the given stacks' weights (the others keep theirs; all must sum to 100) and
        wait until the DNS serves them (`notify` hears the waiting)."""
        ...

    def in_rotation(self, stack: str) -> bool:
        """Whether the router's health checks let the stack be answered."""
        ...


class StoreCredentials(Protocol):
    """What a stack reads its model store with, as its cloud's adapter revokes and restores it
    (`live/<cloud>/`'s `credentials(stack, identity, **options)`). Each raises
    `LiveTargetError` with the cause when the cloud refuses."""

    @property
    def kind(self) -> str:
        """The identity kind (`irsa`, `iam-user`, ...)."""
        ...

    def revoke(self) -> dict[str, Any]:
        """Revoke what the stack holds now; what was done, for the log."""
        ...

    def rotate(self) -> dict[str, Any]:
        """Undo a revocation without reinstating a revoked key: a role's deny policy removed,
        or a new key checked, vaulted, and the old one deleted; what was done."""
        ...

    def state(self) -> dict[str, str]:
        """`{"status": "active" | "revoked", ...}`."""
        ...

    @property
    def redeploy_gap(self) -> str:
        """Why the live target does not redeploy the stack after a rotation."""
        ...


def credential_gap(stack: str, outputs: StackOutputs) -> str:
    """Why the live target cannot revoke, rotate or inspect the stack's store credentials: its
    cloud's catalog gap, or an identity kind no cloud has."""
    kind, principal = outputs.identity.kind, outputs.identity.principal
    owner = next((facts(c) for c in clouds() if facts(c).identity_kind == kind), None)
    if owner is None:
        return f"stack {stack}'s identity kind {kind!r} is none the live target knows ({principal})"
    reason = owner.lacks(REVOCATION_GAP) or (
        f"the live target was built without {owner.display_name}'s credential adapter"
    )
    return (
        f"stack {stack} reads its model store as {kind}, {owner.display_name}'s workload "
        f"identity ({principal}): {reason}"
    )


def model_digest(outputs: StackOutputs) -> str | None:
    """The digest of the (first) model the stack serves, as its outputs export it."""
    return outputs.models[0].digest if outputs.models else None


class LiveTarget:
    """Deployed stacks behind a DNS router, as a `Target`."""

    kind = "live"

    def __init__(
        self,
        stacks: Mapping[str, StackOutputs],
        router: Router,
        *,
        dns_name: str,
        credentials: Mapping[str, StoreCredentials] | None = None,
        notify: Callable[[str], None] | None = None,
        http_timeout_s: float = 2.0,
    ) -> None:
        """`credentials`: stack -> its store credentials, for the stacks whose identity an
        adapter handles; `notify` hears what takes time (a DNS change propagating; default:
        stderr)."""
        self._stacks = dict(stacks)
        self.router = router
        self.dns_name = dns_name.rstrip(".").lower()
        self.credentials = dict(credentials or {})
        self.notify = notify or _stderr
        self.http_timeout_s = http_timeout_s
        self.log: list[dict[str, Any]] = []
        self.propagation: Propagation | None = None

    @property
    def unsupported(self) -> Mapping[str, str]:
        """`UNSUPPORTED` on every stack, plus per stack: its store credentials where no adapter
        handles its identity, its redeploy (why none is done), and its model digest when its
        outputs export none."""
        gaps = dict(UNSUPPORTED)
        for name, outputs in self._stacks.items():
            handled = self.credentials.get(name)
            if handled is None:
                reason = credential_gap(name, outputs)
                gaps.update({f"{op}:{name}": reason for op in CREDENTIAL_OPERATIONS})
            gaps[f"redeploy:{name}"] = handled.redeploy_gap if handled else REDEPLOY
            if model_digest(outputs) is None:
                gaps[f"model_digest:{name}"] = (
                    f"stack {name} exports no model digest (models[0].digest) and the live "
                    "target cannot read the file its Triton serves; compare the stacks' spec "
                    "digests with `exitplan parity`"
                )
        return gaps

    def _log(self, action: str, stack: str | None = None, **details: Any) -> None:
        self.log.append({"time": time.time(), "action": action, "stack": stack, **details})

    def _refuse(self, action: str, stack: str | None, cause: str, fix: str = "") -> NoReturn:
        self._log(action, stack, refused=cause)
        raise LiveTargetError(cause, fix=fix)

    def _unsupported(self, action: str, stack: str) -> NoReturn:
        self._stack(action, stack)
        gaps = self.unsupported
        self._refuse(action, stack, gaps.get(action) or gaps[f"{action}:{stack}"])

    def _stack(self, action: str, stack: str) -> StackOutputs:
        if stack not in self._stacks:
            self._refuse(action, stack, f"no stack {stack!r}", f"use one of {self.stacks()}")
        return self._stacks[stack]

    def _route(self, action: str, call: Callable[[], Any], stack: str | None = None) -> Any:
        """A router call, logged; a refusal is logged with its cause and raised."""
        try:
            return call()
        except LiveTargetError as exc:
            self._log(action, stack, refused=exc.cause)
            raise

    def stacks(self) -> list[str]:
        """The stacks whose outputs were given."""
        return list(self._stacks)

    def endpoint(self) -> str:
        """`http://<dns_name>`, with the stacks' port when they agree on one (Triton's 8000)."""
        ports = {urlparse(s.endpoint).port for s in self._stacks.values() if s.endpoint}
        port = ports.pop() if len(ports) == 1 else None
        return f"http://{self.dns_name}" + (f":{port}" if port else "")

    def health(self, stack: str) -> bool:
        """Whether GET <endpoint><ready path> answers 200 within the timeout."""
        url = self._stack("health", stack).endpoint.rstrip("/")
        try:
            ready_url = url + triton_wire().ready_path
            with urllib.request.urlopen(ready_url, timeout=self.http_timeout_s) as reply:
                ready = int(reply.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            ready = False
        self._log("health", stack, ready=ready)
        return ready

    def store_uri(self, stack: str) -> str:
        """The stack's `model_repository_uri` output."""
        return self._stack("store_uri", stack).model_repository_uri

    def model_digest(self, stack: str) -> str:
        """The digest of the stack's (first) model, from its `models` output."""
        digest = model_digest(self._stack("model_digest", stack))
        if digest is None:
            self._unsupported("model_digest", stack)
        self._log("model_digest", stack)
        return digest

    def weights(self) -> dict[str, int]:
        """Stack -> weight, from the router."""
        weights: dict[str, int] = self._route("weights", self.router.weights)
        self._log("weights", weights=weights)
        return weights

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Change the given stacks' weights through the router (all must sum to 100); returns
        once the DNS serves them, saying how long resolvers may still answer the old ones (the
        TTL; kept as `propagation`)."""
        done: Propagation = self._route(
            "set_weights", lambda: self.router.set_weights(weights, self.notify)
        )
        self.propagation = done
        self._log("set_weights", weights=dict(weights), **asdict(done))
        self.notify(
            f"weights {dict(weights)} on every DNS server after {done.insync_s:.1f} s; "
            f"resolvers may answer with the old ones for up to {done.ttl_s} s more (TTL)"
        )

    def in_rotation(self, stack: str) -> bool:
        """Whether the router's health checks let the stack be answered."""
        healthy: bool = self._route("in_rotation", lambda: self.router.in_rotation(stack), stack)
        self._log("in_rotation", stack, healthy=healthy)
        return healthy

    def kill(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._unsupported("kill", stack)

    def restart(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._unsupported("restart", stack)

    def hang(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._unsupported("hang", stack)

    def resume(self, stack: str) -> None:
        """Refused: see `PROCESS_FAULTS`."""
        self._unsupported("resume", stack)

    def _credentials(self, action: str, stack: str) -> StoreCredentials:
        """The stack's credentials adapter, or the refusal with the reason."""
        self._stack(action, stack)
        handled = self.credentials.get(stack)
        if handled is None:
            self._unsupported(action, stack)
        return handled

    def revoke_credentials(self, stack: str) -> None:
        """Revoke the stack's store credentials: on an IRSA role, every session issued before
        now (a deny policy); on an IAM user, the stack's key (only that one)."""
        handled = self._credentials("revoke_credentials", stack)
        done = self._route("revoke_credentials", handled.revoke, stack)
        self._log("revoke_credentials", stack, kind=handled.kind, **done)

    def rotate_credentials(self, stack: str) -> None:
        """Undo a revocation without reinstating a revoked key: the role's deny policy removed,
        or a new key checked, put in Secrets Manager, and the old one deleted."""
        handled = self._credentials("rotate_credentials", stack)
        done = self._route("rotate_credentials", handled.rotate, stack)
        self._log("rotate_credentials", stack, kind=handled.kind, **done)

    def credential_state(self, stack: str) -> dict[str, str]:
        """`{"status": "active" | "revoked", ...}` of the stack's store credentials."""
        handled = self._credentials("credential_state", stack)
        state: dict[str, str] = self._route("credential_state", handled.state, stack)
        self._log("credential_state", stack, **state)
        return state

    def redeploy(self, stack: str) -> None:
        """Refused: see `REDEPLOY` (or the stack's credentials' `redeploy_gap`)."""
        self._unsupported("redeploy", stack)

    def reference_answers(self) -> Path | None:
        """None: the stacks' outputs name no package; a live drill takes `--reference`."""
        return None

    def served_counts(self) -> dict[str, int] | None:
        """None: the stacks expose no Triton metrics endpoint (port 8002 stays inside the
        cluster) and the router cannot say which stack answered, so a live drill's share gate
        fails as unmeasurable rather than passing unseen."""
        return None

    def store_newest(self, stack: str) -> float | None:
        """None: the live target holds no read access to the stacks' model stores."""
        return None


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def stack_outputs(
    project_root: Path, stack: str, *, runner: Callable[[list[str]], str] | None = None
) -> dict[str, Any]:
    """`pulumi stack output --json -s STACK --show-secrets=false`, run in `project_root`."""

    def run(command: list[str]) -> str:
        kwargs: dict[str, Any] = {"capture_output": True, "text": True, "check": True}
        return subprocess.run(command, cwd=project_root, timeout=120, **kwargs).stdout

    command = ["pulumi", "stack", "output", "--json", "-s", stack, "--show-secrets=false"]
    try:
        text = (runner or run)(command)
    except FileNotFoundError as exc:
        raise LiveTargetError(
            "the pulumi binary was not found: the live target reads the stacks' outputs with it",
            fix="install the Pulumi CLI and log in; the sandbox target needs none",
        ) from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise LiveTargetError(
            f"`{' '.join(command)}` failed: {exc} {str(exc.stderr or '')[-500:]}",
            fix=f"pulumi login, and check that stack {stack} exists (pulumi stack ls)",
        ) from exc
    try:
        outputs = json.loads(text)
    except ValueError as exc:
        raise LiveTargetError(f"the outputs of stack {stack} are not JSON: {exc}") from exc
    if not isinstance(outputs, dict):
        raise LiveTargetError(f"the outputs of stack {stack} are not a JSON object")
    return outputs
