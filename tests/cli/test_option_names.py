"""Renamed options keep their old spelling as a hidden alias, with the same result."""

import json

import pytest

from modelcentrality.cli import main
from modelcentrality.testing import make_synthetic_zoo


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "zoo"
    make_synthetic_zoo(path, (0.0, 1.0), observation_shape=(1, 64, 64), random_state=0)
    return path


def _evaluate(zoo, out, *options):
    return main(["evaluate", str(zoo), "--metrics", "mig", "--quiet", "-o", str(out), *options])


@pytest.mark.slow
def test_samples_scale_is_the_old_name_of_sample_multiplier(zoo, tmp_path, capsys):
    assert _evaluate(zoo, tmp_path / "new.json", "--sample-multiplier", "0.03") == 0
    assert _evaluate(zoo, tmp_path / "old.json", "--samples-scale", "0.03") == 0
    new, old = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("new", "old"))
    assert new["settings"]["mig"]["n_train"] == 300
    assert old["results"] == new["results"] and old["settings"] == new["settings"]
    # Either spelling is the same option: given twice, the last one counts.
    assert _evaluate(
        zoo, tmp_path / "both.json", "--sample-multiplier", "0.5", "--samples-scale", "0.03"
    ) == 0
    assert json.loads((tmp_path / "both.json").read_text())["settings"] == new["settings"]


def test_the_old_spelling_is_hidden_from_help(capsys):
    assert main(["evaluate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--sample-multiplier" in text and "--samples-scale" not in text


@pytest.mark.parametrize("command", ["train", "train-zoo"])
def test_out_is_the_old_name_of_output(command, tmp_path, capsys):
    first = ["beta-vae", "--preset", "cpu", "--set", "nope=1"] if command == "train" else []
    spec = [] if command == "train" else ["no-such-zoo-spec"]
    for flag in ("-o", "--output", "--out"):
        # Options parse; the run stops at the bad setting (train) or spec (train-zoo).
        assert main([command, *first, *spec, flag, str(tmp_path / "m")]) in (1, 2)
        err = capsys.readouterr().err
        assert ("nope" in err) if command == "train" else ("no-such-zoo-spec" in err)
    assert main([command, *first, *spec]) == 2
    assert "Missing option '-o' / '--output'" in capsys.readouterr().err
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--output" in text and "--out " not in text and "--out," not in text


@pytest.mark.parametrize("command", ["train", "train-zoo"])
def test_quiet_is_the_progress_switch_of_every_command(command, capsys):
    from modelcentrality.cli import train

    cli = train.train_command if command == "train" else train.train_zoo_command
    first = ["beta-vae"] if command == "train" else ["spec"]
    for flags, quiet in (([], False), (["--quiet"], True), (["--no-progress"], True),
                         (["--progress"], False)):
        context = cli.make_context(command, [*first, "-o", "out", *flags])
        assert context.params["quiet"] is quiet
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "--quiet" in text
    assert "--no-progress" not in text and "--progress" not in text
