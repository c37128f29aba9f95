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
    fewer = rank(three, SMALL, votes=40, n_boot=0, progress=False)
    # 20 observations per vote, at least 2,000.
    assert fewer.protocol.scale_samples == 2000
    fixed = rank(three, SMALL, votes=40, scale_samples=2000, n_boot=0, progress=False)
    np.testing.assert_array_equal(fewer.cross, fixed.cross)
    explicit = rank(three, SMALL, votes=40, scale_samples=5000, n_boot=0, progress=False)
    assert explicit.protocol.scale_samples == 5000
    pairs = 3 * 3
    assert fewer.encoder_passes == pairs * (40 * SMALL.group_size + 2000)
    assert explicit.encoder_passes == pairs * (40 * SMALL.group_size + 5000)


def test_the_protocols_own_votes_keep_its_scale_set(three):
    default = rank(three, SMALL, n_boot=0, progress=False)
    same = rank(three, SMALL, votes=120, n_boot=0, progress=False)
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
    # The estimate after the 5 s probe, one line every 15 s of a 100 s run, the last
    # one and the actual time; no carriage returns.
    assert len(lines) == 1 + 100 // 15 + 1 + 1
    assert "\r" not in stream.getvalue()
    assert lines[0] == (
        "rank: estimated 01:40 (100.0 s) in all for 100 (probe: the first 5 took 5.0 s)"
    )
    assert lines[1].startswith("rank: 15/100 (15%), 1.00/s, 00:15 elapsed, ETA 01:25")
    assert lines[-2].startswith("rank: 100/100 (100%)")
    assert lines[-1] == "rank: took 01:40 (100.0 s) for 100 (estimated 100.0 s)"


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
            "--n-boot",
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


def test_the_estimate_extrapolates_the_probe_and_names_its_units(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    stream = io.StringIO()
    with ProgressBar(10_000, "round 2", enabled=True, stream=stream, unit="passes") as bar:
        bar.note("computing 4 pairs at 200 votes")
        for _ in range(4):
            clock.now += 2.0  # 400 passes per 2 s: 50 s in all
            bar.update(400)
        assert bar.estimate == pytest.approx(50.0)
        bar.update(10_000 - bar.done)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "round 2: computing 4 pairs at 200 votes"
    assert lines[1] == (
        "round 2: estimated 00:50 (50.0 s) in all for 10,000 passes "
        "(probe: the first 1,200 passes took 6.0 s)"
    )
    assert sum("estimated" in line for line in lines) == 2  # the estimate, and the actual
    # A bar that is not enabled prints nothing and estimates nothing.
    quiet = io.StringIO()
    with ProgressBar(10, "x", enabled=False, stream=quiet) as bar:
        clock.now += 60.0
        bar.update(1)
        bar.note("planned")
        bar.estimate_now()
    assert quiet.getvalue() == "" and bar.estimate is None


def test_a_round_at_several_vote_counts_is_one_labelled_bar(three, capsys):
    from modelcentrality.selection import PairEvaluator

    evaluator = PairEvaluator(three, SMALL, progress=True)
    requests = {(0, 1): 40, (1, 0): 40, (0, 2): 120, (2, 2): 120}
    with evaluator:
        evaluator.evaluate(requests, "round 3 (of at most 11)")
    err = capsys.readouterr().err
    # One plan line for the whole round, naming both vote counts and the total passes.
    plans = [line for line in err.splitlines() if "computing" in line]
    scale_40 = max(2000, 20 * 40) if evaluator.scale_samples_per_vote else SMALL.scale_samples
    passes = 2 * (40 * SMALL.group_size + scale_40) + 2 * (120 * SMALL.group_size + 5000)
    assert plans == [
        f"round 3 (of at most 11): computing 2 pairs at 40 votes (S = {scale_40:,}); "
        f"2 pairs at 120 votes (S = 5,000): {passes:,} encoder passes"
    ]
    assert evaluator.encoder_passes == passes
    # The estimate comes when the first source task (source 0 at 40 votes) has ended.
    first = 40 * SMALL.group_size + scale_40
    estimates = [line for line in err.splitlines() if "estimated" in line and "probe" in line]
    assert len(estimates) == 1
    assert f"in all for {passes:,} encoder passes (probe: the first {first:,} " in estimates[0]


def test_a_cached_rerun_reports_its_work_as_cached(three, tmp_path):
    first = rank(three, SMALL, votes=40, n_boot=0, progress=False, cache_dir=tmp_path)
    again = rank(three, SMALL, votes=40, n_boot=0, progress=False, cache_dir=tmp_path)
    assert first.encoder_passes == 9 * (40 * SMALL.group_size + 2000)
    assert (first.pairs_computed, first.pairs_cached, first.encoder_passes_cached) == (9, 0, 0)
    assert (again.encoder_passes, again.pairs_computed, again.pairs_cached) == (0, 0, 9)
    assert again.encoder_passes_cached == first.encoder_passes
    payload = again.to_dict()
    assert payload["encoder_passes_computed"] == 0
    assert payload["encoder_passes_cached"] == first.encoder_passes
    assert (payload["pairs_computed"], payload["pairs_cached"]) == (0, 9)
    assert payload["budget"] == {
        "votes_per_pair": [40, 40],
        "scale_samples": [2000, 2000],
        "group_size": SMALL.group_size,
        "protocol_votes": [120],
    }


@pytest.fixture
def zoo_recorder(monkeypatch):
    """train-zoo's job replaced by a recorder (the guard runs before it)."""
    from modelcentrality.reference_models import zoo_job

    calls = []

    def fake(spec, zoo_dir, **kwargs):
        calls.append(spec)
        return {"models": []}

    monkeypatch.setattr(zoo_job, "train_zoo", fake)
    return calls


def test_train_zoo_refuses_a_multi_hour_cpu_run_without_a_terminal(tmp_path, zoo_recorder):
    from click.testing import CliRunner

    from modelcentrality.cli.train import train_zoo_command

    runner = CliRunner()
    out = str(tmp_path / "zoo")
    refused = runner.invoke(train_zoo_command, ["factorvae-paper", "-o", out])
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1
    assert "40 of 40 models to train" in lines[0] and "days on a CPU" in lines[0]
    assert "pass --yes" in lines[0]
    assert zoo_recorder == [] and not (tmp_path / "zoo").exists()
    assert runner.invoke(train_zoo_command, ["factorvae-paper", "-o", out, "--yes"]).exit_code == 0
    # A short CPU zoo starts without a question, after one line of its plan.
    spec = tmp_path / "tiny.json"
    spec.write_text('{"method": "beta-vae", "preset": "cpu", "seeds": 1}')
    short = runner.invoke(train_zoo_command, [str(spec), "-o", out])
    assert short.exit_code == 0, short.output
    assert "1 of 1 models to train" in short.output
    # On a GPU the CPU estimate does not apply.
    gpu = runner.invoke(train_zoo_command, ["factorvae-paper", "-o", out, "--device", "cuda"])
    assert gpu.exit_code == 0
    assert zoo_recorder == ["factorvae-paper", str(spec), "factorvae-paper"]


def test_train_zoo_asks_on_a_terminal(tmp_path, zoo_recorder, monkeypatch):
    from click.testing import CliRunner

    from modelcentrality.cli import train as train_cli

    monkeypatch.setattr(train_cli, "stdin_is_interactive", lambda: True)
    runner = CliRunner()
    args = ["infogan-cr-paper", "-o", str(tmp_path / "zoo")]
    declined = runner.invoke(train_cli.train_zoo_command, args, input="n\n")
    assert declined.exit_code == 1 and "Start it?" in declined.output
    assert zoo_recorder == []
    accepted = runner.invoke(train_cli.train_zoo_command, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert zoo_recorder == ["infogan-cr-paper"]


# Samples this small leave some factors with more classes than half the points.
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")
def test_evaluate_plans_the_observations_each_metric_encodes():
    from modelcentrality.datasets import get_dataset
    from modelcentrality.metrics import METRIC_INFO, evaluate, metric_settings
    from modelcentrality.metrics._zoo import planned_observations

    dataset = get_dataset("dsprites")
    rng = np.random.default_rng(0)
    projection = rng.normal(size=(64 * 64, 3))
    for name in METRIC_INFO:
        overrides = {"dci": {"predictor": "random_forest"}} if name == "dci" else {}
        settings = metric_settings([name], 0.005, overrides)
        seen = []

        def encode(observations, seen=seen):
            seen.append(len(observations))
            return observations.reshape(len(observations), -1) @ projection

        evaluate(encode, dataset, [name], 0, settings=settings)
        assert sum(seen) == planned_observations(settings)[name], name


def test_evaluate_reports_progress_inside_a_model_and_estimates_after_the_first(
    synthetic_zoo_master, capsys, monkeypatch
):
    from modelcentrality.datasets import get_dataset
    from modelcentrality.metrics import evaluate_zoo, metric_settings

    clock = FakeClock()
    monkeypatch.setattr(_progress.time, "monotonic", clock)
    dataset = get_dataset("dsprites")
    projection = np.random.default_rng(0).normal(size=(64 * 64, 3))

    class Fake:
        """A dSprites 'model' whose every encoder call takes 20 s on the fake clock."""

        def __init__(self, name):
            self.name = name
            self.observation_shape = dataset.observation_shape

        def encode(self, observations):
            clock.now += 20.0
            return observations.reshape(len(observations), -1) @ projection

    settings = metric_settings(["mig", "sap"], 0.05)
    evaluate_zoo([Fake("a"), Fake("b"), Fake("c")], dataset, ["mig", "sap"], 0,
                 settings=settings, progress=True)
    lines = capsys.readouterr().err.splitlines()
    per_model = 500 + (500 + 250)
    assert lines[0] == (
        f"evaluate: 3 models x {per_model:,} observations (mig 500, sap 750) plus the "
        "metrics' classifier fits"
    )
    # Lines inside the first model name it and the metric, with count, rate and ETA.
    inside = [line for line in lines if "1/3 a: " in line]
    assert inside and all("observations/s" in line and "ETA" in line for line in inside)
    assert any(line.endswith("1/3 a: mig") for line in inside)
    assert any(line.endswith("1/3 a: sap") for line in inside)
    estimates = [line for line in lines if "estimated" in line and "probe" in line]
    assert len(estimates) == 1
    assert f"for {3 * per_model:,} observations (probe: the first {per_model:,}" in estimates[0]


def test_udr_plans_and_counts_observations(synthetic_zoo_master, capsys, monkeypatch):
    from modelcentrality.baselines import udr_for_models

    ticks = iter(range(0, 10_000, 3))  # every look at the clock is 3 s later
    monkeypatch.setattr(_progress.time, "monotonic", lambda: float(next(ticks)))
    models = load_zoo(synthetic_zoo_master)[:3]
    observations = models[0].generate(models[0].sample_prior(300, 0))
    udr_for_models(models, observations, method="spearman", batch_size=100, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "udr: encoding: 3 models x 300 observations, then spearman similarities"
    counts = [line for line in lines if line.startswith("udr: encoding: ") and "/900" in line]
    assert counts and counts[-1].startswith("udr: encoding: 900/900 (100%)")
    assert any("estimated" in line and "for 900 observations" in line for line in lines)


def test_the_rank_estimate_times_a_source_task_after_the_first(three, capsys):
    # Three source tasks: the first warms the encoders up, the second is the probe.
    rank(three, SMALL, votes=40, n_boot=0, progress=True)
    task = 3 * (40 * SMALL.group_size + 2000)
    lines = [line for line in capsys.readouterr().err.splitlines() if "probe" in line]
    assert len(lines) == 1
    assert lines[0].startswith("ranking: estimated ")
    assert f"in all for {3 * task:,} encoder passes (probe: the first {2 * task:,} " in lines[0]
