"""Interrupts: SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a run, which rolls back; `received()`
names the one that came (a chaos run, which chaostoolkit ends as `interrupted` itself, exits
130 for it like a drill)."""

from __future__ import annotations

import signal
from types import FrameType

from runbooks import render


class _State:
    by: str | None = None


state = _State()


def received() -> str | None:
    """The interrupt this process received (Ctrl-C, SIGTERM, SIGHUP), or None."""
    return state.by


# Ctrl-C, a kill and a terminal that went away: each interrupts a run, which rolls back.
INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def install() -> None:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP interrupt: the first raises KeyboardInterrupt
    (naming the signal, SIGINT as "Ctrl-C") in the main thread, so a drill or an experiment
    rolls back and the CLI exits 130; later ones are noted, not obeyed, so they cannot cut the
    rollback short (a Python handler, not SIG_IGN, which the processes a rollback starts would
    inherit). SIGINT is handled even when the CLI started with it ignored (a background job
    of a script), as Python's default handler is not."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        for sig in INTERRUPTS:
            signal.signal(sig, rolling_back)
        state.by = signal_name(signum)
        raise KeyboardInterrupt(state.by)

    def rolling_back(signum: int, _frame: FrameType | None) -> None:
        render.error(f"{signal_name(signum)} ignored: rolling back")

    for sig in INTERRUPTS:
        signal.signal(sig, interrupt)


def signal_name(signum: int) -> str:
    """How an interrupt is named to a person: Ctrl-C for SIGINT, else the signal's name."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
