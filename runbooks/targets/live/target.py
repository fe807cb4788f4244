"""`LiveTarget`: the `Target` of real deployed stacks, built from their stack outputs (the typed
contract `components.outputs.StackOutputs`, read with `pulumi stack output --json`).

It probes each stack's Triton readiness over HTTP and answers from the outputs (store URI,
model digest); the router cloud's adapter (`live/<cloud>/`, a `Router`) reads and shifts the
DNS weights. What it cannot do live is data (`unsupported`, each with its reason), checked
before a drill or an experiment starts; a method called anyway raises `LiveTargetError` with the
same reason. Every call is appended, with its time, to `log` (for the drill's journal)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
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
    "redeploy": REDEPLOY,
}
# Operations on a stack's store credentials, which a workload identity has none of.
CREDENTIAL_OPERATIONS = ("revoke_credentials", "rotate_credentials", "credential_state")


class Router(Protocol):
    """The DNS weights of the router cloud, as the live target needs them (`live/<cloud>/`).
    Each raises `LiveTargetError` with the cause when the cloud refuses or the input is bad."""

    def weights(self) -> dict[str, int]:
        """Stack -> weight of the public name's weighted records."""
        ...

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Change the given stacks' weights (the others keep theirs; all must sum to 100)."""
        ...

    def in_rotation(self, stack: str) -> bool:
        """Whether the router's health checks let the stack be answered."""
        ...


def workload_identities() -> dict[str, str]:
    """Identity kind -> the display name of the cloud whose workload identity it is (facts)."""
    return {facts(name).identity_kind: facts(name).display_name for name in clouds()}


def credential_gap(stack: str, outputs: StackOutputs) -> str:
    """Why the live target cannot revoke, rotate or inspect the stack's store key."""
    kind, principal = outputs.identity.kind, outputs.identity.principal
    known = workload_identities()
    if kind in known:
        return (
            f"stack {stack} reads its model store as {kind}, {known[kind]}'s workload identity "
            f"({principal}): it has no keys to revoke or rotate; revoking the role's trust (a "
            "deny policy) is not automated yet"
        )
    return f"stack {stack}'s identity kind {kind!r} is none the live target knows ({principal})"


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
        http_timeout_s: float = 2.0,
    ) -> None:
        self._stacks = dict(stacks)
        self.router = router
        self.dns_name = dns_name.rstrip(".").lower()
        self.http_timeout_s = http_timeout_s
        self.log: list[dict[str, Any]] = []

    @property
    def unsupported(self) -> Mapping[str, str]:
        """`UNSUPPORTED` on every stack, plus per stack: its store credentials (a workload
        identity has no keys) and its model digest when its outputs export none."""
        gaps = dict(UNSUPPORTED)
        for name, outputs in self._stacks.items():
            reason = credential_gap(name, outputs)
            gaps.update({f"{operation}:{name}": reason for operation in CREDENTIAL_OPERATIONS})
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
        """Change the given stacks' weights through the router (all must sum to 100)."""
        self._route("set_weights", lambda: self.router.set_weights(weights))
        self._log("set_weights", weights=dict(weights))

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

    def revoke_credentials(self, stack: str) -> None:
        """Refused: see `credential_gap`."""
        self._unsupported("revoke_credentials", stack)

    def rotate_credentials(self, stack: str) -> None:
        """Refused: see `credential_gap`."""
        self._unsupported("rotate_credentials", stack)

    def credential_state(self, stack: str) -> dict[str, str]:
        """Refused: see `credential_gap`."""
        self._unsupported("credential_state", stack)

    def redeploy(self, stack: str) -> None:
        """Refused: see `REDEPLOY`."""
        self._unsupported("redeploy", stack)


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
