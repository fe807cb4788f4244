"""`exitplan package`: a model to ONNX, proven, laid out for Triton, packed and published."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of
from runbooks.progress import display

if TYPE_CHECKING:
    from components.spec import ModelConfig

app = typer.Typer()
DEFAULT_MAX_BATCH = 8


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
        int | None,
        typer.Option(
            "--max-batch",
            min=1,
            # no long dotted words in these two: a help column that cannot wrap under 24
            # characters left the option names no room at 80 columns (review U3)
            help="Triton's max batch size (default: what the --publish stacks' specs set, "
            f"else {DEFAULT_MAX_BATCH}).",
            show_default=False,
        ),
    ] = None,
    # Two flags, not one `--x/--no-x` pair: the pair's extra help column left the option names
    # no room at 80 columns (review U3: `--dynamic-batch…    --no-dynamic-b…`).
    dynamic_batching: Annotated[
        bool,
        typer.Option(
            "--dynamic-batching",
            help="Turn Triton's dynamic batching on (default: what the --publish stacks' "
            "specs set, else on).",
            show_default=False,
        ),
    ] = False,
    no_dynamic_batching: Annotated[
        bool,
        typer.Option("--no-dynamic-batching", help="Turn it off.", show_default=False),
    ] = False,
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
        str,
        typer.Option("--image", help="The image's reference (registry host, repository and tag)."),
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
    if dynamic_batching and no_dynamic_batching:
        raise typer.BadParameter(
            "--dynamic-batching and --no-dynamic-batching contradict each other",
            param_hint="--dynamic-batching",
        )
    dynamic = True if dynamic_batching else False if no_dynamic_batching else None
    stores, batching = _stores(project, publish_stacks or [], max_batch, dynamic)
    options = PackageOptions(
        source=model,
        out=out,
        name=name,
        framework=framework,
        version=version,
        max_batch=batching.max_batch_size,
        dynamic_batching=batching.dynamic_batching,
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
    with display(enabled=not as_json) as progress:
        result = run_package(options, progress)
    if as_json:
        print_json("package", result.as_dict())
    else:
        render.package_summary(result.as_dict())


def _shape(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a list of integers", param_hint="--input-shape"
        ) from None


def _stores(
    project: Path | None, stacks: list[str], max_batch: int | None, dynamic: bool | None
) -> tuple[dict[str, str], ModelConfig]:
    """Each stack's model store, from its spec (stacks are checked before any work starts),
    and the model configuration to package: what the stacks' specs promise Triton
    (`triton.max_batch_size`, `triton.dynamic_batching`), which an option may repeat but not
    contradict (exit 2)."""
    from components.catalog.clouds import store_uri
    from components.spec import ModelConfig, model_config

    asked = ModelConfig(max_batch or DEFAULT_MAX_BATCH, True if dynamic is None else dynamic)
    if not stacks:
        return {}, asked
    proj = project_of(project)
    stores = {}
    promised: dict[str, ModelConfig] = {}
    for name in stacks:
        stack = proj.stack(name, field="--publish")
        stack.validate()
        stores[name] = store_uri(stack.spec)
        promised[name] = model_config(stack.spec.triton)
        _register_store(stack.spec.provider)
    configs = set(promised.values())
    if len(configs) > 1:
        shown = ", ".join(f"{name}: {config.label}" for name, config in promised.items())
        raise typer.BadParameter(
            f"the stacks promise Triton different model configurations ({shown}): publish "
            "them separately",
            param_hint="--publish",
        )
    spec = configs.pop()
    for given, wanted, option in (
        (max_batch, spec.max_batch_size, "--max-batch"),
        (dynamic, spec.dynamic_batching, "--dynamic-batching"),
    ):
        if given is not None and given != wanted:
            raise typer.BadParameter(
                f"{given} contradicts what {', '.join(stacks)} promise Triton ({spec.label}): "
                "drop the option or change the stack files",
                param_hint=option,
            )
    return stores, spec


def _register_store(cloud: str) -> None:
    """Hand model_packaging the store backend a cloud keeps with its builders (OCI Object
    Storage) when the cloud's store scheme is not one model_packaging serves itself."""
    from components.catalog.clouds import facts
    from components.publishing import store_backend
    from model_packaging.publish import register_store, serves

    scheme = facts(cloud).store_scheme
    backend = None if serves(scheme) else store_backend(cloud)
    if backend is not None:
        register_store(scheme, backend)
