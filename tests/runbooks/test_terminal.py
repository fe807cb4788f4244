"""Output a person reads at 80 columns (issue 23 item 7), under a real terminal: each command
runs on a pseudo-terminal 80 columns wide (no COLUMNS in its environment: the width comes from
the terminal, as for a person). `sandbox up`/`status` show stack and process names whole, the
plan tree ends a cut line with an ellipsis, every `--help` keeps its option names whole, and
`load`'s table fits (review U1, U2, U3)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = 80
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def in_terminal(*argv: str, columns: int = COLUMNS) -> str:
    """What `argv` prints on a pseudo-terminal `columns` wide, its escape codes removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    child = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    child.wait(timeout=120)
    os.close(master)
    return ANSI.sub("", b"".join(chunks).decode(errors="replace")).replace("\r", "")


def python(code: str) -> str:
    """`code` run by the project's Python on the 80-column terminal."""
    return in_terminal(sys.executable, "-c", code)


STATE = {
    "endpoint": "http://127.0.0.1:40123",
    "model": "fraud-scorer",
    "version": "1",
    "digest": "sha256:" + "ab" * 32,
    "components": [
        {"name": name, "kind": kind, "pid": pid, "port": port, "stack": stack, "restarts": 0}
        for name, kind, pid, port, stack in [
            ("moto", "control-plane", 1001, 5000, ""),
            ("triton-aws-primary", "triton", 8005, 8001, "aws-primary"),
            ("triton-aws-primary.r2", "triton", 8006, 8002, "aws-primary"),
            ("triton-azure-standby", "triton", 0, 8003, "azure-standby"),
            ("triton-azure-standby.r2", "triton", 0, 8004, "azure-standby"),
            ("gate-azure-standby", "gate", 1010, 10001, ""),
            ("triton-gcp-standby", "triton", 8078, 8005, "gcp-standby"),
            ("frontdoor", "frontdoor", 1020, 40123, ""),
        ]
    ],
}
HEALTH = {
    "aws-primary": {"level": "primary", "ready": True, "weight": 100, "restarts": 0,
                    "credentials": "active", "digest": "sha256:" + "cd" * 32},
    "azure-standby": {"level": "pilot-light", "ready": False, "weight": 0, "restarts": 0,
                      "credentials": "fixed (emulator)", "digest": ""},
    "gcp-standby": {"level": "warm", "ready": True, "weight": 0, "restarts": 2,
                    "credentials": "fixed (emulator)", "digest": "sha256:" + "ef" * 32},
}  # fmt: skip


def test_sandbox_status_shows_every_stack_and_process_name_whole() -> None:
    """U1: the table cut `triton-azure-standby` to `triton…`: nobody could tell which Triton
    was which stack's, and no port showed."""
    shown = python(f"from runbooks import render; render.sandbox_status({STATE!r}, {HEALTH!r})")
    lines = shown.splitlines()
    assert max(len(line) for line in lines) <= COLUMNS, shown
    assert "…" not in shown, shown
    for stack in HEALTH:
        assert stack in lines, f"{stack} is not a heading of its own:\n{shown}"
    for component in STATE["components"]:
        assert re.search(rf"\b{re.escape(component['name'])}\s", shown), component["name"]
        assert f"127.0.0.1:{component['port']}" in shown
    assert "warm · ready · weight 0 · restarts 2" in shown
    assert "pilot-light · not ready · weight 0" in shown


def test_sandbox_up_help_keeps_its_option_names_whole() -> None:
    """U3: `--server-timeout-multi…` at 80 columns: an option nobody can type."""
    shown = in_terminal(str(Path(sys.executable).parent / "exitplan"), "sandbox", "up", "--help")
    assert "--server-timeout-multiple " in shown and "--server-timeout-floor-ms " in shown, shown


def test_every_help_keeps_its_option_names_whole() -> None:
    """Every command's --help at 80 columns: no option name ends in an ellipsis."""
    code = (
        "import typer, click\n"
        "from runbooks.cli import app\n"
        "def walk(cmd, path):\n"
        "    yield path\n"
        "    for name, sub in getattr(cmd, 'commands', {}).items():\n"
        "        yield from walk(sub, [*path, name])\n"
        "root = typer.main.get_command(app)\n"
        "for path in walk(root, []):\n"
        "    print('=== ' + ' '.join(path), flush=True)\n"
        "    try:\n"
        "        app([*path, '--help'], standalone_mode=False)\n"
        "    except SystemExit:\n"
        "        pass\n"
    )
    shown = python(code)
    helps = shown.split("=== ")[1:]
    assert len(helps) > 30, shown[-2000:]
    cut = [
        f"{text.splitlines()[0] or 'exitplan'}: {line.strip()}"
        for text in helps
        for line in text.splitlines()
        if re.match(r"^│ +-{1,2}[\w-]*…", line)
    ]
    assert cut == [], cut


def test_the_plan_tree_ends_a_cut_line_with_an_ellipsis() -> None:
    """U2: the bucket's name was cut at 80 columns with nothing to say so."""
    shown = in_terminal(str(Path(sys.executable).parent / "exitplan"), "plan", "aws-primary")
    tree = [line for line in shown.splitlines() if line.startswith(("├", "│", "└"))]
    assert len(tree) > 20, shown[:2000]
    assert all(len(line) <= COLUMNS for line in tree)
    bucket = next(line for line in tree if "aws:s3/bucket:Bucket fraud-scoring-models" in line)
    assert bucket.endswith("…"), bucket


def test_the_load_table_fits_80_columns() -> None:
    """U1: `load`'s table cut its headers (`reques…`, `achiev…`)."""
    summary = {"rate": 200, "achieved_rate": 199.9, "sent": 2000, "ok": 2000, "failed": 0,
               "p50_ms": 1.23, "p90_ms": 2.34, "p99_ms": 3.7, "max_ms": 12.5,
               "share": {"aws-primary": 1.0}, "errors": {}}  # fmt: skip
    shown = python(f"from runbooks import render; render.load_summary({summary!r})")
    assert "…" not in shown, shown
    assert "requested" in shown and "achieved" in shown, shown
    assert max(len(line) for line in shown.splitlines()) <= COLUMNS, shown


def test_plan_warnings_say_warning_and_name_the_stack_file_and_parity_lines_fit() -> None:
    """U12: the HPA warning came out bare (no "warning", no stack) on every plan, parity,
    policy and scorecard run; parity's `= probes:` line was 220 characters long."""
    exitplan = str(Path(sys.executable).parent / "exitplan")
    shown = in_terminal(exitplan, "plan", "aws-wavelength")
    hpa = [line for line in shown.splitlines() if "Triton's HPA maxReplicas" in line]
    assert hpa and all(
        line.startswith("warning stacks/Pulumi.aws-wavelength.yaml: ") for line in hpa
    ), hpa
    parity = in_terminal(exitplan, "parity", "aws-primary", "gcp-standby")
    assert "probes" in parity, parity[:2000]
    # the rows (= and note lines) wrap between words; a footnote keeps its value whole; the
    # progress rows (redrawn in place, so they run together once the escapes are stripped)
    # are the terminal's business
    rows = [ln for ln in parity.splitlines() if not ln.startswith("[") and "━" not in ln]
    long = [line for line in rows if len(line) > COLUMNS]
    assert long == [], long


def test_commands_that_plan_every_stack_show_their_progress() -> None:
    """U14: parity (6.7 s), scorecard and policy check printed nothing until done."""
    exitplan = str(Path(sys.executable).parent / "exitplan")
    shown = in_terminal(exitplan, "policy", "check", "aws-primary", "gcp-standby")
    assert "aws-primary (1/2)" in shown and "gcp-standby (2/2)" in shown, shown[-2000:]
    assert shown.index("gcp-standby (2/2)") < shown.index("PASSED")
