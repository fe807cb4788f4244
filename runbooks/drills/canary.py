"""The drill's canary steps from the command line, and its steps as a numbered list (--dry)."""

from __future__ import annotations

from collections.abc import Sequence

from runbooks.errors import RunbookError


def parse_canary(text: str) -> tuple[int, ...]:
    """`1,10,50,100` -> (1, 10, 50, 100); anything else is bad input."""
    try:
        steps = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise RunbookError(
            f"--canary {text!r} is not a list of percentages", fix="e.g. --canary 1,10,50,100"
        ) from None
    if not steps or any(not 0 < s <= 100 for s in steps):
        raise RunbookError(f"--canary {text!r}: each step must be 1..100", fix="e.g. 1,10,50,100")
    return steps


def steps_text(steps: Sequence[str]) -> str:
    """Numbered steps for --dry."""
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
