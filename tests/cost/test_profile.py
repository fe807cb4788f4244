"""The utilisation profile: node counts per hour, node-hours a month, the peak, and the file
format's errors (each names the file, the field and the fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.cost.profile import HOURS_PER_MONTH, Profile, load_profile
from components.errors import InputError

OFFICE = [0.0] * 8 + [1.0] * 10 + [0.0] * 6  # 10 busy hours a day


def test_default_is_the_minimum_around_the_clock() -> None:
    assert Profile().node_hours(1, 4) == 1 * HOURS_PER_MONTH
    assert Profile().peak(0, 4) == 0


def test_fractions_span_min_to_max() -> None:
    profile = Profile("fraction", tuple(OFFICE))
    # 14 hours at 1 node, 10 hours at 4 nodes: 54 node-hours a day, 730/24 days a month
    assert profile.node_hours(1, 4) == pytest.approx(54 * HOURS_PER_MONTH / 24)
    assert profile.peak(1, 4) == 4
    half = Profile("fraction", (0.5,) * 24)
    assert half.node_hours(0, 3) == pytest.approx(1.5 * HOURS_PER_MONTH)
    assert half.peak(0, 3) == 2  # 1.5 nodes at once need 2 committed


def test_node_counts_are_held_inside_the_pool_and_reported() -> None:
    profile = Profile("nodes", tuple([6.0] * 12 + [0.0] * 12))
    assert profile.counts(1, 4) == [4.0] * 12 + [1.0] * 12
    assert profile.clamped(1, 4) == list(range(24))
    assert Profile("nodes", (2.0,) * 24).clamped(1, 4) == []


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def test_a_file_is_read(tmp_path: Path) -> None:
    profile = load_profile(write(tmp_path, f"unit: nodes\nhours: {[2] * 24}\n"))
    assert profile.unit == "nodes" and profile.node_hours(1, 4) == 2 * HOURS_PER_MONTH
    assert profile.origin == str(tmp_path / "profile.yaml")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("hours: [1, 2]\n", "hours"),
        (f"unit: percent\nhours: {[0] * 24}\n", "unit"),
        (f"hours: {[0] * 23 + [1.5]}\n", "hours[23]"),
        (f"unit: nodes\nhours: {[0] * 5 + [-1] + [0] * 18}\n", "hours[5]"),
        (f"hours: {[0] * 3 + ['x'] + [0] * 20}\n", "hours[3]"),
    ],
)
def test_a_bad_file_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    with pytest.raises(InputError) as error:
        load_profile(write(tmp_path, text))
    assert error.value.field == field and error.value.exit_code == 2
    assert "24 values" in error.value.fix
