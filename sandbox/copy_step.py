"""A stack's planned copy step as the sandbox runs it: the model-sync sidecar
(`python -m sandbox.sync`: the loop of `components.model_sync`, recorded as a component) or a
one-shot copy at pod start, into the folder the stack's Triton reads; the pod's service-account
token where the plan mounts one; and the stack's own reads of its store (what a new pod would
load). Methods of `Sandbox` (`sandbox.manager`), kept here by their one job."""

from __future__ import annotations

import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from model_packaging.errors import PublishError
from model_packaging.publish import fetch
from sandbox.aws import AwsControlPlane
from sandbox.errors import SandboxError
from sandbox.planned import PlannedCopy, PlannedTriton, unmounted_token
from sandbox.state import Component, SandboxState
from sandbox.stores import start_process
from sandbox.sync import sync_command
from sandbox.triton import log_tail

SYNCED = "models-synced"  # the marker of a stack's first copy that found the model
TOKEN_FILE = "serviceaccount/token"  # under a stack's folder: its pod's token, where mounted
SYNC_TIMEOUT_S = 60.0  # for a sidecar's first copy that finds the model
# What a sync process keeps of the sandbox's environment (never its keys): it gets the stack's.
SYNC_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "no_proxy", "NO_PROXY")


class CopySteps(ABC):
    """The copy-step methods of `Sandbox`, which provides what they build on."""

    root: Path

    @abstractmethod
    def planned(self, stack: str, state: SandboxState) -> PlannedTriton:
        """The stack's Triton as planned."""

    @abstractmethod
    def stack_env(
        self, stack: str, state: SandboxState, control: AwsControlPlane
    ) -> dict[str, str]:
        """The stack's store credentials and endpoint."""

    @abstractmethod
    def stop_components(self, components: Sequence[Component]) -> list[str]:
        """Stop recorded processes; the names of those that ran."""

    @abstractmethod
    def record(self, state: SandboxState, component: Component) -> None:
        """Record a started process in the state."""

    @abstractmethod
    def save(self, state: SandboxState) -> None:
        """Write the state."""

    def start_copy(self, stack: str, state: SandboxState, control: AwsControlPlane) -> None:
        """The planned copy step into the folder the stack's Triton reads (the pod's volume),
        with the stack's own credentials: the model-sync sidecar (`sandbox.sync`, restarted:
        a new pod's copies first) waited for until its first copy found the model, as kubelet
        waits for its startup probe; or a one-shot copy, which finds what the store holds then
        (an empty store copies nothing, as the cloud CLIs do)."""
        copy = self.planned(stack, state).copy
        models = self.served_folder(stack, state)
        if copy is None or copy.sync_every_s is None:
            self.copy_token(stack, state)
            shutil.rmtree(models, ignore_errors=True)
            models.mkdir(parents=True)
            try:
                fetch(state.stores[stack]["uri"], state.model, models,
                      env=self.stack_env(stack, state, control))  # fmt: skip
            except PublishError as exc:
                if "has no model" not in exc.cause:
                    raise
            return
        self.start_sync(stack, state, control, copy)
        self.wait_synced(stack, state)

    def start_sync(
        self, stack: str, state: SandboxState, control: AwsControlPlane, copy: PlannedCopy
    ) -> Component:
        """Start the stack's model-sync process in place of any it runs (a new pod's sidecar,
        its marker not yet written), not waiting for its first copy; recorded."""
        self.stop_copy(stack, state)
        folder = self.root / "stacks" / stack
        command = sync_command(
            state.stores[stack]["uri"],
            state.model,
            folder,
            self.served_folder(stack, state),
            folder / SYNCED,
            copy.sync_every_s or 0.0,
            copy.sync_wait_s,
            self.copy_token(stack, state),
        )
        env = {k: v for k, v in os.environ.items() if k in SYNC_INHERITED}
        env.update(self.stack_env(stack, state, control))
        log = folder / "sync.log"
        proc = start_process(command, log, lambda: True, "model sync", env=env)
        component = Component(f"sync-{stack}", "sync", proc.pid, 0, str(log), stack)
        self.record(state, component)
        return component

    def mount_token(self, stack: str, state: SandboxState) -> Path | None:
        """The pod's service-account token file, as planned: a stand-in token written where
        the plan mounts one, and no file where it does not; its path, or None."""
        planned = self.planned(stack, state)
        token = self.root / "stacks" / stack / TOKEN_FILE
        if not planned.token_mounted:
            shutil.rmtree(token.parent, ignore_errors=True)
            return None
        token.parent.mkdir(parents=True, exist_ok=True)
        token.write_text(f"sandbox stand-in token of {planned.identity.get('principal', stack)}")
        return token

    def copy_token(self, stack: str, state: SandboxState) -> Path | None:
        """The token file the stack's copy step signs in with (None: it signs in otherwise);
        a copy that needs one in a pod that mounts none fails, naming the stack and the fix."""
        token = self.mount_token(stack, state)
        planned = self.planned(stack, state)
        if failed := unmounted_token(planned):
            raise failed
        return token if planned.copy is not None and planned.copy.token_auth else None

    def synced(self, stack: str) -> bool:
        """Whether the stack's copy step has found the model (the planned startup probe)."""
        return (self.root / "stacks" / stack / SYNCED).exists()

    def wait_synced(self, stack: str, state: SandboxState) -> None:
        """Until the stack's sync has copied the model; a failure naming the stack, its store
        and the sync's last log lines when it has not within `SYNC_TIMEOUT_S`."""
        timeout_s = SYNC_TIMEOUT_S
        deadline = time.monotonic() + timeout_s
        while not self.synced(stack):
            if time.monotonic() > deadline:
                tail = log_tail(self.root / "stacks" / stack / "sync.log", 1)
                raise SandboxError(
                    f"{stack}'s model-sync sidecar found no {state.model} in "
                    f"{state.stores[stack]['uri']} within {timeout_s:g} s, so its Triton does "
                    f"not start (the planned startup probe): {tail or 'no log'}",
                    fix=f"publish the model to {stack}'s store (exitplan package --publish)",
                )
            time.sleep(0.1)

    def stop_copy(self, stack: str, state: SandboxState) -> list[str]:
        """Stop the stack's model-sync process, if one runs, and forget its marker."""
        syncs = [c for c in state.components if c.kind == "sync" and c.stack == stack]
        stopped = self.stop_components(syncs)
        for component in syncs:
            state.components.remove(component)
        (self.root / "stacks" / stack / SYNCED).unlink(missing_ok=True)
        self.save(state)
        return stopped

    def read_store(self, stack: str, state: SandboxState, control: AwsControlPlane) -> Path:
        """The model as the stack's identity reads it from its store (into a folder of its
        own: what a new pod's Triton would load); raises when the store refuses."""
        return self._fetch_as_stack(stack, state, control, "store-read")

    def _fetch_as_stack(
        self, stack: str, state: SandboxState, control: AwsControlPlane, name: str
    ) -> Path:
        folder = self.root / "stacks" / stack / name
        shutil.rmtree(folder, ignore_errors=True)
        store = state.stores[stack]
        env = self.stack_env(stack, state, control)
        fetch(store["uri"], state.model, folder, env=env)
        return folder

    def served_folder(self, stack: str, state: SandboxState) -> Path:
        """Where the model the stack's Triton serves lies on disk: the copy step's folder, or
        (Triton reading the store itself) what `read_store` last read."""
        planned = self.planned(stack, state)
        return self.root / "stacks" / stack / ("store-read" if planned.reads_store else "models")

    def copy_running(self, stack: str, state: SandboxState) -> bool:
        """Whether the stack's copy step has run for the pods now running: a sync process that
        found the model, or a one-shot copy's folder."""
        copy = self.planned(stack, state).copy
        if copy is not None and copy.sync_every_s is not None:
            return self.synced(stack) and any(
                c.kind == "sync" and c.stack == stack and c.running() for c in state.components
            )
        return self.served_folder(stack, state).is_dir()
