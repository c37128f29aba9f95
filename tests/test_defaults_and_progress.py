"""Honest defaults (the scale set follows reduced votes) and progress lines in logs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from modelcentrality import _progress, load_zoo, rank
from modelcentrality._progress import ProgressBar
from modelcentrality.cli import main
from modelcentrality.cli.common import format_table
from modelcentrality.engine import get_protocol

#: A cheap stand-in for the paper protocol: 120 votes, S = 5,000.
SMALL = get_protocol("paper").with_overrides(votes=120, scale_samples=5000)


@pytest.fixture(scope="module")
def three(synthetic_zoo_master):
    zoo = load_zoo(synthetic_zoo_master)
    return [zoo[0], zoo[1], zoo[-1]]  # two near-disentangled models, one entangled


def test_votes_below_the_protocols_scale_the_scale_set(three):
    fewer = rank(three, SMALL, votes=40, bootstrap=0, progress=False)
    # 20 observations per vote, at least 2,000.
    assert fewer.protocol.scale_samples == 2000
    fixed = rank(three, SMALL, votes=40, scale_samples=2000, bootstrap=0, progress=False)
    np.testing.assert_array_equal(fewer.cross, fixed.cross)
    explicit = rank(three, SMALL, votes=40, scale_samples=5000, bootstrap=0, progress=False)
    assert explicit.protocol.scale_samples == 5000
    pairs = 3 * 3
    assert fewer.encoder_passes == pairs * (40 * SMALL.group_size + 2000)
    assert explicit.encoder_passes == pairs * (40 * SMALL.group_size + 5000)


def test_the_protocols_own_votes_keep_its_scale_set(three):
    default = rank(three, SMALL, bootstrap=0, progress=False)
    same = rank(three, SMALL, votes=120, bootstrap=0, progress=False)
    assert default.protocol.scale_samples == same.protocol.scale_samples == 5000
    np.testing.assert_array_equal(default.cross, same.cross)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_writes_plain_lines_in_a_log(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    stream = io.StringIO()
    with ProgressBar(100, "rank", enabled=True, stream=stream) as bar:
        for _ in range(100):
            clock.now += 1.0
            bar.update(1)
    lines = stream.getvalue().splitlines()
    # One line every 15 s of a 100 s run, plus the last one; no carriage returns.
    assert len(lines) == 100 // 15 + 1
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("rank: 15/100 (15%)")
    assert "ETA 01:25" in lines[0]
    assert lines[-1].startswith("rank: 100/100 (100%)")


def test_progress_does_not_repeat_its_last_line(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    stream = io.StringIO()
    with ProgressBar(2, "rank", enabled=True, stream=stream) as bar:
        clock.now += 20.0
        bar.update(2)
    assert stream.getvalue().count("rank: 2/2") == 1


def test_short_or_unrequested_progress_stays_silent(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    short, unasked = io.StringIO(), io.StringIO()
    with ProgressBar(10, "rank", enabled=True, stream=short) as bar:
        clock.now += 5.0
        bar.update(10)
    with ProgressBar(10, "rank", enabled=None, stream=unasked) as bar:
        clock.now += 60.0
        bar.update(10)
    assert short.getvalue() == "" and unasked.getvalue() == ""


def test_precision_cli_prints_why_it_stopped(synthetic_zoo, capsys):
    status = main(
        [
            "rank",
            str(synthetic_zoo),
            "--precision",
            "0.0001",
            "--votes",
            "200",
            "--no-refine-top",
            "--bootstrap",
            "50",
            "--quiet",
        ]
    )
    err = capsys.readouterr().err
    assert status == 0, err
    assert "search stopped: " in err
    # 200 votes cannot reach a standard error of 0.0001.
    assert "warning: the search's target was not reached" in err


def test_tables_left_align_names_and_right_align_numbers():
    table = format_table(["rank", "name", "score"], [(1, "a", 0.5), (10, "longer", 0.25)])
    lines = table.splitlines()
    assert lines[0] == "rank  name    score"
    assert lines[2] == "   1  a       0.5000"
    assert lines[3] == "  10  longer  0.2500"
