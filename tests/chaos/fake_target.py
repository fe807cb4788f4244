"""A `Target` whose state is a JSON file (`EXITPLAN_FAKE_TARGET`), so that a chaos run in this
process, a run in a child process killed with SIGKILL, and `exitplan chaos rollback` all see
and change the same stacks, in milliseconds and without a sandbox. `register()` adds the kind
`fake` to `target_for`; `activities` below are probes and actions for test experiments."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from chaoslib.types import Configuration

from runbooks.targets import target as targets

STATE_ENV = "EXITPLAN_FAKE_TARGET"
STACKS = ("aws-primary", "gcp-standby")


def initial_state(weights: dict[str, int] | None = None) -> dict[str, Any]:
    """Both stacks ready, not frozen, with active keys, and the given weights."""
    return {
        "weights": weights or {"aws-primary": 100, "gcp-standby": 0},
        "health": dict.fromkeys(STACKS, True),
        "frozen": [],
        "credentials": {s: {"status": "active", "key_id": f"AKIA{s.upper()}1"} for s in STACKS},
        "calls": [],
    }


class FakeTarget:
    """The stacks of the state file; every call is appended to its `calls`."""

    kind = "fake"
    unsupported: ClassVar[dict[str, str]] = {}

    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> dict[str, Any]:
        """The state file's content."""
        return dict(json.loads(self.path.read_text()))

    def _change(self, call: str, **changes: Any) -> None:
        state = self.state()
        state.update(changes)
        state["calls"].append(call)
        self.path.write_text(json.dumps(state))

    def stacks(self) -> list[str]:
        return list(STACKS)

    def endpoint(self) -> str:
        return "http://127.0.0.1:9"

    def health(self, stack: str) -> bool:
        state = self.state()
        return bool(state["health"][stack]) and stack not in state["frozen"]

    def in_rotation(self, stack: str) -> bool:
        return self.health(stack)

    def weights(self) -> dict[str, int]:
        return dict(self.state()["weights"])

    def set_weights(self, weights: dict[str, int]) -> None:
        self._change(f"set_weights {json.dumps(weights)}", weights={**self.weights(), **weights})

    def kill(self, stack: str) -> None:
        self._change(f"kill {stack}", health={**self.state()["health"], stack: False})

    def restart(self, stack: str) -> None:
        if self.state()["health"][stack]:
            raise RuntimeError(f"{stack}'s Triton is still running")
        self._change(f"restart {stack}", health={**self.state()["health"], stack: True})

    def hang(self, stack: str) -> None:
        self._change(f"hang {stack}", frozen=sorted({*self.state()["frozen"], stack}))

    def resume(self, stack: str) -> None:
        self._change(f"resume {stack}", frozen=[s for s in self.state()["frozen"] if s != stack])

    def credential_state(self, stack: str) -> dict[str, str]:
        return dict(self.state()["credentials"][stack])

    def revoke_credentials(self, stack: str) -> None:
        creds = self.state()["credentials"]
        creds[stack] = {**creds[stack], "status": "revoked"}
        self._change(f"revoke_credentials {stack}", credentials=creds)

    def rotate_credentials(self, stack: str) -> None:
        creds = self.state()["credentials"]
        number = int(creds[stack]["key_id"][-1]) + 1
        creds[stack] = {"status": "active", "key_id": f"AKIA{stack.upper()}{number}"}
        self._change(f"rotate_credentials {stack}", credentials=creds)

    def redeploy(self, stack: str) -> None:
        if self.state()["credentials"][stack]["status"] != "active":
            raise PermissionError(f"{stack}: the store refused the key")
        self._change(f"redeploy {stack}")

    def store_uri(self, stack: str) -> str:
        return f"s3://{stack}"

    def model_digest(self, stack: str) -> str:
        return "sha256:0"


def build(project: Any, router: str | None = None, stacks: Any = ()) -> FakeTarget:
    """`target_for("fake", ...)`: the target of the state file named by the environment."""
    return FakeTarget(Path(os.environ[STATE_ENV]))


def register() -> None:
    """Make `target_for("fake")` build this target (in this process)."""
    targets.KINDS["fake"] = __name__


# Activities for test experiments (module `tests.chaos.fake_target`).
def returns(value: Any, configuration: Configuration = None) -> Any:
    """A probe that returns `value`."""
    return value


def raises(message: str, configuration: Configuration = None) -> None:
    """A probe that raises."""
    raise RuntimeError(message)


def journal_on_disk(configuration: Configuration = None) -> dict[str, Any]:
    """What the journal file holds while this activity runs: its entries' names and
    statuses, read from disk."""
    journal = json.loads(Path(str((configuration or {})["exitplan_journal"])).read_text())
    return {"run": [[r["activity"]["name"], r.get("status")] for r in journal["run"]]}


def wait_forever(configuration: Configuration = None) -> None:
    """An action that never ends (the test kills the run while it waits)."""
    while True:
        time.sleep(1)
