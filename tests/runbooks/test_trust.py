"""Trust under a user's hands (issue 23): a drill starts only from the target's configured state
(else it refuses, naming `exitplan target reset`, which exists, is journaled and idempotent);
`--dry` validates what a real run validates; a journal of the wrong kind is bad input (exit 2);
a failover verdict says who served the gap. Against a fake target: no sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.stack_config import Project
from tests.runbooks.test_cli import run
from tests.runbooks.test_json_schemas import (  # noqa: F401  (fixtures)
    FakeTarget,
    fake_target,
    invoke,
    project,
)

ROUTE = ["--from", "aws-primary", "--to", "gcp-standby"]


def drill_args(proj: Project, *extra: str) -> list[str]:
    """`exitplan drill exit-plan` aws-primary -> gcp-standby on `proj`, then `extra`."""
    return ["drill", "exit-plan", *ROUTE, "--project", str(proj.root), *extra]


def test_a_drill_over_leftover_weights_refuses_and_target_reset_restores_them(
    project: Project,  # noqa: F811
    fake_target: FakeTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """B2: another run's 50/50 is not a baseline: exit 1 naming what differs and the reset;
    the reset puts the configured weights back, journaled; a second reset does nothing."""
    fake_target.current = {"aws-primary": 50, "gcp-standby": 50}
    for extra in ((), ("--dry",)):
        code, _out, err = run(drill_args(project, *extra), monkeypatch, capsys)
        assert code == 1, err
        assert "not in its configured state: weights {'aws-primary': 50" in err
        assert "configured {'aws-primary': 100, 'gcp-standby': 0}" in err
        assert "exitplan target reset --target sandbox" in err
    assert fake_target.current == {"aws-primary": 50, "gcp-standby": 50}, "nothing changed"
    reset = invoke("target", "reset", "--project", str(project.root))
    assert fake_target.current == {"aws-primary": 100, "gcp-standby": 0}
    assert reset["reset"] and reset["journal"]
    journal = json.loads(Path(reset["journal"]).read_text())
    assert journal["status"] == "completed"
    assert [a["activity"]["name"] for a in journal["run"]] == [
        "set weights {'aws-primary': 100, 'gcp-standby': 0}"
    ]
    again = invoke("target", "reset", "--project", str(project.root))
    assert again["reset"] == [] and again["journal"] is None
    assert invoke(*drill_args(project, "--dry"))["dry"] is True


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--to", "nosuch"], "nosuch"),
        (["--to", "aws-primary"], "--from and --to are the same stack"),
        (["--canary", "50,10"], "must rise to 100"),
        (["--rto", "-10"], "--rto -10: must be a positive"),
        (["--rto", "nan"], "--rto nan: must be a positive"),
        (["--slo-p99-ms", "-1"], "--slo-p99-ms -1: must be a positive"),
        (["--rate", "1e9"], "--rate 1e+09: at most"),
    ],
)
@pytest.mark.parametrize("dry", [True, False], ids=["dry", "real"])
def test_dry_validates_what_a_real_run_validates(
    project: Project,  # noqa: F811
    fake_target: FakeTarget,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
    dry: bool,
) -> None:
    """I1, I2: the same refusal, exit 2, with and without --dry, before anything changes."""
    args = drill_args(project, *(["--dry"] if dry else []), "--out", str(project.root / "o"))
    code, _out, err = run([*args, *extra], monkeypatch, capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert fake_target.current == {"aws-primary": 100, "gcp-standby": 0}
    assert not (project.root / "o" / "journal.json").exists()


def test_a_journal_of_the_wrong_kind_is_named_as_such(
    project: Project,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """B6: a chaos journal to `drill rollback|report`, a drill journal or a list to `chaos
    report`: exit 2 naming the kind and the right command, never an internal error."""
    chaos = tmp_path / "chaos.json"
    chaos.write_text(json.dumps({"experiment": {}, "run": [], "exitplan": {}}))
    drill = tmp_path / "drill.json"
    drill.write_text(json.dumps({"run": [], "exitplan": {"from": "a", "to": "b"}}))
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    cases = [
        (["drill", "rollback", str(chaos)], "is the journal of a chaos run, not of a drill"),
        (["drill", "report", str(chaos)], "exitplan chaos rollback"),
        (["chaos", "report", str(drill)], "is not the journal of a chaos run"),
        (["chaos", "report", str(listed)], "is not the journal of a chaos run"),
    ]
    for args, message in cases:
        code, _out, err = run([*args], monkeypatch, capsys)
        assert code == 2, (args, err)
        assert message in err and "internal error" not in err


def test_a_failover_verdict_says_who_served_the_gap() -> None:
    """B3: a warm standby that took the gap is named, and the named standby's gap is said to
    be not measured; a gap the standby served itself is reported per stack."""
    from runbooks.drills.failover import gap_note

    note = gap_note({"gcp-standby": 1.0, "azure-standby": 0.0}, "azure-standby")
    assert note == (
        " (gap served by gcp-standby 100%: azure-standby's own gap NOT measured, gcp-standby "
        "took the traffic first)"
    )
    assert (
        gap_note({"azure-standby": 1.0}, "azure-standby") == " (gap served by azure-standby 100%)"
    )
    assert gap_note(None, "azure-standby") == gap_note({}, "azure-standby") == ""


def test_bad_input_exits_2_before_anything_starts(
    project: Project,  # noqa: F811
    fake_target: FakeTarget,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """B4, B6, I7, I8 (a short row named as one), I10: each bad input is refused with exit 2
    and a message naming it, no traceback, no internal error; a BOM-prefixed inventory
    (Excel's "CSV UTF-8") reads."""
    example = (Path(__file__).parents[2] / "examples" / "inventory.csv").read_text()
    header = example.splitlines()[0]
    (tmp_path / "latin1.csv").write_bytes(example.replace("Ortiz", "Ortíz").encode("cp1252"))
    (tmp_path / "empty.csv").write_text(header + "\n")
    (tmp_path / "bom.csv").write_text(example, encoding="utf-8-sig")
    first = example.splitlines()[1].split(",")
    (tmp_path / "ragged.csv").write_text(f"{header}\n{','.join(first[:3])}\n")
    reference = tmp_path / "reference.json"
    reference.write_text("{}")
    where = ["--project", str(project.root)]
    cases = [
        (["inventory", "check", str(tmp_path / "latin1.csv")], "not UTF-8 text"),
        (["inventory", "check", str(tmp_path / "empty.csv")], "lists no services"),
        (["inventory", "check", str(tmp_path / "ragged.csv")], "has 3 of the header's"),
        (["alerts", "check", "--webhook", "not-a-url"], "is not an http(s) URL"),
        (["alerts", "check", "--max-error-rate", "-1"], "is not a share of requests"),
        (["load", "--url", "not-a-url", "--reference", str(reference)], "is not an http(s) URL"),
        (["load", "--url", "ftp://example.com", "--reference", str(reference)], "--url"),
        (
            drill_args(project, "--canary", "100", "--hold", "0.5", "--rate", "20"),
            "would hold under 5 requests",
        ),
        (["cost", "tco", *ROUTE, "--months", "24", "--data-gb", "nan"], "--data-gb must be 0 to"),
        (["cost", "tco", *ROUTE, "--months", "24", "--data-gb", "inf"], "--data-gb must be 0 to"),
        (["cost", "tco", *ROUTE, "--months", "100000000"], "--months 100000000: at most"),
        (
            ["cost", "tco", "--from", "aws-primary", "--to", "gcp-edge", "--months", "24"],
            "--to gcp-edge is an edge stack",
        ),
    ]
    for args, message in cases:
        code, _out, err = run([*args, *(where if args[0] != "drill" else [])], monkeypatch, capsys)
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and "internal error" not in err
    code, _out, err = run(
        ["inventory", "check", str(tmp_path / "bom.csv"), *where], monkeypatch, capsys
    )
    assert "unknown column" not in err and code in (0, 1), err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda e: e.update(method=[]), "method is empty"),
        (lambda e: e["configuration"].update(exitplan_stop_error_rate=5), "is not a share in"),
        (
            lambda e: e["method"][0]["provider"]["arguments"].update(
                weights={"aws-primary": 50, "gcp-standby": 50}
            ),
            "activity 'spread-traffic': weights {'aws-primary': 50, 'gcp-standby': 50} is not "
            "a list of mappings",
        ),
        (
            lambda e: e["method"][2]["provider"]["arguments"].update(timeout="ten"),
            "activity 'seconds-until-marked-down': timeout 'ten' is not a number",
        ),
        (
            lambda e: e["method"][0]["provider"]["arguments"].update(
                weights=[
                    {"stack": "aws-primary", "weight": -50},
                    {"stack": "gcp-standby", "weight": 150},
                ]
            ),
            "weight -50 of aws-primary is not 0 to 100",
        ),
        (
            lambda e: e["method"][0]["provider"]["arguments"].update(
                weights=[
                    {"stack": "aws-primary", "weight": 70},
                    {"stack": "gcp-standby", "weight": 70},
                ]
            ),
            "weights add up to 140, not 100",
        ),
        (lambda e: e["method"][1]["provider"].update(func="kil"), "did you mean kill?"),
    ],
    ids=[
        "empty-method",
        "stop-rate-5",
        "weights-mapping",
        "timeout-ten",
        "weights-range",
        "weights-140",
        "near-miss",
    ],
)
@pytest.mark.parametrize("dry", [True, False], ids=["dry", "real"])
def test_an_experiment_that_tests_nothing_or_cannot_stop_is_refused(
    project: Project,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: Any,
    message: str,
    dry: bool,
) -> None:
    """I3, I4, I5: exit 2 before anything runs, with or without --dry: argument shapes and
    types, weights in range and adding up to 100, the near miss of a misspelt function."""
    source = Path(__file__).parents[2] / "chaos" / "experiments" / "primary-outage.yaml"
    experiment = yaml.safe_load(source.read_text())
    edit(experiment)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment))
    args = ["chaos", "run", str(path), "--project", str(project.root), *(["--dry"] * dry)]
    code, _out, err = run(args, monkeypatch, capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err


def failover_journal(scale: dict[str, Any]) -> dict[str, Any]:
    """A failover drill's journal (demo model: a few KiB downloaded) for its report."""
    from runbooks.drills.failover import achievable

    measured = {"detection_s": 0.05, "recovered_s": 2.4, "ready_s": 2.3, "scale": scale}
    journal: dict[str, Any] = {
        "start": "2026-12-07T00:00:00Z",
        "exitplan": {
            "from": "aws-primary",
            "to": "azure-standby",
            "level": "pilot-light",
            "router": "frontdoor",
            "target": "sandbox",
            "rate": 20.0,
            "model": "fraud-scorer",
            "measured": measured,
            "estimate": {"total_s": 635, "phases": []},
            "phases": [
                {"name": "gap", "start_s": 1.5, "end_s": 3.9, "sent": 48, "failed": 40,
                 "errors": {"http-503": 40}, "p50_ms": 1.0, "p99_ms": 2.0,
                 "share": {"azure-standby": 1.0, "gcp-standby": 0.0}},
            ],
            "verdict": {"passed": True, "summary": "ok"},
        },
    }  # fmt: skip
    journal["exitplan"]["rto"] = achievable(journal, Project(Path(__file__).parents[2]))
    return journal


def test_a_failover_report_compares_no_phase_with_a_figure_scaled_to_nothing() -> None:
    """U5: a 3981-byte model's catalog download (0.00 s) flagged "+448725 %"; the basis read
    "0.00 MiB"; the Scaling table was the raw dict. Now: no flag below what a measurement
    resolves, the size in KiB, labelled rows with units; the Load table names who served."""
    from runbooks.reports.failover import tables

    scale = {"download": 0.28, "start": 1.2, "load": 0.6, "download_bytes": 3981.0,
             "started": 1.0, "began_s": 0.019, "ended_s": 2.1}  # fmt: skip
    journal = failover_journal(scale)
    rto = journal["exitplan"]["rto"]
    # the start is a real comparison (a pod start, 20 s in the catalog); download and load of
    # 3981 bytes are not
    assert rto["flags"] == ["Triton start: measured 1.20 s is -94% off the catalog's 20.00 s"]
    download = next(r for r in rto["rows"] if r["phase"] == "model download")
    assert download["basis"] == "3.89 KiB at 60 MiB/s"
    by_title = {title: rows for title, _header, rows in tables(journal)}
    assert ["model downloaded", "3.89 KiB"] in by_title["Scaling"]
    assert ["Tritons started", "1"] in by_title["Scaling"]
    assert ["began (after the kill)", "0.0 s"] in by_title["Scaling"]
    assert by_title["Load"][0][-1] == "azure-standby 100.0%"
    # a real model's download far off its catalog figure is still flagged
    big = failover_journal({**scale, "download": 60.0, "download_bytes": 600 * 1024**2})
    flag = "model download: measured 60.00 s is +500% off the catalog's 10.00 s"
    assert flag in big["exitplan"]["rto"]["flags"]


def test_the_load_worker_outlives_ctrl_c_and_a_hang_up_until_its_run_stops_it(
    tmp_path: Path,
) -> None:
    """B5: Ctrl-C reaches the whole process group; the load worker printed a traceback over the
    progress bar and died, and a chaos run then counted its unsent requests as lost (failed).
    It ignores SIGINT and SIGHUP now: it goes on until its run stops it (SIGUSR1), then writes
    how many it scheduled, with no traceback."""
    import signal
    import subprocess
    import sys
    import time

    spec = tmp_path / "load-request.json"
    spec.write_text(json.dumps({"url": "http://127.0.0.1:9/v2/models/m/infer", "body": "{}",
                                "headers": {}, "rate": 20, "duration_s": 60}))  # fmt: skip
    records = tmp_path / "load-records.jsonl"
    worker = subprocess.Popen(
        [sys.executable, "-m", "runbooks.load.worker", str(spec), str(records)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not records.with_suffix(".start").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        for sig in (signal.SIGINT, signal.SIGHUP):
            worker.send_signal(sig)
        time.sleep(1.0)
        assert worker.poll() is None, "the worker died of the interrupt meant for its run"
        worker.send_signal(signal.SIGUSR1)
        _out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0 and "Traceback" not in err, err
    assert json.loads(records.with_suffix(".done").read_text())["scheduled"] > 20


def test_ctrl_c_interrupts_a_cli_started_with_sigint_ignored() -> None:
    """B9: a drill started as a background job of a script (SIGINT ignored at start, where
    Python installs no handler of its own) ran to the end through `kill -INT`: the CLI handles
    SIGINT itself now, exits 130 and says it was interrupted."""
    import signal
    import subprocess
    import sys

    code = (
        "import time; from runbooks import cli; "
        "cli.app = lambda: (print('ready', flush=True), time.sleep(30)); cli.main()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert "interrupted (Ctrl-C)" in err


def test_load_names_an_endpoint_that_speaks_no_kserve_v2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """I7: a plain web server (POST -> 501) and one that answers HTML to everything ran a
    whole load of failures, exit 1, as a failing service would. Now exit 2 naming --url and
    what the first request got back, before the load."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.runbooks.test_load import write_reference

    class Html(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>hello</html>")

        def log_message(self, *_args: object) -> None:
            pass

    class Plain(BaseHTTPRequestHandler):  # no do_POST: http.server answers 501
        def log_message(self, *_args: object) -> None:
            pass

    reference = write_reference(tmp_path / "reference.json")
    for handler, said in ((Plain, "-> 501)"), (Html, "-> 200 with no KServe v2 outputs")):
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}"
            args = ["load", "--url", url, "--reference", str(reference), "--duration", "1"]
            code, _out, err = run(args, monkeypatch, capsys)
        finally:
            server.shutdown()
        assert code == 2, err
        assert "--url: not a KServe v2 endpoint (POST" in err and said in err, err


def test_a_load_with_no_answer_shows_no_latency() -> None:
    """I7: a load whose requests all failed printed p50 0.00 ms, as if answered at once."""
    from runbooks import render

    summary = {"rate": 10, "achieved_rate": 10.0, "sent": 20, "ok": 0, "failed": 20,
               "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "share": {},
               "errors": {}}  # fmt: skip
    with render.out.capture() as captured:
        render.load_summary(summary)
    assert "0.00" not in captured.get() and " - " in captured.get()


def test_fix_hints_name_a_command_that_can_work(
    project: Project,  # noqa: F811
    fake_target: FakeTarget,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """I12: oci-standby (no emulator for its store) was to be started with `sandbox up
    --stacks oci-standby`, which skips it; a failover to it listed the stacks as a Python list
    (the primary included); `--model gpt4` was to be served with `sandbox up --model gpt4`."""
    from runbooks.drills.failover import FailoverOptions, served_model
    from runbooks.errors import RunbookError
    from tests.runbooks.test_load import write_reference

    where = ["--project", str(project.root)]
    route = ["--from", "aws-primary", "--to", "oci-standby"]
    for args in (["drill", "exit-plan", *route], ["drill", "failover", *route, "--dry"]):
        code, _out, err = run([*args, *where], monkeypatch, capsys)
        assert code == 2, err
        assert "drill it on its deployed stacks (--target live)" in err, err
        assert "--stacks oci-standby" not in err and "['" not in err, err

    class Serving:
        kind = "sandbox"

        def reference_answers(self) -> Path:
            return write_reference(tmp_path / "reference.json", model="fraud-scorer")

    options = FailoverOptions("aws-primary", "azure-standby", model="gpt4")
    with pytest.raises(RunbookError) as caught:
        served_model(Serving(), options)  # type: ignore[arg-type]
    assert "--model gpt4" not in caught.value.fix and "minilm" in caught.value.fix


def test_a_chaos_run_on_a_target_another_run_holds_is_refused_like_a_drill(
    project: Project,  # noqa: F811
    fake_target: FakeTarget,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """U8: while a drill held the lock, `chaos run` exited 1 (drills: 2), printed its fix
    twice and wrote a journal and a report of a run that never started."""
    from runbooks.drills.lock import TargetLock

    experiment = Path(__file__).parents[2] / "chaos" / "experiments" / "primary-outage.yaml"
    held = TargetLock("sandbox", project.root, "drill exit-plan --from aws-primary")
    held.acquire()
    try:
        args = ["chaos", "run", str(experiment), "--out", str(tmp_path / "run")]
        code, _out, err = run([*args, "--project", str(project.root)], monkeypatch, capsys)
    finally:
        held.release()
    assert code == 2, err
    assert "target is in use by pid" in err and err.count("fix:") == 1, err
    assert not (tmp_path / "run").exists()


def test_the_chaos_control_names_a_held_lock_and_its_fix_once(
    project: Project,  # noqa: F811
) -> None:
    """U8: under upstream `chaos run` too, the refusal said its fix twice."""
    from chaoslib.exceptions import InterruptExecution

    from chaos import control
    from runbooks.drills.lock import TargetLock

    held = TargetLock("sandbox", project.root, "drill exit-plan --from aws-primary")
    held.acquire()
    try:
        with pytest.raises(InterruptExecution) as caught:
            control._take_lock({"title": "t"}, {"exitplan_project": str(project.root)})
    finally:
        held.release()
    assert str(caught.value).count("fix:") == 1, caught.value
    assert str(caught.value).startswith("refusing to run: the sandbox target is in use by")


def test_chaostoolkits_always_rollbacks_warning_is_dropped_and_nothing_else() -> None:
    """U8: every chaos run printed `Rollbacks were explicitly requested to be played` (exitplan
    always plays them) on stderr."""
    import logging

    from runbooks.chaos_run.runner import _NotExplicitRollbacks

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("chaostoolkit", logging.WARNING, "", 0, message, None, None)

    quiet = _NotExplicitRollbacks()
    assert not quiet.filter(record("Rollbacks were explicitly requested to be played"))
    assert quiet.filter(record("Rollbacks were explicitly requested to not be played"))
    assert quiet.filter(record("Probe terminated unexpectedly"))


def test_rollback_and_report_messages_do_not_contradict_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """U9: `chaos rollback` said "nothing to undo" and then "sandbox target restored"; `drill
    report` on a journal still "running" reported it like a finished drill, without a word."""
    from runbooks.chaos_run import rollback as chaos_rollback
    from tests.runbooks.test_report import journal as drill_journal

    done = {"steps": [], "restored": True, "target": "sandbox", "journal": "j.json",
            "remaining": []}  # fmt: skip
    monkeypatch.setattr(chaos_rollback, "rollback", lambda *_a: done)
    code, out, _err = run(["chaos", "rollback", str(tmp_path / "j.json")], monkeypatch, capsys)
    assert code == 0 and out.strip().splitlines() == [
        "nothing to undo: the target is as the run found it (journal j.json)"
    ], out
    path = tmp_path / "run" / "journal.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**drill_journal(), "status": "running"}))
    code, _out, err = run(["drill", "report", str(path)], monkeypatch, capsys)
    assert code == 0 and "never finished" in err and f"exitplan drill rollback {path}" in err


def test_formats_and_labels_of_the_ux_review_read_one_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """U10: one format for seconds (`635 s`, `10m 35.0s` and `90.0 s` before), "a answers
    file", "1 dual-run" (of what?), the policy table's unnamed column, a red "failed" label
    beside a count of 0, EXITPLAN_TODAY refused with no fix line."""
    from runbooks.rehearsal.tabletop import read_yaml
    from runbooks.reports.kit import format_secs, html_page

    assert (format_secs(90), format_secs(635), format_secs(900)) == (
        "90.0 s", "635 s (10m 35s)", "900 s (15m 00s)",
    )  # fmt: skip
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(Exception, match="an answers file is a YAML mapping"):
        read_yaml(tmp_path / "list.yaml", "answers file")
    page = html_page(True, [], "h", "m", [], [("Load", ["measure", "value"], [["failed", "0"]])])
    assert '<td class="bad">failed' not in page and "<td>failed" in page
    code, out, _err = run(["cost", "tco", *ROUTE, "--months", "24"], monkeypatch, capsys)
    assert code == 0 and "1 dual-run month" in out and "1 dual-run months" not in out, out
    # oci-standby has an advisory violation (gpu-driver-sourced): its table has a header
    monkeypatch.setenv("COLUMNS", "120")
    code, out, _err = run(["policy", "check", "oci-standby"], monkeypatch, capsys)
    assert code == 0 and "gpu-driver-sourced" in out, out
    assert re.search(r"rule +sev +enf +resource +note", out), out
    monkeypatch.setenv("EXITPLAN_TODAY", "garbage")
    code, _out, err = run(["alerts", "check"], monkeypatch, capsys)
    assert code == 2 and "fix: set it like EXITPLAN_TODAY=2026-11-30" in err, err


def test_an_unknown_rto_target_reads_inside_its_sentence_and_the_cost_table_says_what(
    tmp_path: Path,
) -> None:
    """U10: the tabletop read "without breaking the RTO of not recorded (rto unknown)"; the
    drill report's "Cost per hour" did not say it prices the GPU node pool only."""
    from runbooks.rehearsal.tabletop_facts import ProjectFacts, Where
    from runbooks.reports.drill import render_markdown
    from tests.runbooks.test_report import journal as drill_journal

    facts = ProjectFacts(Where(Project(Path(__file__).parents[2]), "fraud-scoring"))
    assert facts.values(["rto_target"])["rto_target"] == "an unknown target (run with --inventory)"
    assert "Cost per hour of the GPU node pool" in render_markdown(drill_journal())


def test_plot_labels_neither_overlap_nor_leave_the_chart() -> None:
    """U11: "to canary 1%" was drawn over "canary 1%", "load end" was cut at the right edge,
    and a chaos run's five short method activities stacked into one unreadable block."""
    from runbooks.reports.kit import svg_line_chart

    char_px = 6.0  # a 10 px label's glyphs are narrower than this on average

    marks = [(1.0, "to canary 1%"), (1.05, "canary 1%"), (19.95, "load end")]
    marks += [(4.0 + 0.3 * i, f"method step {i}") for i in range(5)]
    bands = [(0.0, 1.0, "baseline"), (1.0, 1.1, "to canary 1%"), (1.1, 20.0, "canary 1%")]
    svg = svg_line_chart({"p99": [(0.0, 1.0), (20.0, 2.0)]}, title="t", y_label="ms",
                         marks=marks, bands=bands, width=900)  # fmt: skip
    found = re.findall(
        r'<text class="(mark|band)-label" x="([\d.]+)" y="([\d.]+)"(?: text-anchor="(\w+)")?[^>]*>'
        r"([^<]+)</text>",
        svg,
    )
    assert len(found) == len(marks) + len(bands)
    spans = []
    for kind, x, y, anchor, text in found:
        width = char_px * len(text)
        start = float(x) - width if anchor == "end" else float(x)  # SVG's default: start
        assert start >= 0 and start + width <= 900 - 16, (text, x, anchor)
        spans.append((kind, float(y), start, start + width, text))
    for i, (kind, y, start, end, text) in enumerate(spans):
        for other in spans[i + 1 :]:
            same_row = other[0] == kind and other[1] == y
            assert not (same_row and start < other[3] and other[2] < end), (text, other[4])


def test_kubernetes_support_alerts_name_their_stack_and_skip_a_rack_of_its_own_release(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """U13: `SupportEnding: kubernetes aws 1.35 ...` came twice (aws-primary and its edge),
    naming no stack; the Distributed Cloud connected rack (gcp-edge) was judged by GKE's
    calendar, which its own release does not follow."""
    monkeypatch.setenv("EXITPLAN_TODAY", "2027-09-01")
    where = ["--project", str(Path(__file__).parents[2])]
    code, out, err = run(["alerts", "check", *where], monkeypatch, capsys)
    assert code == 1, err
    kubernetes = [line.strip() for line in out.splitlines() if ": kubernetes " in line]
    assert len(kubernetes) == len(set(kubernetes)) >= 2, kubernetes
    for stack in ("aws-primary", "aws-wavelength"):
        assert any(
            line.startswith(f"SupportEnding: {stack}: kubernetes aws") for line in kubernetes
        )
    assert not any("gcp-edge" in line for line in kubernetes), kubernetes
    assert any("gcp-standby: kubernetes gcp" in line for line in kubernetes), kubernetes


def test_a_journal_left_running_is_found_unless_its_run_still_holds_the_target(
    tmp_path: Path,
) -> None:
    """U6: after an interruption `sandbox status` gave no hint that a journal still said
    "running"; it now lists each, with the rollback that finishes it."""
    from runbooks.drills.clean_start import unfinished
    from runbooks.drills.lock import TargetLock

    def journal(folder: str, name: str, status: str, target: str = "sandbox") -> Path:
        path = tmp_path / ".exitplan" / folder / name / "journal.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"status": status, "exitplan": {"target": target}}))
        return path

    left = journal("drills", "a", "running")
    journal("drills", "b", "completed")
    journal("drills", "c", "running", target="live")
    killed_chaos = journal("chaos", "d", "running")
    assert unfinished(tmp_path, "sandbox") == [
        (left, "exitplan drill rollback"),
        (killed_chaos, "exitplan chaos rollback"),
    ]
    held = TargetLock("sandbox", tmp_path, "drill exit-plan")
    held.acquire()
    try:
        assert unfinished(tmp_path, "sandbox") == [], "a live run's journal says running"
    finally:
        held.release()


def test_a_gate_over_an_empty_window_is_not_measured_never_a_100_percent_error_rate(
    tmp_path: Path,
) -> None:
    """B4: a gate whose window held no request failed with "error rate 100.00% > 0.00% ()"
    and "0.0% of the answers from gcp-standby", with a fix to loosen the SLO."""
    from runbooks.drills.exit_options import ExitPlanOptions
    from runbooks.drills.exit_plan import _Drill
    from runbooks.errors import DrillCheckFailed
    from runbooks.load import generator as loadgen
    from runbooks.reports.journal import Journal

    drill = object.__new__(_Drill)
    drill.options = ExitPlanOptions("aws-primary", "gcp-standby")
    drill.baseline_p99, drill.by_header = 1.0, True
    drill.journal = Journal.new(tmp_path / "journal.json", "t", {"gates": []})
    empty = loadgen.summarize([], rate=20, duration_s=0.5)
    with pytest.raises(DrillCheckFailed) as caught:
        drill.gate("cutover", {"aws-primary": 0, "gcp-standby": 100}, empty, {})
    assert "not measured: no request in the gate's window" in str(caught.value)
    assert "100.00%" not in str(caught.value) and "of the answers" not in str(caught.value)
    assert caught.value.fix.startswith("raise --hold or --rate")
