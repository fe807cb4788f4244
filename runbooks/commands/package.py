"""`exitplan package`: a model to ONNX, proven, laid out for Triton, packed and published."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of
from runbooks.progress import display

app = typer.Typer()


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


def _store_uris(project: Path | None, stacks: list[str]) -> dict[str, str]:
    """Each stack's model store, from its spec (stacks are checked before any work starts)."""
    if not stacks:
        return {}
    from components.catalog.clouds import store_uri

    proj = project_of(project)
    stores = {}
    for name in stacks:
        stack = proj.stack(name, field="--publish")
        stack.validate()
        stores[name] = store_uri(stack.spec)
        _register_store(stack.spec.provider)
    return stores


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
