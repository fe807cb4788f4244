"""`exitplan sandbox up|down|status` and `exitplan load`."""

from __future__ import annotations

from typing import Annotated

import typer

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of
from runbooks.progress import display

sandbox_app = typer.Typer(
    help="The sandbox: one real Triton per stack behind an HAProxy front door, on loopback.",
    no_args_is_help=True,
)
app = typer.Typer()


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
    from runbooks.targets.sandbox_setup import SandboxSettings, default_stacks, start_sandbox

    proj = project_of(project)
    settings = SandboxSettings(
        server_timeout_multiple=timeout_multiple, server_timeout_floor_ms=timeout_floor_ms
    )
    with display(enabled=not as_json) as progress:
        state = start_sandbox(proj, stacks or default_stacks(proj), progress, settings)
    if as_json:
        print_json("sandbox.up", state.as_dict())
    else:
        render.sandbox_status(state.as_dict(), health={})


@sandbox_app.command("down")
def sandbox_down(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Stop every process the sandbox started, by pid (also after a crash of exitplan)."""
    from runbooks.targets.sandbox_setup import sandbox_for

    stopped = sandbox_for(project_of(project)).down()
    if as_json:
        print_json("sandbox.down", {"stopped": stopped})
    elif stopped:
        render.out.print(f"stopped {len(stopped)} processes: {', '.join(stopped)}")
    else:
        render.out.print("nothing to stop: no sandbox is running")


@sandbox_app.command("status")
def sandbox_status(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """Each component: pid, address, health, model digest, front-door weight and state."""
    from runbooks.targets.sandbox_setup import SandboxTarget, sandbox_for

    sandbox = sandbox_for(project_of(project))
    if sandbox.running() is None:
        if as_json:
            print_json("sandbox.status", {"running": False})
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
        print_json("sandbox.status", {"running": True, **target.state.as_dict(), "stacks": health})
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
    from runbooks.load import generator as loadgen
    from runbooks.targets.target import target_for

    proj = project_of(project)
    target = target_for("sandbox", proj.root)
    model = proj.stack(target.stacks()[0]).spec.triton.models[0].name
    inputs = loadgen.metadata_inputs(target.endpoint(), model)
    request = loadgen.infer_request(target.endpoint(), model, inputs)
    summary, _records = loadgen.load(request, rate=rate, duration_s=duration)
    if as_json:
        print_json("load", summary.as_dict())
    else:
        render.load_summary(summary.as_dict())
    if summary.failed:
        raise typer.Exit(1)
