"""The rotation watch reads the router's view of each stack; a read that fails is counted and
widens the time within which a change is known, rather than vanishing."""

from __future__ import annotations

import threading
import time

import pytest

from runbooks.chaos_run.rotation_watch import RotationLog, RotationWatch, first_change
from runbooks.reports.chaos import _marked_down

FAILING_CALLS = range(3, 8)  # the 3rd to 7th reads fail, a busy admin socket
DOWN_FROM_CALL = 5  # the stack leaves rotation during them
CALLS = 12


class FlakyRouter:
    """One stack whose reads 3 to 7 fail, marked down from read 5."""

    def __init__(self) -> None:
        self.calls = 0
        self.done = threading.Event()

    def stacks(self) -> list[str]:
        return ["primary"]

    def in_rotation(self, stack: str) -> bool:
        self.calls += 1
        if self.calls >= CALLS:
            self.done.set()
        if self.calls in FAILING_CALLS:
            raise OSError("admin socket busy")
        return self.calls < DOWN_FROM_CALL


def test_failed_reads_are_counted_and_widen_the_known_time_of_a_change() -> None:
    router = FlakyRouter()
    watch = RotationWatch(router, interval_s=0.005)  # type: ignore[arg-type]
    began = time.time()
    watch.start()
    assert router.done.wait(10)
    log = watch.stop()
    assert log.failed == {"primary": len(FAILING_CALLS)}
    down = first_change(log.changes, "primary", False, began)
    assert down is not None
    reads = log.reads["primary"]
    assert reads[2] == down  # reads 1 and 2 succeeded; the 3rd success (call 8) saw the change
    # no successful read between the 2nd read and the change: the change is known only to
    # within that span, five polls wide
    assert log.widest_gap("primary", began, down) == pytest.approx(down - reads[1])
    assert log.widest_gap("primary", began, down) > 5 * 0.005


def test_widest_gap_spans_the_reads_and_the_edges() -> None:
    log = RotationLog(reads={"s": [1.0, 1.1, 1.5]})
    assert log.widest_gap("s", 1.05, 1.6) == pytest.approx(0.4)  # 1.1 -> 1.5
    assert log.widest_gap("other", 1.0, 2.0) == pytest.approx(1.0)  # never read


def test_the_report_says_how_finely_the_mark_down_was_read() -> None:
    fault = {"marked_down_s": 0.41, "marked_down_within_s": 0.03, "rotation_reads_failed": 0}
    assert _marked_down(fault) == "0.41 s (to within 0.03 s)"
    assert _marked_down({**fault, "rotation_reads_failed": 2}).endswith("; 2 reads failed)")
    assert _marked_down({"marked_down_s": 0.5}) == "0.50 s"  # from a probe: no watch figures
