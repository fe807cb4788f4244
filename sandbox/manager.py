"""`exitplan sandbox up | down | status`: start the sandbox's processes, remember them in
`.exitplan/sandbox/state.json` (pids, ports, logs) and stop them by pid, even after a crash of
the process that started them."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from model_packaging.image import ImageResult, push_image
from model_packaging.progress import Progress, reporter
from model_packaging.publish import publish
from sandbox.aws import AwsControlPlane
from sandbox.copy_step import SYNCED, TOKEN_FILE, CopySteps
from sandbox.errors import FirstDeployFailed, SandboxError
from sandbox.first_deploy import Step, rehearse
from sandbox.frontdoor import Backend, FrontDoor, FrontDoorSettings, remove_admin_socket
from sandbox.gate import gate_log, start_gate
from sandbox.levels import Level, at_rest, server_name
from sandbox.loopback import exempt_loopback_from_proxy
from sandbox.planned import (
    EMULATOR_ENDPOINT,
    PlannedTriton,
    Ports,
    copy_substitution,
    planned_failure,
    preview_repository,
    sandbox_command,
    token_substitution,
)
from sandbox.processes import (
    free_port,
    pid_alive,
    process_start,
    signal_group,
    stop_processes,
)
from sandbox.state import Component, SandboxState, hold_marker
from sandbox.stores import EMULATORS, StoreEmulator, start_process, start_registry
from sandbox.triton import (
    TritonServer,
    baseline_p99_ms,
    child_env,
    log_tail,
    prepare_backends,
    python_model,
    triton_install,
)

STATE = "state.json"
KUBELET_LOCK = "kubelet.lock"  # held while the kubelet restarts a replica or a stop holds one
# Store schemes whose emulator checks no identity: a permission gate per identity stands in
# front of it (`sandbox.gate`), by the cloud whose permission tables it applies.
GATED = {"gs": "gcp", "as": "azure"}
# The front door gives up on a stack after this multiple of the model's baseline p99 (but never
# sooner than the floor), then replays the request on another stack.
TIMEOUT_MULTIPLE = 20.0
TIMEOUT_FLOOR_MS = 200


@dataclass(frozen=True)
class StackPlan:
    """What the sandbox runs for one stack: its name, the URI scheme of its cloud's model
    stores (which emulator serves its store: `sandbox.stores.EMULATORS`), its front-door
    weight, the bucket or container of its model store, its standby level (`primary` for a
    primary) and the primary's minimum Triton replicas (`sandbox.levels`), and its Triton as
    planned (`sandbox.planned`: what the sandbox runs)."""

    stack: str
    scheme: str
    weight: int
    store: str
    planned: PlannedTriton
    level: Level = "primary"
    replicas: int = 1


@dataclass(frozen=True)
class SandboxSettings:
    """The front door's settings, and how its server timeout follows the baseline latency."""

    front_door: FrontDoorSettings = field(default_factory=FrontDoorSettings)
    server_timeout_multiple: float = TIMEOUT_MULTIPLE
    server_timeout_floor_ms: int = TIMEOUT_FLOOR_MS
    # The service's public name and its zone, created in Route 53 on the control plane.
    dns_zone: str = ""
    dns_name: str = ""


class Sandbox(CopySteps):
    """The sandbox of one project: its state folder and the processes it records."""

    def __init__(self, root: Path, triton_env: Path) -> None:
        """The sandbox kept in `root`; loopback is exempted from any proxy in the environment
        first (`proxy_note` says so when it had to be: `sandbox.loopback`)."""
        self.root = root
        self.triton_env = triton_env
        self.state_file = root / STATE
        self.proxy_note = exempt_loopback_from_proxy()

    def load_state(self) -> SandboxState | None:
        """The recorded state, or None when nothing was started."""
        if not self.state_file.exists():
            return None
        data = json.loads(self.state_file.read_text())
        components = [Component(**c) for c in data.pop("components", [])]
        return SandboxState(**data, components=components)

    def save(self, state: SandboxState) -> None:
        """Write the state (atomically: a temp file renamed over it), so that `down` finds
        every started process."""
        tmp = self.state_file.with_suffix(f".{os.getpid()}.tmp")  # the kubelet saves too
        tmp.write_text(json.dumps(state.as_dict(), indent=2) + "\n")
        tmp.replace(self.state_file)

    def running(self) -> SandboxState | None:
        """The recorded state if any of its processes is still alive."""
        state = self.load_state()
        if state and any(c.running() for c in state.components):
            return state
        return None

    def replace_process(self, stack: str, pid: int, replica: int = 1) -> Component:
        """Record that replica `replica` of `stack`'s Triton now runs as `pid` (0: stopped),
        re-reading the state first, so that what other processes recorded meanwhile is kept;
        the updated component."""
        state = self.load_state()
        if state is None:
            raise SandboxError("no sandbox is running", fix="exitplan sandbox up")
        component = next(
            c
            for c in state.components
            if c.kind == "triton" and c.stack == stack and c.replica == replica
        )
        if pid and component.pid:  # it had run: a restart (a start from stopped is not)
            component.restarts += 1
        component.pid, component.started = pid, process_start(pid) if pid else 0
        self.save(state)
        if pid:
            self.supervise(component)
        return component

    @contextlib.contextmanager
    def _kubelet_lock(self) -> Iterator[None]:
        """Exclusive against the kubelet's restarts (and other holds)."""
        with (self.root / KUBELET_LOCK).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def hold(self, components: Sequence[Component]) -> None:
        """Keep the kubelet from restarting these Triton replicas (they are stopped on
        purpose); once this returns, no restart of theirs is under way."""
        with self._kubelet_lock():
            for component in components:
                if component.kind == "triton":
                    marker = hold_marker(component)
                    marker.parent.mkdir(parents=True, exist_ok=True)  # one never started
                    marker.touch()

    @staticmethod
    def held(component: Component) -> bool:
        """Whether the replica is stopped on purpose (the kubelet leaves it alone)."""
        return hold_marker(component).exists()

    @staticmethod
    def supervise(component: Component) -> None:
        """Let the kubelet restart the replica when it exits (it was just started)."""
        hold_marker(component).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _unchanged(self, seen: Component) -> Iterator[tuple[SandboxState, Component] | None]:
        """Under the kubelet's lock: the state and the replica as recorded now, when it is
        still the process the kubelet saw and not held; else None (another process or a
        stop on purpose came first)."""
        with self._kubelet_lock():
            state = self.load_state()
            recorded = state.components if state is not None else []
            component = next((c for c in recorded if c.name == seen.name), None)
            if state is None or component is None or component.pid != seen.pid:
                yield None
            else:
                yield None if self.held(component) else (state, component)

    def restart_exited(self, exited: Component) -> int:
        """The kubelet's restart: start a replica that exited on its own again, as planned, on
        its port, and record it (a restart); 0 when, by now, it runs, is held or is gone."""
        with self._unchanged(exited) as found:
            if found is None or found[1].running():
                return 0
            state, component = found
            _, pid = self.start_replica(
                component.stack, component.replica, component.port, state, self.control(state)
            )
            self.replace_process(component.stack, pid, component.replica)
            return pid

    def kill_unhealthy(self, unhealthy: Component) -> bool:
        """The kubelet's kill of a replica that failed its liveness probe (its process group,
        as a container's); False when, by now, it is another process or held."""
        with self._unchanged(unhealthy) as found:
            if found is None:
                return False
            signal_group(unhealthy.pid, signal.SIGKILL)
            return True

    def control(self, state: SandboxState) -> AwsControlPlane:
        """The running AWS control plane (moto) the state records."""
        info = next(c for c in state.components if c.kind == "control-plane")
        return AwsControlPlane.attach(Path(info.log).parent, info.port, info.pid)

    def up(
        self,
        stacks: Sequence[StackPlan],
        packaged: Path,
        digest: str,
        settings: SandboxSettings,
        progress: Progress | Callable[[str], None],
        first_deploy: Sequence[Step] | None = None,
    ) -> SandboxState:
        """Start one Triton per stack serving the packaged model, and the front door; each
        step is a line and one step of the `progress` stage "sandbox up" (`up_steps`). With
        `first_deploy`, the stores start empty and the stacks come up in those steps
        (`sandbox.first_deploy`); a stack that does not serve then fails `up`, naming it.

        A second `up` is refused; a failed `up` stops what it started."""
        running = self.running()
        if running:
            raise SandboxError(
                f"a sandbox is already running ({len(running.components)} processes, "
                f"front door {running.endpoint})",
                fix="exitplan sandbox status, or exitplan sandbox down first",
            )
        for plan in stacks:
            emulator_for(plan)
        progress = reporter(progress)
        progress.stage("sandbox up", f"{len(stacks)} stacks", total=up_steps(stacks), unit="steps")
        self.root.mkdir(parents=True, exist_ok=True)
        version = next(p.name for p in packaged.iterdir() if p.name.isdigit())
        state = SandboxState(time.time(), packaged.name, version, digest)
        reference = packaged.parents[1] / "reference.json"  # beside the package's repository
        state.reference = str(reference) if reference.is_file() else ""
        state.planned = {plan.stack: plan.planned.as_dict() for plan in stacks}
        try:
            control = self._start_stores(
                stacks, packaged, state, progress, publish=first_deploy is None
            )
            self._start_registry(packaged, state, progress)
            if settings.dns_zone:
                records = {settings.dns_name: "localhost"}
                records.update({f"{p.stack}.{settings.dns_zone}": "localhost" for p in stacks})
                state.hosted_zone = control.hosted_zone(settings.dns_zone, records)
            onnx_path = packaged / version / "model.onnx"
            if first_deploy is not None:
                backends = self._first_deploy(stacks, first_deploy, state, control, onnx_path,
                                              progress)  # fmt: skip
            else:
                backends = self._deploy_side_by_side(stacks, state, control, progress)
            # Every stack is warmed up (a cold Triton's first requests are slow) and measured;
            # the slowest stack's p99 is the baseline.
            progress("warming up and measuring every stack's latency")
            state.baseline_p99_ms = max(
                baseline_p99_ms(f"http://127.0.0.1:{c.port}", state.model, onnx_path, requests=100)
                for c in state.components
                if c.kind == "triton" and c.running()
            )
            state.server_timeout_ms = max(
                settings.server_timeout_floor_ms,
                int(settings.server_timeout_multiple * state.baseline_p99_ms),
            )
            progress(
                f"baseline p99 {state.baseline_p99_ms:.1f} ms: the front door retries a stack "
                f"after {state.server_timeout_ms} ms"
            )
            progress.advance()
            door = FrontDoor(
                self.root / "frontdoor",
                free_port(),
                backends,
                replace(
                    settings.front_door,
                    server_timeout_ms=state.server_timeout_ms,
                    check_path=stacks[0].planned.readiness_paths(state.model)[0],
                ),
                dns_port=free_port(),
            )
            pid = door.start()
            state.endpoint, state.dns_endpoint = door.endpoint, door.dns_endpoint
            state.admin_socket = str(door.admin_socket)
            self.record(
                state,
                Component(
                    "frontdoor",
                    "frontdoor",
                    pid,
                    door.listen_port,
                    str(door.workdir / "haproxy.log"),
                ),
            )
            kubelet = self._start_kubelet(state)
            progress("waiting until the front door routes to a ready stack")
            stopped = {
                server_name(c.stack, c.replica)
                for c in state.components
                if c.kind == "triton" and not c.running()
            }
            _wait_routes(door, stopped, timeout_s=15)
            _wait_watching(kubelet, timeout_s=15)
            progress.advance()
        except BaseException:
            self._tear_down(state)
            raise
        progress.done()
        return state

    def _deploy_side_by_side(
        self,
        stacks: Sequence[StackPlan],
        state: SandboxState,
        control: AwsControlPlane,
        progress: Progress,
    ) -> list[Backend]:
        """Start every stack's Tritons (and sidecars) at once, then wait for each: a sidecar's
        first copy, then the held Triton, then every planned readiness probe (a failure stops
        `up`, naming the stack). The front-door backends."""
        backends: list[Backend] = []
        starting: list[tuple[str, TritonServer]] = []
        for plan in stacks:
            more, servers = self.deploy_stack(plan, state, control, progress, wait=False)
            backends += more
            starting += [(plan.stack, server) for server in servers]
        for plan in stacks:
            copy = plan.planned.copy
            if copy and copy.sync_every_s is not None and at_rest(plan.level, plan.replicas):
                self.wait_synced(plan.stack, state)
                servers = self.start_when_synced(plan.stack, state, control) or []
                starting += [(plan.stack, server) for server in servers]
        for stack, server in starting:
            self.wait_ready(stack, server, state)
        for _ in stacks:
            progress.advance()
        return backends

    def _first_deploy(
        self,
        stacks: Sequence[StackPlan],
        steps: Sequence[Step],
        state: SandboxState,
        control: AwsControlPlane,
        onnx_path: Path,
        progress: Progress,
    ) -> list[Backend]:
        """The first deploy rehearsed (`sandbox.first_deploy.rehearse`), its outcome per stack
        recorded in the state; a `FirstDeployFailed` naming each stack that does not serve."""
        outcomes, backends = rehearse(self, stacks, steps, state, control, onnx_path, progress)
        state.first_deploy = [o.as_dict() for o in outcomes]
        self.save(state)
        for _ in stacks:
            progress.advance()
        failed = [o for o in outcomes if not o.passed]
        if failed:
            raise FirstDeployFailed(
                "the first deploy, rehearsed from empty stores in `exitplan stacks order`, "
                "leaves " + "; ".join(f"{o.stack} not serving: {o.answer}" for o in failed),
                fix="exitplan policy check names the planned cause; exitplan sandbox explain "
                "STACK shows what each stack runs",
            )
        return backends

    def record(self, state: SandboxState, component: Component) -> None:
        """Record a started process in the state (saved), supervised when a Triton."""
        component.started = component.started or process_start(component.pid)
        state.components.append(component)
        self.save(state)
        self.supervise(component)

    def _start_stores(
        self,
        stacks: Sequence[StackPlan],
        packaged: Path,
        state: SandboxState,
        progress: Progress,
        publish: bool = True,
    ) -> AwsControlPlane:
        """The AWS control plane (S3, IAM, the vault) and the emulators the stacks' store
        schemes need; each stack's store gets the model in its stand-in form (python backend,
        `substitutions.csv`), published with the admin's credentials; each S3 stack's
        stand-in principal holds its planned identity's policy documents."""
        control, ports = self._start_control_and_emulators(stacks, state, progress)
        standin = self.root / "standin"
        shutil.rmtree(standin, ignore_errors=True)
        python_model(packaged, standin, self.triton_env)
        published: set[str] = set()
        for plan in stacks:
            uri = emulator_for(plan).uri(plan.store)
            state.stores[plan.stack] = {"uri": uri, "scheme": plan.scheme}
            if EMULATORS[plan.scheme].start is None:  # S3 on the control plane: IAM user, key
                control.setup_stack(plan.stack, plan.store, plan.planned.grants.get(plan.store, ()))
            else:  # the emulator's own credentials, kept in the vault all the same
                control.vault_put(plan.stack, EMULATORS[plan.scheme].env(ports[plan.scheme]))
            if publish and uri not in published:  # an edge may serve its service's store
                self.publish_standin(plan.stack, state, control, progress)
                published.add(uri)
            progress.advance()
        shutil.rmtree(self.root / "gates", ignore_errors=True)  # last up's decision logs
        gated = [plan for plan in stacks if plan.scheme in GATED]  # Triton's and the copy's
        with ThreadPoolExecutor(max_workers=max(1, len(gated))) as pool:
            gates = [pool.submit(self._start_gate, plan, ports[plan.scheme]) for plan in gated]
        self._record_all(state, gates)
        progress("switching on IAM authentication")
        control.enable_auth()
        self.save(state)
        progress.advance()
        return control

    def _start_control_and_emulators(
        self, stacks: Sequence[StackPlan], state: SandboxState, progress: Progress
    ) -> tuple[AwsControlPlane, dict[str, int]]:
        """The AWS control plane and the emulators the stacks' store schemes need, started side
        by side (each recorded as soon as it runs, so a failed `up` stops it); the control
        plane, and the emulators' ports by scheme."""
        needed = {
            scheme: [p.store for p in stacks if p.scheme == scheme]
            for scheme, emulator in EMULATORS.items()
            if emulator.start is not None and any(p.scheme == scheme for p in stacks)
        }
        progress("starting the AWS control plane (moto: S3, IAM, Secrets Manager, Route 53)")
        for scheme in needed:
            progress(f"starting {EMULATORS[scheme].name} for the {scheme}:// model stores")
        with ThreadPoolExecutor(max_workers=max(1, len(needed))) as pool:
            emulators = [
                pool.submit(self._start_emulator, scheme, names) for scheme, names in needed.items()
            ]
            try:
                control = AwsControlPlane(self.root / "moto", free_port())
                self.record(state, Component("moto", "control-plane", control.start(),
                                              control.port, str(control.log)))  # fmt: skip
                control.bootstrap_admin()
                progress.advance()
            finally:
                self._record_all(state, emulators)
        ports = {scheme: self.store_port(state, scheme) for scheme in needed}
        for _ in needed:
            progress.advance()
        return control, ports

    def _start_emulator(self, scheme: str, names: list[str]) -> Component:
        """Start the emulator of `scheme` with these buckets or containers, from empty."""
        emulator, port = EMULATORS[scheme], free_port()
        workdir = self.root / emulator.folder
        shutil.rmtree(workdir, ignore_errors=True)  # every up starts from empty stores
        assert emulator.start is not None
        proc = emulator.start(workdir, port, names)
        return Component(f"{emulator.folder}-store", "store", proc.pid, port, str(workdir))

    def _record_all(self, state: SandboxState, started: Sequence[Future[Component]]) -> None:
        """Record every process that started (so that a failed `up` stops it), then raise the
        first failure, if any."""
        failure: BaseException | None = None
        for future in started:
            try:
                self.record(state, future.result())
            except Exception as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def admin_env(
        self, stack: str, state: SandboxState, control: AwsControlPlane
    ) -> dict[str, str]:
        """The sandbox admin's credentials and endpoint for the stack's store (what publishes
        and a managed copy write with)."""
        scheme = state.stores[stack]["scheme"]
        if EMULATORS[scheme].start is None:
            return control.admin_env()
        return EMULATORS[scheme].env(self.store_port(state, scheme))

    def publish_standin(
        self,
        stack: str,
        state: SandboxState,
        control: AwsControlPlane,
        progress: Callable[[str], None],
    ) -> None:
        """Publish the model's stand-in form to the stack's store, as the admin."""
        uri = state.stores[stack]["uri"]
        progress(f"publishing {state.model} to {stack}'s store {uri}")
        publish(
            self.root / "standin",
            uri,
            name=state.model,
            version=state.version,
            env=self.admin_env(stack, state, control),
        )

    def _start_gate(self, plan: StackPlan, upstream: int) -> Component:
        """The permission gate of the stack's planned identity in front of its store's
        emulator (`sandbox.gate`): it allows what the planned roles allow and answers the
        rest with the cloud's own 403; only this stack's Triton is pointed at it."""
        principal = plan.planned.identity.get("principal", plan.stack)
        port = free_port()
        proc = start_gate(
            self.root / "gates",
            port,
            f"http://127.0.0.1:{upstream}",
            GATED[plan.scheme],
            principal,
            plan.planned.grants,
        )
        log = gate_log(self.root / "gates", port)
        return Component(f"gate-{plan.stack}", "gate", proc.pid, port, str(log), plan.stack)

    def _start_kubelet(self, state: SandboxState) -> Component:
        """The sandbox's kubelet (`sandbox.kubelet`), recorded, not waited for: from when it
        watches (`_wait_watching`), a Triton replica that exits on its own is restarted with
        back-off."""
        log = self.root / "kubelet.log"
        log.unlink(missing_ok=True)
        command = [sys.executable, "-m", "sandbox.kubelet", "--root", str(self.root),
                   "--triton-env", str(self.triton_env)]  # fmt: skip
        proc = start_process(command, log, lambda: True, "kubelet")
        component = Component("kubelet", "kubelet", proc.pid, 0, str(log))
        self.record(state, component)
        return component

    def _start_registry(self, packaged: Path, state: SandboxState, progress: Progress) -> None:
        """The OCI registry, with the demo model's image pushed and read back."""
        progress("starting the OCI registry (docker-registry) and pushing the model image")
        port = free_port()
        proc = start_registry(self.root / "registry", port)
        self.record(
            state,
            Component(
                "registry", "registry", proc.pid, port, str(self.root / "registry" / "registry.log")
            ),
        )
        layout = packaged.parents[1] / "image"
        index = json.loads((layout / "index.json").read_text())
        image = ImageResult(layout, state.version, index["manifests"][0]["digest"], 0)
        ref = f"127.0.0.1:{port}/models/{state.model}:{state.version}"
        state.image = f"{ref}@{push_image(image, ref, tls_verify=False)}"
        self.save(state)
        progress.advance()

    def stack_env(
        self, stack: str, state: SandboxState, control: AwsControlPlane
    ) -> dict[str, str]:
        """The stack's store credentials and endpoint, read from the vault; a gated store is
        reached through the stack's permission gate (its planned identity's grants)."""
        if EMULATORS[state.stores[stack]["scheme"]].start is None:
            return control.vault_get(stack).env(control.endpoint)
        env = control.vault_read(stack)
        gate = state.gate(stack)
        if gate is not None:  # the same client settings, its endpoint the gate's
            env.update(EMULATORS[state.stores[stack]["scheme"]].env(gate.port))
        return env

    def planned(self, stack: str, state: SandboxState) -> PlannedTriton:
        """The stack's Triton as planned (recorded at `up`)."""
        return PlannedTriton.from_dict(state.planned[stack])

    def command(
        self, stack: str, state: SandboxState, control: AwsControlPlane, http_port: int
    ) -> tuple[list[str], dict[str, str]]:
        """The command line and environment of one replica of the stack's Triton: its planned
        container with the substitutions of `substitutions.csv` (recorded in the state), the
        planned env, the admin key Secret, and the store's endpoint and the stack's
        credentials (never the sandbox admin's)."""
        planned = self.planned(stack, state)
        install = triton_install()
        stack_dir = self.root / "stacks" / stack
        secret_env = {name: self._secret(stack, name) for name in planned.secret_env}
        store_env, repository = self._store_access(stack, planned, state, control)
        env = {**child_env(install, os.environ), **planned.env, **secret_env, **store_env}
        command = sandbox_command(
            planned,
            binary=install.binary,
            backends=prepare_backends(install, stack_dir / "backends"),
            ports=Ports(http_port, free_port(), free_port()),
            repository=repository,
            env=env,
        )
        substitutions = list(command.substitutions)
        if planned.copy is not None:
            substitutions.append(copy_substitution(planned.copy))
        if planned.token_mounted:
            substitutions.append(token_substitution(stack_dir / TOKEN_FILE))
        state.substitutions[stack] = [sub.as_dict() for sub in substitutions]
        return list(command.argv), env

    def _store_access(
        self, stack: str, planned: PlannedTriton, state: SandboxState, control: AwsControlPlane
    ) -> tuple[dict[str, str], str]:
        """The env Triton reads its store with, and the `--model-repository` value: the
        emulator's endpoint in Triton's own URL form and the stack's credentials (Triton reads
        the store), or the copy step's folder."""
        if not planned.reads_store:
            return {}, str(self.root / "stacks" / stack / "models")
        scheme = state.stores[stack]["scheme"]
        credentials = self.stack_env(stack, state, control)
        path = planned.repository.split("://", 1)[1]
        if scheme == "s3":
            keys = {k: v for k, v in credentials.items() if k.startswith("AWS_") and "KEY" in k}
            return keys, f"s3://{control.endpoint}/{path}"
        if scheme == "gs":
            # the stack's gate, where its credentials point the GCS client
            return {EMULATOR_ENDPOINT: credentials["STORAGE_EMULATOR_HOST"]}, planned.repository
        return {}, preview_repository(planned)  # raises: no emulator for this client

    @staticmethod
    def store_port(state: SandboxState, scheme: str) -> int:
        """The port of the emulator that serves `scheme`."""
        name = f"{EMULATORS[scheme].folder}-store"
        return next(c.port for c in state.components if c.name == name)

    def _secret(self, stack: str, name: str) -> str:
        """A planned Secret's value for the stack (generated once, as the stack generates its
        admin key at deploy time; kept mode 0600 beside the stack's Triton)."""
        path = self.root / "stacks" / stack / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
        return path.read_text()

    def start_replica(
        self, stack: str, replica: int, port: int, state: SandboxState, control: AwsControlPlane
    ) -> tuple[TritonServer, int]:
        """Start one replica of the stack's Triton from its planned command (the copy step
        first where planned and nothing is copied yet); the server and its pid."""
        planned = self.planned(stack, state)
        if not planned.reads_store and not self.copy_running(stack, state):
            self.start_copy(stack, state, control)
        argv, env = self.command(stack, state, control, port)
        server = self.triton_server(stack, replica, port)
        return server, server.start(argv, env)

    def wait_ready(self, stack: str, server: TritonServer, state: SandboxState) -> None:
        """Until the replica answers the planned readiness probe; a server that exits or never
        gets ready fails naming the stack, what the plan asked for and the log."""
        planned = self.planned(stack, state)
        try:
            server.wait_live()
            server.wait_ready(planned.readiness_paths(state.model))
        except SandboxError as exc:
            raise planned_failure(planned, exc.cause) from exc

    def deploy_stack(
        self,
        plan: StackPlan,
        state: SandboxState,
        control: AwsControlPlane,
        progress: Callable[[str], None],
        *,
        wait: bool = True,
    ) -> tuple[list[Backend], list[TritonServer]]:
        """Record the stack's Triton replicas and start those its level runs at rest, as
        planned; with `wait`, until each is ready. Without it (the stacks start side by side,
        or a first deploy, whose store may be empty), a Triton behind a model-sync sidecar is
        left for `start_when_synced`, as kubelet holds it until the sidecar's startup probe
        passes. The front-door backends, and the servers started and not yet waited for."""
        at_rest_count = at_rest(plan.level, plan.replicas)
        state.levels[plan.stack] = {"level": plan.level, "replicas": plan.replicas}
        stack_dir = self.root / "stacks" / plan.stack
        for volume in ("models", "store-read", "sync-staging", SYNCED):  # a new pod's: empty
            path = stack_dir / volume
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        reads = "reads its store" if plan.planned.reads_store else "copies its store first"
        progress(
            f"starting {at_rest_count} of {plan.replicas} Triton for {plan.stack} "
            f"({plan.level}; as planned: {reads})"
        )
        copy = plan.planned.copy
        held = not wait and copy is not None and copy.sync_every_s is not None
        if held and at_rest_count and copy is not None:
            self.start_sync(plan.stack, state, control, copy)
        backends, servers = [], []
        for replica in range(1, plan.replicas + 1):
            start = replica <= at_rest_count and not held
            port, started = self._triton_replica(plan, replica, start, control, state, wait=wait)
            servers += [started] if started and not wait else []
            standby = plan.level not in ("primary", "edge")
            name = server_name(plan.stack, replica)
            backends.append(Backend(name, f"127.0.0.1:{port}", plan.weight, failover=standby))
        return backends, servers

    def start_when_synced(
        self, stack: str, state: SandboxState, control: AwsControlPlane
    ) -> list[TritonServer] | None:
        """Start the stack's held at-rest replicas once its sidecar's copy found the model
        (`deploy_stack` without wait): those started now (not waited for), or None while the
        sidecar has not found it."""
        held = [
            c
            for c in state.components
            if c.kind == "triton" and c.stack == stack and not c.running()
        ]
        level = state.levels[stack]
        count = at_rest(level["level"], int(level["replicas"]))
        held = [c for c in held if c.replica <= count]
        if not held:
            return []
        if not self.synced(stack):
            return None
        servers = []
        for component in held:
            server, pid = self.start_replica(stack, component.replica, component.port, state,
                                             control)  # fmt: skip
            component.pid, component.started = pid, process_start(pid)
            self.save(state)
            self.supervise(component)
            servers.append(server)
        return servers

    def stop_trial(self, stack: str, state: SandboxState) -> None:
        """Stop what a trial start of a stack that runs nothing at rest started (its Tritons,
        its copy step) and remove its model copy: back to its level."""
        tritons = [c for c in state.components if c.kind == "triton" and c.stack == stack and c.pid]
        self.stop_components(tritons)
        for component in tritons:
            component.pid, component.started = 0, 0
        self.stop_copy(stack, state)
        shutil.rmtree(self.served_folder(stack, state), ignore_errors=True)

    def _triton_replica(
        self,
        plan: StackPlan,
        replica: int,
        start: bool,
        control: AwsControlPlane,
        state: SandboxState,
        *,
        wait: bool = True,
    ) -> tuple[int, TritonServer | None]:
        """Record one replica of the stack's Triton, started (as planned; with `wait`, until
        ready) or, above its level's count, stopped (pid 0) on a port of its own; the port, and
        the server when started."""
        port = free_port()
        server = self.triton_server(plan.stack, replica, port)
        name = f"triton-{server_name(plan.stack, replica)}"
        component = Component(name, "triton", 0, port, str(server.log), plan.stack, replica=replica)
        if not start:
            state.components.append(component)
            self.save(state)
            return port, None
        server, component.pid = self.start_replica(plan.stack, replica, port, state, control)
        self.record(state, component)
        if wait:
            self.wait_ready(plan.stack, server, state)
        return port, server

    def triton_server(self, stack: str, replica: int, port: int) -> TritonServer:
        """Replica `replica` of the stack's Triton (not started): its own folder and log."""
        stack_dir = self.root / "stacks" / stack
        workdir = stack_dir if replica == 1 else stack_dir / f"replica-{replica}"
        return TritonServer(workdir, port)

    def scale(self, stack: str, replicas: int, control: AwsControlPlane) -> dict[str, float]:
        """Start the stack's stopped replicas up to `replicas`, measuring each phase (seconds,
        summed over the replicas started): `download` (the planned copy step, from the
        stack's own store with its own credentials, only when nothing is copied yet;
        `download_bytes`; 0 where Triton reads the store itself, inside `load`), `start`
        (process to live), `load` (until the planned readiness probe passes). Each start is
        recorded in the state before it is waited for, so a drill killed meanwhile leaves it
        stoppable."""
        state = self.load_state()
        if state is None:
            raise SandboxError("no sandbox is running", fix="exitplan sandbox up")
        phases = dict.fromkeys(("download", "download_bytes", "start", "load", "started"), 0.0)
        tritons = [c for c in state.components if c.kind == "triton" and c.stack == stack]
        planned = self.planned(stack, state)
        for component in sorted(tritons, key=lambda c: c.replica)[:replicas]:
            if component.running():
                continue
            models = self.served_folder(stack, state)
            if not planned.reads_store and not self.copy_running(stack, state):
                began = time.monotonic()
                self.start_copy(stack, state, control)
                phases["download"] += time.monotonic() - began
                phases["download_bytes"] += sum(
                    f.stat().st_size for f in models.rglob("*") if f.is_file()
                )
            began = time.monotonic()
            server, pid = self.start_replica(stack, component.replica, component.port, state,
                                             control)  # fmt: skip
            self.replace_process(stack, pid, component.replica)
            server.wait_live()
            phases["start"] += time.monotonic() - began
            began = time.monotonic()
            self.wait_ready(stack, server, state)
            phases["load"] += time.monotonic() - began
            phases["started"] += 1
        return {k: round(v, 3) for k, v in phases.items()}

    def shrink(self, stack: str, replicas: int, *, forget_model: bool = False) -> list[str]:
        """Stop the stack's replicas above `replicas` (recorded stopped: pid 0); with
        `forget_model`, remove its downloaded model too (a pilot-light standby holds none).
        The names of the replicas stopped."""
        state = self.load_state()
        if state is None:
            raise SandboxError("no sandbox is running", fix="exitplan sandbox up")
        extra = [
            c
            for c in state.components
            if c.kind == "triton" and c.stack == stack and c.replica > replicas
        ]
        stopped = self.stop_components(extra)
        for component in extra:
            self.replace_process(stack, 0, component.replica)
        if forget_model:  # no pod left: its sidecar and volume go with it
            stopped += self.stop_copy(stack, self.load_state() or state)
            shutil.rmtree(self.root / "stacks" / stack / "models", ignore_errors=True)
        return stopped

    def down(self) -> list[str]:
        """Stop every recorded process by pid; returns the names of those that were running."""
        state = self.load_state()
        if state is None:
            return []
        return self._tear_down(state)

    def _tear_down(self, state: SandboxState) -> list[str]:
        """Stop the state's processes, remove the front door's admin socket (and its private
        folder) and the state file; the names of the processes that were running."""
        # Held first, so that the kubelet restarts nothing meanwhile; what it restarted before
        # is in the state read after. Then everything stops at once (Triton takes ~2 s).
        self.hold(state.components)
        state = self.load_state() or state
        stopped = self.stop_components(state.components)
        if state.admin_socket:
            remove_admin_socket(Path(state.admin_socket))
        self.state_file.unlink(missing_ok=True)
        return stopped

    def stop_components(self, components: Sequence[Component]) -> list[str]:
        """Stop the recorded processes that still run (never a process that merely reuses a
        recorded pid), then kill what is left of each group: a stuck leader, orphaned stubs.
        Triton replicas are held first: the kubelet does not restart them."""
        self.hold(components)
        alive = [c for c in components if c.running()]
        recorded = [c for c in components if c.pid > 0]  # pid 0: a replica never started
        groups = [c.pid for c in recorded if c in alive or not pid_alive(c.pid)]
        stop_processes([c.pid for c in alive], groups=groups)
        return [c.name for c in alive]


def up_steps(stacks: Sequence[StackPlan]) -> int:
    """The steps of `Sandbox.up`: the control plane, each store emulator (S3 is on the
    control plane), each stack's publish, IAM on, the registry, each stack's Triton, the
    baseline, the front door."""
    emulators = {p.scheme for p in stacks if EMULATORS[p.scheme].start is not None}
    return 1 + len(emulators) + len(stacks) + 2 + len(stacks) + 2


def _wait_watching(kubelet: Component, timeout_s: float) -> None:
    """Until the kubelet says it watches; a failure with its log when it exits or is silent."""
    log = Path(kubelet.log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and kubelet.running():
        if log.is_file() and "watching" in log.read_text():
            return
        time.sleep(0.1)
    raise SandboxError(
        f"the sandbox's kubelet did not start within {timeout_s:g} s: {log_tail(log, 5)}"
    )


def _wait_routes(door: FrontDoor, stopped: set[str], timeout_s: float) -> None:
    """Wait until the front door routes to a stack, and marks each server of a Triton that is
    not running (`stopped`: a pilot-light standby, a replica above its level) down: HAProxy
    starts every server UP until its checks fail, so a run started before then found a stopped
    standby "in rotation" and took that for the state to restore (a kill-matrix snapshot)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = door.server_status()
        if "UP" in status.values() and not any(status.get(s) == "UP" for s in stopped):
            return
        time.sleep(0.2)
    raise SandboxError(
        f"the front door marks no stack UP, or a stopped one UP, after {timeout_s:g} s: "
        f"{door.server_status()}",
        fix="check the Triton logs in .exitplan/sandbox/stacks/*/tritonserver.log",
    )


def emulator_for(plan: StackPlan) -> StoreEmulator:
    """The emulator that serves the stack's model store (by its URI scheme)."""
    if plan.scheme not in EMULATORS:
        raise SandboxError(
            f"stack {plan.stack} stores its model at {plan.scheme}://, which no sandbox "
            f"emulator serves (emulated: {', '.join(f'{k}://' for k in EMULATORS)})",
            fix="leave the stack out of the sandbox (sandbox up --stacks ...)",
        )
    return EMULATORS[plan.scheme]


def stack_weights(weights: Mapping[str, int], stacks: Sequence[str]) -> dict[str, int]:
    """The router's weights for the sandbox's stacks; stacks it does not route get 0, and if
    none of them has weight the first gets 100."""
    chosen = {s: int(weights.get(s, 0)) for s in stacks}
    if not any(chosen.values()) and stacks:
        chosen[stacks[0]] = 100
    return chosen
