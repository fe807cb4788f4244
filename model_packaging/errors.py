"""The one exception family of model packaging: every error names its stage and cause.

This package does not import `components` (DESIGN.md); the CLI's one handler maps both
families to exit codes (2 bad input, 1 a failed check, 3 internal)."""

from __future__ import annotations


class PackagingError(Exception):
    """Base: a packaging stage failed. `exit_code` follows the CLI contract."""

    exit_code = 2
    stage = "package"

    def __init__(self, cause: str, *, fix: str = "") -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """`<stage>: <cause>` plus the fix, as the CLI prints it."""
        text = f"{self.stage}: {self.cause}"
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class ExportError(PackagingError):
    """The model could not be read or converted to ONNX."""

    stage = "export"


class UnsafeInputError(ExportError):
    """A pickle-based model was given without --trust-pickle (unpickling runs code)."""


class ShapeError(ExportError):
    """Inputs or outputs do not have the shapes the stage needs (a fixed batch axis, say)."""


class ParityError(PackagingError):
    """ONNX Runtime disagrees with the original framework beyond the tolerances."""

    exit_code = 1
    stage = "validate"


class LayoutError(PackagingError):
    """The Triton repository could not be written or does not parse."""

    stage = "layout"


class ImageError(PackagingError):
    """The OCI image could not be built, pushed or read back."""

    stage = "image"


class RegistryUnreachableError(ImageError):
    """The registry did not answer."""


class PublishError(PackagingError):
    """The repository could not be uploaded to, or verified in, a model store."""

    stage = "publish"
