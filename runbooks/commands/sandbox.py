"""`exitplan sandbox up|down|status` and `exitplan load`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, http_url, print_json, project_of
from runbooks.progress import display

if TYPE_CHECKING:
    from runbooks.load.generator import InferRequest

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
            help="Stacks to run (repeatable; default: primary, standby and edge stacks whose "
            "stores the sandbox emulates).",
            show_default=False,
        ),
    ] = None,
    timeout_multiple: Annotated[
        float,
        typer.Option(
            "--server-timeout-multiple",
            min=1,
            metavar="N",  # a short one: at 80 columns "<float range> [x>=1]" cut the name (U3)
            help="Front-door server timeout as a multiple of the baseline p99.",
        ),
    ] = 20.0,
    timeout_floor_ms: Annotated[
        int,
        typer.Option("--server-timeout-floor-ms", min=1, metavar="MS", help="Its lower bound."),
    ] = 200,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="demo (the fast fraud scorer) or minilm (the MiniLM sentence encoder, ~87 MiB: "
            "download and load take measurable time in a failover drill).",
        ),
    ] = "demo",
    first_deploy: Annotated[
        bool,
        typer.Option(
            "--first-deploy",
            help="Rehearse the first deploy: start from empty stores and bring the stacks up in "
            "`exitplan stacks order`, publishing at the steps it names; report per stack how "
            "long until ready and a checked answer, and exit 1 naming any stack that does not "
            "serve.",
        ),
    ] = False,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Package the model (--model) if needed; start the AWS control plane (moto, with IAM and the
    vault), each stack's model store, each stack's Triton as planned (its arguments, store,
    identity and copy step: `exitplan sandbox explain STACK`), and the HAProxy front door; wait
    until it routes and print the endpoints. A second `up` is refused; a failed `up` stops what
    it started."""
    from runbooks.targets.sandbox_setup import (
        MODELS,
        SandboxSettings,
        default_stacks,
        start_sandbox,
    )

    if model not in MODELS:
        raise typer.BadParameter(f"{model!r}: use {' or '.join(MODELS)}", param_hint="--model")
    proj = project_of(project)
    settings = SandboxSettings(
        server_timeout_multiple=timeout_multiple, server_timeout_floor_ms=timeout_floor_ms
    )
    with display(enabled=not as_json) as progress:
        state = start_sandbox(
            proj, stacks or default_stacks(proj), progress, settings, model, first_deploy
        )
    if as_json:
        print_json("sandbox.up", state.as_dict())
    else:
        render.sandbox_status(state.as_dict(), health={})
        if state.first_deploy:
            render.first_deploy(state.first_deploy)


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
    levels = {stack: target.level(stack) for stack in target.stacks()}
    health = {
        stack: {
            "ready": bool(levels[stack]["running"]) and target.health(stack),
            # a pilot-light standby has no model until a failover downloads it
            "digest": target.model_digest(stack) if levels[stack]["running"] else "",
            "weight": weight,
            "credentials": target.credential_state(stack)["status"],
            "store": target.state.stores[stack]["uri"],
            **levels[stack],
            "restarts": target.restarts(stack),
        }
        for stack, weight in target.weights().items()
    }
    for stack, facts in health.items():
        # what a stack that should serve and does not last logged (not one its level stops)
        should_serve = not facts["ready"] and facts["at_rest"]
        facts["log_tail"] = target.log_tail(stack) if should_serve else []
    if as_json:
        print_json("sandbox.status", {"running": True, **target.state.as_dict(), "stacks": health})
    else:
        from runbooks.drills.clean_start import RESET, differences, unfinished

        render.sandbox_status(target.state.as_dict(), health=health)
        found = differences(project_of(project), target)  # U6: another run's leftovers
        for diff in found:
            render.out.print(f"[yellow]not as configured[/] {render.escape(diff.detail)}")
        if found:
            render.out.print(f"  fix: {RESET} (or roll back the run that left it)")
        for path, command in unfinished(project_of(project).root, "sandbox"):
            render.out.print(
                f"[yellow]unfinished run[/] {render.escape(str(path))} still says running",
                soft_wrap=True,
            )
            render.out.print(f"  fix: {command} {render.escape(str(path))}", soft_wrap=True)


@sandbox_app.command("explain")
def sandbox_explain(
    stack: Annotated[str, typer.Argument(help="The stack whose Triton to explain.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The stack's planned Triton (the Deployment `exitplan plan` prints: its arguments,
    env, identity and grants, copy step, token mount and probes) beside the command line the
    sandbox runs for it, with every substitution and its reason. Ports and paths are the
    running sandbox's when it runs the stack, else placeholders in <>."""
    from runbooks.targets.sandbox_explain import explain

    report = explain(project_of(project), stack)
    if as_json:
        print_json("sandbox.explain", report)
    else:
        render.sandbox_explain(report)


@app.command("load")
def load(
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Requests per second.")] = 100,
    duration: Annotated[float, typer.Option("--duration", min=0.1, help="Seconds.")] = 10,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Any KServe v2 endpoint (base URL); default: the sandbox's front door. Needs "
            "--reference.",
        ),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="reference.json (exitplan package) every answer is checked against; default: "
            "the sandbox's demo package.",
        ),
    ] = None,
    max_lag_ms: Annotated[
        float,
        typer.Option(
            "--max-lag-ms",
            min=0,
            help="Fail when the generator's own lag p99 behind its schedule is over this.",
        ),
    ] = 5.0,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Open-loop load: the reference requests of a package, sent in turn on schedule whether
    or not earlier ones returned, every answer checked against the original framework's
    (within the package's atol/rtol; else a failed request of kind wrong_answer). Exits 1 if
    any request failed or the generator lagged its schedule by more than --max-lag-ms (p99)."""
    from runbooks.load import generator as loadgen

    base_url, answers = _load_endpoint(url, reference, project)
    requests = loadgen.reference_requests(base_url, answers)
    if url is not None and requests:
        _check_kserve(requests[0])
    summary, _records = loadgen.load(requests, rate=rate, duration_s=duration)
    lagged = summary.lag_p99_ms > max_lag_ms
    if as_json:
        extra = {"url": base_url, "reference": str(answers), "max_lag_ms": max_lag_ms}
        print_json("load", {**summary.as_dict(), **extra})
    else:
        render.load_summary(summary.as_dict())
        if lagged:
            render.err.print(
                f"[red]the generator lagged[/]: p99 {summary.lag_p99_ms:.1f} ms behind its "
                f"schedule > {max_lag_ms:g} ms (its latencies are its own, not the service's)"
            )
    if summary.failed or lagged:
        raise typer.Exit(1)


# What a server that is up but speaks no KServe v2 at that path answers (review I7: these ran
# a whole load of "http-501" or "wrong_answer" failures, exit 1, as if a service were failing).
NOT_KSERVE = (404, 405, 501)


def _check_kserve(request: InferRequest) -> None:
    """Before the load: one of its requests, once. A server that answers it with 404, 405 or
    501, or with 200 and no KServe v2 `outputs`, is not a KServe v2 endpoint: bad input (exit
    2) naming --url. A refused connection or a 5xx is left to the load to count (a failing
    service)."""
    import json
    import urllib.error
    import urllib.request

    from runbooks.errors import RunbookError

    sent = urllib.request.Request(
        request.url, request.body, {"Content-Type": "application/json", **request.headers}
    )
    said = ""
    try:
        with urllib.request.urlopen(sent, timeout=10) as answer:
            try:
                body = json.loads(answer.read())
            except ValueError:
                body = None
            if not isinstance(body, dict) or "outputs" not in body:
                kind = answer.headers.get("Content-Type") or "no content type"
                said = f"200 with no KServe v2 outputs ({kind})"
    except urllib.error.HTTPError as exc:
        if exc.code in NOT_KSERVE:
            said = str(exc.code)
    except (urllib.error.URLError, OSError):
        return
    if said:
        raise RunbookError(
            f"--url: not a KServe v2 endpoint (POST {request.url} -> {said})",
            fix="give the base URL of a KServe v2 server (Triton: http://HOST:8000) serving "
            "the reference's model",
        )


def _load_endpoint(
    url: str | None, reference: Path | None, project: Path | None
) -> tuple[str, Path]:
    """Where `exitplan load` sends and what it checks: --url and --reference, or the
    sandbox's front door and its demo package's reference answers."""
    http_url(url, "--url")
    if url is not None and reference is not None:
        return url, reference
    if url is not None:
        raise typer.BadParameter(
            "--url needs --reference (the answers to check)", param_hint="--url"
        )
    from runbooks.targets.target import target_for

    target = target_for("sandbox", project_of(project).root)
    answers = reference or target.reference_answers()
    if answers is None:
        raise typer.BadParameter(
            "the running sandbox knows no reference answers (started by an older exitplan): "
            "pass --reference, or restart it (exitplan sandbox down; exitplan sandbox up)",
            param_hint="--reference",
        )
    return target.endpoint(), answers
