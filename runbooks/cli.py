"""`exitplan`: the command line, assembled from the command groups in `runbooks/commands/`. One
function per subcommand; one handler maps errors to exit codes (0 ok, 1 a check failed, 2 bad
input, 3 internal error, 130 interrupted: Ctrl-C, SIGTERM or SIGHUP, each rolled back)."""

import atexit
import gc
import sys

import typer

from components.errors import ExitplanError
from model_packaging.errors import PackagingError
from runbooks import interrupts, render
from runbooks.commands import (
    alerts,
    catalog,
    chaos,
    cost,
    drill,
    inventory,
    package,
    policy,
    runbook,
    sandbox,
    scorecard,
    stacks,
    tabletop,
    target,
)
from runbooks.errors import RunbookError
from runbooks.streams import make_best_effort
from sandbox.errors import SandboxError

app = typer.Typer(
    name="exitplan",
    help=(
        "Keep AI inference portable: equivalent GPU inference stacks on AWS, Azure and Google "
        "Cloud, checked for parity offline, with models packaged as ONNX and exits rehearsed "
        "on a local sandbox.\n\n"
        "Start with `exitplan stacks list`, then `exitplan plan STACK` and `exitplan parity`; "
        "`exitplan sandbox up`, then `exitplan drill exit-plan` and `exitplan chaos run`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)
# Top-level commands come from their groups' modules, each registered here once.
for group in (stacks.app, package.app, sandbox.app):
    app.registered_commands += group.registered_commands
app.add_typer(stacks.stacks_app, name="stacks")
app.add_typer(sandbox.sandbox_app, name="sandbox")
app.add_typer(drill.drill_app, name="drill")
app.add_typer(chaos.chaos_app, name="chaos")
app.add_typer(policy.policy_app, name="policy")
app.add_typer(scorecard.scorecard_app, name="scorecard")
app.add_typer(alerts.alerts_app, name="alerts")
app.add_typer(cost.cost_app, name="cost")
app.add_typer(catalog.catalog_app, name="catalog")
app.add_typer(inventory.inventory_app, name="inventory")
app.add_typer(tabletop.tabletop_app, name="tabletop")
app.add_typer(runbook.runbook_app, name="runbook")
app.add_typer(target.target_app, name="target")


def main() -> None:
    """Console entry point: run the app, mapping exceptions to the CLI's exit codes. Output is
    best-effort (`streams`): a reader that went away never stops a run or its rollback."""
    make_best_effort()
    interrupts.install()
    # The cloud SDKs build tens of thousands of classes on import: collecting garbage less
    # often during the run, and not sweeping them at exit, halves a plan's wall time.
    gc.set_threshold(100_000, 50, 1000)
    atexit.register(gc.freeze)
    try:
        app()
    except (ExitplanError, PackagingError, SandboxError, RunbookError) as exc:
        render.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        render.error(f"interrupted ({exc or 'Ctrl-C'})")
        sys.exit(130)
    except Exception as exc:
        render.error(f"internal error: {type(exc).__name__}: {exc}")
        render.error("please report this with the command you ran")
        sys.exit(3)
