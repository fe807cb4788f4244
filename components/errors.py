"""The one exception family of the Pulumi side: every error a user can cause or fix."""

from __future__ import annotations


class ExitplanError(Exception):
    """Base of every error exitplan reports; `exit_code` follows the CLI contract."""

    exit_code = 3


class InputError(ExitplanError):
    """Bad input the user can fix: names the file, the dotted field path and the fix."""

    exit_code = 2

    def __init__(self, problem: str, *, file: str = "", field: str = "", fix: str = "") -> None:
        self.problem = problem
        self.file = file
        self.field = field
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        """The error as the CLI prints it: where, what, how to fix."""
        where = ": ".join(part for part in (self.file, self.field) if part)
        text = f"{where}: {self.problem}" if where else self.problem
        return f"{text}\n  fix: {self.fix}" if self.fix else text


class SpecError(InputError):
    """A stack's `exitplan:service` config does not describe a valid service."""


class CatalogError(InputError):
    """The catalog cannot satisfy the spec (no such GPU, region, Triton version...)."""


class UnsupportedFeatureError(InputError):
    """The spec asks a cloud for features it lacks; lists every gap with its reason."""


class StackNotFoundError(InputError):
    """A stack name given on the command line has no `stacks/Pulumi.<stack>.yaml`."""


class CatalogDataError(ExitplanError):
    """A catalog data file is malformed (a defect in the shipped data, not user input)."""


class SourceUnavailableError(ExitplanError):
    """A price source cannot be read here (no network, no credentials): names the source,
    what it needs, and that nothing was changed. Exit 1: the refresh did not happen."""

    exit_code = 1


class DeployWaitError(ExitplanError):
    """Something `pulumi up` waits for in the cloud (a role assignment taking effect) did not
    happen in time; the deploy stops before the resources that need it. Exit 1."""

    exit_code = 1
