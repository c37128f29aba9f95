"""Bad input through the CLI: one line on stderr naming the model, non-zero exit."""

import json
import shutil

import numpy as np
import pytest

from modelcentrality.testing._synthetic import SyntheticWorld, mixing_matrix, write_synthetic_model
from tests._helpers import run_cli

FAST_ARGS = ["--votes", "60", "--scale-samples", "1000", "--quiet"]


def assert_one_line_error(err, *fragments):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_model_json(synthetic_zoo, capsys):
    (synthetic_zoo / "m02_e0.10" / "model.json").unlink()
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "m02_e0.10", "missing model.json")


def test_corrupt_onnx_file(synthetic_zoo, capsys):
    (synthetic_zoo / "m03_e0.10" / "encoder.onnx").write_bytes(b"\x00garbage" * 10)
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "m03_e0.10", "cannot load encoder.onnx")


def test_missing_generator_file(synthetic_zoo, capsys):
    (synthetic_zoo / "m04_e1.00" / "generator.onnx").unlink()
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "m04_e1.00", "missing file", "generator.onnx")


def test_invalid_metadata_json(synthetic_zoo, capsys):
    (synthetic_zoo / "m05_e1.00" / "model.json").write_text("{not json")
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "m05_e1.00", "not valid JSON")


def test_code_dims_out_of_range(synthetic_zoo, capsys):
    path = synthetic_zoo / "m01_e0.10" / "model.json"
    meta = json.loads(path.read_text())
    meta["code_dims"] = [0, 1, 2, 9]
    path.write_text(json.dumps(meta))
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "m01_e0.10", "code_dims [9] out of range")


def test_unknown_format_version(synthetic_zoo, capsys):
    path = synthetic_zoo / "m01_e0.10" / "model.json"
    meta = json.loads(path.read_text())
    meta["format"] = 7
    path.write_text(json.dumps(meta))
    status, _, err = run_cli(capsys, "inspect", synthetic_zoo / "m01_e0.10")
    assert status != 0
    assert_one_line_error(err, "m01_e0.10", "format 7")


def _odd_model(zoo, name, *, shape=(1, 8, 8), nan=False):
    world = SyntheticWorld.make(4, 2, shape, random_state=11)
    if nan:
        bias = world.bias.copy()
        bias[3] = np.nan
        world = SyntheticWorld(world.weights, bias, world.n_factors, world.observation_shape)
    write_synthetic_model(world, mixing_matrix(4, 0.0, np.random.default_rng(0)), zoo / name)


def test_incompatible_observation_shape(synthetic_zoo, capsys):
    _odd_model(synthetic_zoo, "small_images", shape=(1, 4, 4))
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "small_images", "observation shape (1, 4, 4)", "(1, 8, 8)")


def test_nan_outputs(synthetic_zoo, capsys):
    _odd_model(synthetic_zoo, "nan_model", nan=True)
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "nan_model", "NaN/inf")


def test_skip_bad_ranks_the_rest_and_records_reasons(synthetic_zoo, tmp_path, capsys):
    _odd_model(synthetic_zoo, "nan_model", nan=True)
    _odd_model(synthetic_zoo, "small_images", shape=(1, 4, 4))
    (synthetic_zoo / "m02_e0.10" / "encoder.onnx").write_bytes(b"junk")
    out = tmp_path / "result.json"
    status, stdout, err = run_cli(
        capsys, "rank", synthetic_zoo, "--skip-bad", "-o", out, *FAST_ARGS
    )
    assert status == 0, err
    payload = json.loads(out.read_text())
    assert set(payload["skipped"]) == {"nan_model", "small_images", "m02_e0.10"}
    assert "NaN/inf" in payload["skipped"]["nan_model"]
    assert len(payload["names"]) == 7
    assert "skipped model 'small_images'" in err
    assert payload["ranking"][0].endswith("_e0.10")
    assert payload["ranking"][0] in stdout.splitlines()[2]


def test_fewer_than_two_valid_models(synthetic_zoo, capsys):
    for folder in list(synthetic_zoo.iterdir())[1:]:
        shutil.rmtree(folder)
    status, _, err = run_cli(capsys, "rank", synthetic_zoo, *FAST_ARGS)
    assert status != 0
    assert_one_line_error(err, "at least 2 valid models")


def test_missing_zoo_folder(tmp_path, capsys):
    status, _, err = run_cli(capsys, "rank", tmp_path / "nowhere")
    assert status != 0
    assert_one_line_error(err, "zoo folder not found", "nowhere")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["rank", ".", "--frobnicate"], "No such option"),
        (["rank", ".", "--protocol", "best"], "best"),
        (["rank", ".", "--votes", "0"], "--votes"),
        (["no-such-command"], "No such command"),
    ],
)
def test_unknown_or_invalid_options(capsys, args, fragment):
    status, _, err = run_cli(capsys, *args)
    assert status == 2
    assert_one_line_error(err, fragment)


def test_rank_and_inspect_happy_path(synthetic_zoo, tmp_path, capsys):
    out = tmp_path / "r.json"
    status, stdout, err = run_cli(capsys, "rank", synthetic_zoo, "-o", out, *FAST_ARGS)
    assert status == 0, err
    header = stdout.splitlines()[0].split()
    assert header == ["rank", "name", "centrality", "95%", "interval", "p_top", "self-consistency"]
    assert json.loads(out.read_text())["protocol"]["votes"] == 60
    status, stdout, _ = run_cli(capsys, "inspect", synthetic_zoo / "m00_e0.10", "--json")
    assert status == 0
    report = json.loads(stdout)
    assert report["observation_shape"] == [1, 8, 8] and report["encoding_dim"] == 4
