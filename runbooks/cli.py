"""`exitplan`: the command line. One function per subcommand; one handler maps errors to exit
codes (0 ok, 1 a check failed, 2 bad input, 3 internal error, 130 interrupted)."""

from __future__ import annotations

import atexit
import gc
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from components.errors import ExitplanError
from components.stack_config import Project, Stack, find_project
from model_packaging.errors import PackagingError
from runbooks import render
from runbooks.errors import RunbookError
from sandbox.errors import SandboxError

app = typer.Typer(
    name="exitplan",
    help=(
        "Keep AI inference portable: equivalent GPU inference stacks on AWS, Azure and Google "
        "Cloud, checked for parity offline.\n\n"
        "Start with `exitplan stacks list`, then `exitplan plan STACK` and `exitplan parity`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)
stacks_app = typer.Typer(help="Inspect the stacks of the project.", no_args_is_help=True)
app.add_typer(stacks_app, name="stacks")
sandbox_app = typer.Typer(
    help="The sandbox: one real Triton per stack behind an HAProxy front door, on loopback.",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
drill_app = typer.Typer(
    help="Exit-plan drills with journals, gates, rollback and reports.", no_args_is_help=True
)
app.add_typer(drill_app, name="drill")
chaos_app = typer.Typer(
    help="Chaos Toolkit experiments (chaos/experiments/*.yaml) with the load generator running.",
    no_args_is_help=True,
)
app.add_typer(chaos_app, name="chaos")

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        help="Project folder (default: the nearest folder upward holding Pulumi.yaml).",
        file_okay=False,
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _project(path: Path | None) -> Project:
    return Project(find_project(path or Path.cwd()))


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


@stacks_app.command("list")
def stacks_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List the stacks: provider, role, standby level, region, the machine type the catalog
    resolves, node range and, for standbys, the estimated achievable RTO."""
    proj = _project(project)
    rows = [_stack_row(proj.stack(name)) for name in proj.stack_names()]
    if as_json:
        _print_json(rows)
    else:
        render.stacks_table(rows)


def _stack_row(stack: Stack) -> dict[str, Any]:
    stack.validate()
    spec = stack.spec
    if stack.kind == "edge":
        edge = stack.edge_plan
        machine, region = edge.label, f"{edge.parent_region} / {edge.zone}"
    else:
        machine, region = stack.plan.gpu_instance.label, spec.region
    return {
        "stack": stack.name,
        "kind": stack.kind,
        "provider": spec.provider,
        "role": spec.role,
        "standby_level": stack.standby.level if stack.standby else None,
        "region": region,
        "gpu_type": machine,
        "gpu_nodes": f"{spec.gpu.min_nodes}-{spec.gpu.max_nodes}",
        "estimated_rto_s": stack.rto.total_s if stack.rto else None,
        "routes": stack.traffic.stacks if stack.traffic else [],
    }


@app.command("plan")
def plan(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. aws-primary.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what `pulumi up -s STACK` would create: the real program run offline under
    Pulumi's mocks (no cloud credentials needed). Prints type, name, parent and key
    properties of every resource."""
    from components.planning.runner import plan_stack

    proj = _project(project)
    loaded = proj.stack(stack)
    result = plan_stack(proj, loaded)
    if as_json:
        _print_json({**render.plan_json(result), "gaps": loaded.gaps})
    else:
        render.plan_tree(result)
        render.gap_notes(loaded.gaps)


@app.command("parity")
def parity(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to compare (default: all).", show_default=False),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare stacks for equivalence: Triton version, models, GPU, Kubernetes minor, ports and
    probes, identity, encryption, exposure. Expected per-cloud differences are shown as notes
    with their reason; any other difference is drift and exits 1."""
    from components.planning.parity import compare
    from components.planning.runner import plan_stack

    proj = _project(project)
    names = stacks or proj.stack_names()
    loaded = [proj.stack(n) for n in names]
    for stack in loaded:
        stack.validate()  # report every bad stack before planning any
    gaps = {k: v for stack in loaded for k, v in stack.gaps.items()}
    report = compare([plan_stack(proj, s) for s in loaded], gaps)
    if as_json:
        _print_json(report.as_dict())
    else:
        render.parity_table(report)
    if report.drift:
        raise typer.Exit(1)


@app.command("package")
def package(
    model: Annotated[
        str,
        typer.Argument(
            help="The model: a .pt2 ExportedProgram, a TorchScript file (with --input-shape), "
            "module:function or file.py:function returning (model, example_inputs), a "
            "scikit-learn joblib/pickle file, or an .onnx file.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (replaced only on success).")],
    name: Annotated[str, typer.Option("--name", help="Model name in Triton.")] = "model",
    framework: Annotated[
        str, typer.Option("--framework", help="torch, sklearn, onnx or auto (from the name).")
    ] = "auto",
    version: Annotated[str, typer.Option("--version", help="Model version (an integer).")] = "1",
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, help="Triton max_batch_size.")
    ] = 8,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset for PyTorch exports.")] = 18,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance of parity.")] = 1e-4,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance of parity.")] = 1e-3,
    trust_pickle: Annotated[
        bool,
        typer.Option("--trust-pickle", help="Allow pickle/joblib files (loading one runs code)."),
    ] = False,
    input_shape: Annotated[
        str, typer.Option("--input-shape", help="TorchScript only: e.g. 1,16 (batch first).")
    ] = "",
    image: Annotated[
        str, typer.Option("--image", help="Image reference, e.g. host/models/x:1.")
    ] = "",
    push: Annotated[bool, typer.Option("--push", help="Push --image to its registry.")] = False,
    insecure_registry: Annotated[
        bool, typer.Option("--insecure-registry", help="Push over plain HTTP (local registry).")
    ] = False,
    publish_stacks: Annotated[
        list[str] | None,
        typer.Option(
            "--publish",
            help="Upload the repository to this stack's model store (repeatable).",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Package a model for every cloud: export to ONNX, prove parity with the original
    framework (exit 1 if it fails), lay out a Triton repository, build an OCI image without
    Docker, and optionally push it and publish the repository to stacks' model stores."""
    from model_packaging.package import PackageOptions
    from model_packaging.package import package as run_package

    if push and not image:
        raise typer.BadParameter("--push needs --image REF", param_hint="--push")
    stores = _store_uris(project, publish_stacks or [])
    options = PackageOptions(
        source=model,
        out=out,
        name=name,
        framework=framework,
        version=version,
        max_batch=max_batch,
        opset=opset,
        atol=atol,
        rtol=rtol,
        trust_pickle=trust_pickle,
        input_shape=_shape(input_shape),
        image_ref=image,
        push=push,
        registry_tls=not insecure_registry,
        publish_to=stores,
    )
    with render.stage_progress(enabled=not as_json) as progress:
        result = run_package(options, progress)
    if as_json:
        _print_json(result.as_dict())
    else:
        render.package_summary(result.as_dict())


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a list of integers", param_hint="--input-shape"
        ) from None


def _store_uris(project: Path | None, stacks: list[str]) -> dict[str, str]:
    """Each stack's model store, from its spec (stacks are checked before any work starts)."""
    if not stacks:
        return {}
    from components.providers import cloud

    proj = _project(project)
    stores = {}
    for name in stacks:
        stack = proj.stack(name, field="--publish")
        stack.validate()
        stores[name] = cloud(stack.spec.provider).store_uri(stack.spec)
    return stores


@sandbox_app.command("up")
def sandbox_up(
    stacks: Annotated[
        list[str] | None,
        typer.Option(
            "--stacks",
            help="Stacks to run (repeatable; default: primary and standby stacks).",
            show_default=False,
        ),
    ] = None,
    timeout_multiple: Annotated[
        float,
        typer.Option(
            "--server-timeout-multiple",
            min=1,
            help="Front-door server timeout as a multiple of the baseline p99.",
        ),
    ] = 20.0,
    timeout_floor_ms: Annotated[
        int, typer.Option("--server-timeout-floor-ms", min=1, help="Its lower bound.")
    ] = 200,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Package the demo model if needed; start the AWS control plane (moto, with IAM and the
    vault), each stack's model store, one Triton per stack that downloads the model with its
    own credentials, and the HAProxy front door; wait until it routes and print the
    endpoints. A second `up` is refused; a failed `up` stops what it started."""
    from runbooks.sandbox_run import default_stacks, start_sandbox
    from sandbox.manager import SandboxSettings

    proj = _project(project)
    settings = SandboxSettings(
        server_timeout_multiple=timeout_multiple, server_timeout_floor_ms=timeout_floor_ms
    )
    with render.stage_progress(enabled=not as_json) as progress:
        state = start_sandbox(
            proj, stacks or default_stacks(proj), lambda m: progress("up", m), settings
        )
    if as_json:
        _print_json(state.as_dict())
    else:
        render.sandbox_status(state.as_dict(), health={})


@sandbox_app.command("down")
def sandbox_down(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Stop every process the sandbox started, by pid (also after a crash of exitplan)."""
    from runbooks.sandbox_run import sandbox_for

    stopped = sandbox_for(_project(project)).down()
    if as_json:
        _print_json({"stopped": stopped})
    elif stopped:
        render.out.print(f"stopped {len(stopped)} processes: {', '.join(stopped)}")
    else:
        render.out.print("nothing to stop: no sandbox is running")


@sandbox_app.command("status")
def sandbox_status(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Each component: pid, address, health, model digest, front-door weight and state."""
    from runbooks.sandbox_run import sandbox_for
    from runbooks.target import SandboxTarget

    sandbox = sandbox_for(_project(project))
    if sandbox.running() is None:
        if as_json:
            _print_json({"running": False})
        else:
            render.out.print("no sandbox is running (exitplan sandbox up)")
        return
    target = SandboxTarget(sandbox)
    health = {
        stack: {
            "ready": target.health(stack),
            "digest": target.model_digest(stack),
            "weight": weight,
            "credentials": target.credential_state(stack)["status"],
            "store": target.state.stores[stack]["uri"],
        }
        for stack, weight in target.weights().items()
    }
    if as_json:
        _print_json({"running": True, **target.state.as_dict(), "stacks": health})
    else:
        render.sandbox_status(target.state.as_dict(), health=health)


@app.command("load")
def load(
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Requests per second.")] = 100,
    duration: Annotated[float, typer.Option("--duration", min=0.1, help="Seconds.")] = 10,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open-loop load through the sandbox's front door: KServe v2 infer requests sent on
    schedule whether or not earlier ones returned. Exits 1 if any request failed."""
    from runbooks import load as loadgen
    from runbooks.sandbox_run import sandbox_for
    from runbooks.target import SandboxTarget
    from sandbox.triton import example_inputs

    target = SandboxTarget(sandbox_for(_project(project)))
    inputs = example_inputs(target.model_file(target.stacks()[0]))
    request = loadgen.infer_request(target.endpoint(), target.state.model, inputs)
    summary, _records = loadgen.load(request, rate=rate, duration_s=duration)
    if as_json:
        _print_json(summary.as_dict())
    else:
        render.load_summary(summary.as_dict())
    if summary.failed:
        raise typer.Exit(1)


@drill_app.command("exit-plan")
def drill_exit_plan(
    source: Annotated[str, typer.Option("--from", help="The stack to leave.")],
    dest: Annotated[str, typer.Option("--to", help="The stack (in another cloud) to move to.")],
    target: Annotated[
        str,
        typer.Option(
            "--target", help="sandbox, or live (deployed stacks, from pulumi stack output)."
        ),
    ] = "sandbox",
    rto: Annotated[float | None, typer.Option("--rto", help="RTO target, seconds.")] = None,
    rate: Annotated[float, typer.Option("--rate", min=1, help="Load, requests/s.")] = 200,
    canary: Annotated[str, typer.Option("--canary", help="Percent on --to per step.")] = (
        "1,10,50,100"
    ),
    hold: Annotated[float, typer.Option("--hold", min=0.5, help="Seconds per step.")] = 5,
    slo_p99_ms: Annotated[
        float | None, typer.Option("--slo-p99-ms", help="p99 SLO for every gate.")
    ] = None,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", min=0, max=1, help="Allowed failed share.")
    ] = 0.0,
    dry: Annotated[bool, typer.Option("--dry", help="Print every step; change nothing.")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Stay on --to (no rollback).")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for journal and report.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rehearse leaving a cloud under load: pre-flight, baseline, gated canary steps to 100 %
    on --to, revoke --from's credentials, verify, roll back. Writes journal.json (after every
    step) and report.md/.html. Exit 1 when a check or gate fails (rolled back), 130 on Ctrl-C
    (rolled back)."""
    import datetime as dt

    from runbooks.drills.exit_plan import (
        DrillLock,
        ExitPlanOptions,
        parse_canary,
        planned_steps,
        run_exit_plan,
        steps_text,
    )
    from runbooks.report import write_report

    options = ExitPlanOptions(
        source,
        dest,
        rate,
        parse_canary(canary),
        hold,
        slo_p99_ms,
        max_error_rate,
        rto_s=rto,
        keep=keep,
    )
    proj = _project(project)
    drill_target, lock = _drill_target(proj, target, source, dest)
    if dry:
        steps = planned_steps(options, drill_target.weights())
        _print_json({"steps": steps}) if as_json else render.out.print(steps_text(steps))
        return
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out or proj.root / ".exitplan" / "drills" / f"{stamp}-{source}-to-{dest}"
    with DrillLock(lock), render.stage_progress(enabled=not as_json) as say:
        try:
            journal = run_exit_plan(
                proj,
                drill_target,
                options,
                folder / "journal.json",
                lambda m: say("drill", m),
                target,
            )
        finally:
            if (folder / "journal.json").exists():
                from runbooks.journal import Journal

                write_report(Journal.load(folder / "journal.json").data, folder)
    verdict = journal.exitplan["verdict"]
    if as_json:
        _print_json({"journal": str(folder / "journal.json"), **journal.exitplan})
    else:
        render.drill_verdict(journal.data, folder)
    if not verdict["passed"]:
        raise typer.Exit(1)


def _drill_target(proj: Project, kind: str, source: str, dest: str) -> tuple[Any, Path]:
    """The Target a drill acts on, and its lock file: the running sandbox, or the live stacks
    (from `pulumi stack output` and the router config of the stack that routes both)."""
    if kind == "sandbox":
        from runbooks.sandbox_run import sandbox_for
        from runbooks.target import SandboxTarget

        sandbox = sandbox_for(proj)
        return SandboxTarget(sandbox), sandbox.root / "drill.lock"
    if kind != "live":
        raise typer.BadParameter(f"{kind!r}: use sandbox or live", param_hint="--target")
    from runbooks.live_target import live_target_for

    return live_target_for(proj.root, [source, dest]), proj.root / ".exitplan" / "drill.lock"


@drill_app.command("rollback")
def drill_rollback(
    journal_path: Annotated[Path, typer.Argument(help="The drill's journal.json.")],
    project: ProjectOption = None,
) -> None:
    """Undo what a drill's journal says it changed and did not restore (safe to run twice)."""
    from runbooks.drills.exit_plan import restore
    from runbooks.journal import Journal

    journal = Journal.load(journal_path)
    ep = journal.exitplan
    drill_target, _lock = _drill_target(_project(project), ep["target"], ep["from"], ep["to"])
    done = restore(drill_target, journal)
    render.out.print(f"restored: {', '.join(done)}" if done else "nothing left to restore")


@drill_app.command("report")
def drill_report(
    journal_path: Annotated[Path, typer.Argument(help="The drill's journal.json.")],
) -> None:
    """Render report.md and a self-contained report.html from a journal."""
    from runbooks.journal import Journal
    from runbooks.report import write_report

    md, html = write_report(Journal.load(journal_path).data, journal_path.parent)
    render.out.print(f"wrote {md} and {html}")


@chaos_app.command("run")
def chaos_run(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (Chaos Toolkit YAML/JSON).")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="sandbox, or live (deployed stacks, from pulumi stack output; process faults "
            "are refused there).",
        ),
    ] = "sandbox",
    dry: Annotated[
        bool, typer.Option("--dry", help="List the activities; change nothing.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Journal folder (default .exitplan/chaos/TIME-NAME/).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Open-loop load during the run, requests/s.")
    ] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an experiment through chaostoolkit-lib against the target, with open-loop load
    running; write the Chaos Toolkit journal plus exitplan's measurements (requests failed,
    when the front door marked the faulted stack down, revoke -> recovered, the production
    estimate) and report.md/.html with the timeline. Rollbacks always run. Exits 1 when the
    experiment deviated, failed or was interrupted (e.g. refused)."""
    from runbooks import chaos_run as chaos

    options = chaos.ChaosOptions(experiment, _project(project).root, target, out, rate)
    if dry:
        steps = chaos.planned_activities(*chaos.load(options))
        if as_json:
            _print_json(steps)
        else:
            for step in steps:
                args = json.dumps(step["arguments"], default=str)
                typer.echo(f"{step['phase']:<13} {step['type']:<7} {step['call']}({args})")
        return
    journal, path = chaos.run(options)
    summary = {
        "status": journal["status"],
        "deviated": journal["deviated"],
        "journal": str(path),
        "report": str(path.parent / "report.html"),
        "exitplan": {
            k: v
            for k, v in journal["exitplan"].items()
            if k not in ("activities", "timeline", "load_epoch")
        },
    }
    if as_json:
        _print_json(summary)
    else:
        typer.echo(f"status: {summary['status']}  deviated: {summary['deviated']}")
        estimate = summary["exitplan"].pop("production_estimate", None)
        for key, value in summary["exitplan"].items():
            typer.echo(f"  {key}: {value}")
        if estimate is not None:
            typer.echo(chaos.describe_estimate(estimate))
        typer.echo(f"journal: {path}")
        typer.echo(f"report: {path.parent / 'report.html'}")
    if journal["status"] != "completed" or journal["deviated"]:
        raise typer.Exit(1)


@chaos_app.command("report")
def chaos_report(
    journal_path: Annotated[Path, typer.Argument(help="The experiment's journal.json.")],
) -> None:
    """Render report.md and a self-contained report.html from an experiment's journal."""
    from runbooks.chaos_report import write_report

    try:
        journal = json.loads(journal_path.read_text())
    except (OSError, ValueError) as exc:
        raise RunbookError(
            f"{journal_path}: not a readable journal ({exc})",
            fix="pass the journal.json that exitplan chaos run wrote",
        ) from exc
    md, html = write_report(journal, journal_path.parent)
    render.out.print(f"wrote {md} and {html}")


def main() -> None:
    """Console entry point: run the app, mapping exceptions to the CLI's exit codes."""
    # The cloud SDKs build tens of thousands of classes on import: collecting garbage less
    # often during the run, and not sweeping them at exit, halves a plan's wall time.
    gc.set_threshold(100_000, 50, 1000)
    atexit.register(gc.freeze)
    try:
        app()
    except (ExitplanError, PackagingError, SandboxError, RunbookError) as exc:
        render.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        render.error("interrupted")
        sys.exit(130)
    except Exception as exc:
        render.error(f"internal error: {type(exc).__name__}: {exc}")
        render.error("please report this with the command you ran")
        sys.exit(3)
