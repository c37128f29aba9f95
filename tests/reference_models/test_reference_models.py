"""Reference trainers: losses, CR pairs, export round trip, checkpoint/resume, presets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from modelcentrality.cli import main  # noqa: E402
from modelcentrality.io._zoo import load_model  # noqa: E402
from modelcentrality.reference_models import presets  # noqa: E402
from modelcentrality.reference_models.grouped import GroupedTrainer  # noqa: E402
from modelcentrality.reference_models.infogan_cr import (  # noqa: E402
    sample_cr_pairs,
)
from modelcentrality.reference_models.networks import (  # noqa: E402
    CodeEncoder,
    Discriminator,
    Generator,
    VAEDecoder,
    VAEEncoder,
    frozen_copy,
)
from modelcentrality.reference_models.train import (  # noqa: E402
    TRAINERS,
    default_checkpoint,
    train_model,
)
from modelcentrality.reference_models.training import load_checkpoint  # noqa: E402
from tests._helpers import binary_images  # noqa: E402

PRESETS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference_zoos.md"
TINY = {"batch_size": 4, "checkpoint_every": 1}


def make_trainer(method: str, seed: int = 3, **settings):
    config = presets.make_config(method, "cpu", {**TINY, **settings})
    return TRAINERS[method](config, binary_images, seed=seed)


def run(trainer, steps: int) -> list[dict[str, float]]:
    """Train ``trainer`` ``steps`` iterations (as a group of one, as train_model does)."""
    group = GroupedTrainer([trainer])
    history = []
    for _ in range(steps):
        group.before_step()
        losses = group.train_step(group.draw())
        group.step += 1
        history.append({name: float(value[0]) for name, value in losses.items()})
    group.pull()
    return history


@pytest.mark.parametrize("method", ["infogan-cr", "factorvae", "beta-vae"])
def test_training_steps_give_finite_losses_and_right_shapes(method):
    trainer = make_trainer(method, cr_start=1) if method == "infogan-cr" else make_trainer(method)
    before = {k: v.clone() for k, v in next(iter(trainer.modules.values())).state_dict().items()}
    history = run(trainer, 3)
    expected = {
        "infogan-cr": {"d", "q", "g", "cr_d", "cr_g"},
        "factorvae": {"recon", "kl", "tc", "tc_d"},
        "beta-vae": {"recon", "kl"},
    }[method]
    assert set(history[-1]) == expected  # the CR losses appear once alpha > 0
    assert all(np.isfinite(v) for losses in history for v in losses.values())
    after = next(iter(trainer.modules.values())).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)

    images = torch.from_numpy(binary_images(5, np.random.default_rng(0)))
    with torch.no_grad():
        if method == "infogan-cr":
            fake = trainer.modules["generator"].eval()(torch.rand(5, 10) * 2 - 1)
            logit, codes = trainer.modules["discriminator"](images)
            assert fake.shape == (5, 1, 64, 64)
            assert fake.min() >= 0 and fake.max() <= 1
            assert logit.shape == (5,) and codes.shape == (5, 5)
            assert trainer.modules["cr"](torch.cat([images, images], 1)).shape == (5, 5)
        else:
            mean, logvar = trainer.modules["encoder"](images)
            assert mean.shape == logvar.shape == (5, 10)
            assert trainer.modules["decoder"](mean).shape == (5, 1, 64, 64)


def test_cr_pairs_share_one_code_and_the_noise():
    n, codes, noise = 20_000, 5, 5
    z1, z2, shared = sample_cr_pairs(n, codes, noise, np.random.default_rng(0))
    assert z1.shape == z2.shape == (n, codes + noise) and z1.dtype == np.float32
    assert np.array_equal(z1[:, codes:], z2[:, codes:])
    rows = np.arange(n)
    assert np.array_equal(z1[rows, shared], z2[rows, shared])
    counts = np.bincount(shared, minlength=codes)
    assert counts.min() > 0.18 * n and counts.max() < 0.22 * n  # k uniform (expected 0.2)
    for k in range(codes):
        other = shared != k
        assert not np.any(z1[other, k] == z2[other, k])
        assert abs(np.corrcoef(z1[other, k], z2[other, k])[0, 1]) < 0.05
        assert z1[:, k].min() >= -1 and z1[:, k].max() <= 1


def _compare_export(torch_encoder, torch_generator, folder: Path, logvar: bool):
    model = load_model(folder)
    rng = np.random.default_rng(1)
    latents = model.sample_prior(6, rng)
    images = binary_images(6, rng)
    with torch.no_grad():
        expected_images = torch_generator(torch.from_numpy(latents)).numpy()
        expected_codes = torch_encoder(torch.from_numpy(images))
    np.testing.assert_allclose(model.generate(latents), expected_images, atol=1e-5)
    codes, log_variance = model.encode_with_logvar(images)
    if logvar:
        np.testing.assert_allclose(codes, expected_codes[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(log_variance, expected_codes[1].numpy(), atol=1e-5)
    else:
        assert log_variance is None
        np.testing.assert_allclose(codes, expected_codes.numpy(), atol=1e-5)
    return model


def test_infogan_cr_export_round_trips_and_writes_the_modified_model(tmp_path):
    out = tmp_path / "zoo" / "infogan_cr_s3"
    result = train_model(
        "infogan-cr",
        out,
        preset="cpu",
        overrides={**TINY, "iterations": 3, "cr_start": 2},
        seed=3,
        data=binary_images,
        keep_checkpoint=True,
    )
    assert (
        result.out_dir == out and result.modified_dir == tmp_path / "zoo" / "infogan_cr_s3_modified"
    )
    # Rebuild the trained networks from the checkpoint and compare with ONNX Runtime.
    trainer = make_trainer("infogan-cr", iterations=3, cr_start=2)
    load_checkpoint(trainer, default_checkpoint(out))
    assert trainer.step == 3
    encoder = CodeEncoder(frozen_copy(trainer.modules["discriminator"], lambda: Discriminator(5)))
    generator = frozen_copy(trainer.modules["generator"], lambda: Generator(10))
    model = _compare_export(encoder, generator, out, logvar=False)
    assert model.kind == "gan" and model.code_dims == (0, 1, 2, 3, 4)
    assert model.prior.type == "uniform" and model.latent_dim == 10
    final = json.loads((out / "model.json").read_text())["training"]
    modified = json.loads((result.modified_dir / "model.json").read_text())["training"]
    assert final["variant"] == "InfoGAN-CR" and final["iterations_done"] == 3
    assert modified["variant"] == "InfoGAN (modified)" and modified["iterations_done"] == 2
    assert final["settings"] == modified["settings"] and final["settings"]["cr_start"] == 2


def test_vae_export_round_trips_with_logvar(tmp_path):
    out = tmp_path / "zoo" / "fvae"
    train_model(
        "factorvae",
        out,
        preset="cpu",
        overrides={**TINY, "iterations": 2},
        seed=3,
        data=binary_images,
        keep_checkpoint=True,
    )
    trainer = make_trainer("factorvae", iterations=2)
    load_checkpoint(trainer, default_checkpoint(out))
    encoder = frozen_copy(trainer.modules["encoder"], lambda: VAEEncoder(10))
    decoder = frozen_copy(trainer.modules["decoder"], lambda: VAEDecoder(10))
    model = _compare_export(encoder, lambda z: torch.sigmoid(decoder(z)), out, logvar=True)
    assert model.kind == "vae" and model.code_dims == tuple(range(10))
    assert model.prior.type == "normal"


def _assert_same_state(a, b):
    for name in a.modules:
        sa, sb = a.modules[name].state_dict(), b.modules[name].state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    for name in a.optimizers:
        oa, ob = a.optimizers[name].state_dict(), b.optimizers[name].state_dict()
        assert oa["param_groups"] == ob["param_groups"]
        for index, state in oa["state"].items():
            for key, value in state.items():
                assert torch.equal(value, ob["state"][index][key]), f"{name} {index} {key}"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["infogan-cr", "factorvae"])
def test_resume_equals_an_uninterrupted_run(tmp_path, method):
    settings = {"iterations": 4, "cr_start": 2} if method == "infogan-cr" else {"iterations": 4}
    straight = train_model(
        method,
        tmp_path / "a" / "m",
        preset="cpu",
        seed=5,
        overrides={**TINY, **settings},
        data=binary_images,
        keep_checkpoint=True,
    )
    assert straight.iterations == 4
    split_out = tmp_path / "b" / "m"
    half = train_model(
        method,
        split_out,
        preset="cpu",
        seed=5,
        overrides={**TINY, **settings},
        data=binary_images,
        stop_after=1,
    )
    assert half.out_dir is None and half.iterations == 1
    with pytest.raises(Exception, match="--resume"):
        train_model(
            method,
            split_out,
            preset="cpu",
            seed=5,
            overrides={**TINY, **settings},
            data=binary_images,
        )
    with pytest.raises(Exception, match="seed 5, not 6"):
        train_model(
            method,
            split_out,
            preset="cpu",
            seed=6,
            overrides={**TINY, **settings},
            data=binary_images,
            resume=True,
        )
    resumed = train_model(
        method,
        split_out,
        preset="cpu",
        seed=5,
        overrides={**TINY, **settings},
        data=binary_images,
        resume=True,
        keep_checkpoint=True,
    )
    assert resumed.iterations == 4
    a = make_trainer(method, seed=5, **settings)
    b = make_trainer(method, seed=5, **settings)
    load_checkpoint(a, default_checkpoint(tmp_path / "a" / "m"))
    load_checkpoint(b, default_checkpoint(split_out))
    assert a.step == b.step == 4
    _assert_same_state(a, b)


def test_resume_after_kill_minus_nine(tmp_path, capsys):
    out = tmp_path / "zoo" / "bvae"
    settings = {"iterations": 150, "batch_size": 4, "checkpoint_every": 1}
    argv = ["train", "beta-vae", "--preset", "cpu", "--seed", "2", "-o", str(out)]
    argv += [item for key, value in settings.items() for item in ("--set", f"{key}={value}")]
    checkpoint = default_checkpoint(out)
    process = subprocess.Popen(
        [sys.executable, "-m", "modelcentrality.cli", *argv, "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    time.sleep(0.2)  # a few more checkpoints, then kill it in the middle of the run
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), process.stderr.read().decode()
    killed = make_trainer("beta-vae", seed=2, **settings)
    load_checkpoint(killed, checkpoint)
    assert 0 < killed.step < settings["iterations"]
    assert not (out / "model.json").exists()

    # Other settings are refused in one line; the same command resumes and finishes.
    assert main([*argv, "--set", "batch_size=8", "--resume"]) == 1
    assert "batch_size=4 (now 8)" in capsys.readouterr().err
    assert main([*argv, "--resume", "--keep-checkpoint"]) == 0
    assert (out / "model.json").exists()
    straight_out = tmp_path / "straight" / "bvae"
    train_model(
        "beta-vae",
        straight_out,
        preset="cpu",
        seed=2,
        data="dsprites",
        overrides={**settings, "checkpoint_every": 1000},
        keep_checkpoint=True,
    )
    resumed, straight = (
        make_trainer("beta-vae", seed=2, **settings),
        make_trainer("beta-vae", seed=2, **settings),
    )
    load_checkpoint(resumed, checkpoint)
    load_checkpoint(straight, default_checkpoint(straight_out))
    assert resumed.step == straight.step == settings["iterations"]
    _assert_same_state(resumed, straight)


def test_cli_rejects_bad_settings_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "m")
    assert main(["train", "beta-vae", "-o", out, "--set", "nope=1"]) == 2
    assert main(["train", "beta-vae", "-o", out, "--set", "iterations=ten"]) == 2
    assert main(["train", "infogan-cr", "-o", out, "--set", "beta1=1.5"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert "unknown setting 'nope'" in lines[0]
    assert "'iterations' must be an integer" in lines[1]
    assert "'beta1' must lie in [0, 1)" in lines[2]
    assert not Path(out).exists()


def test_cpu_preset_fits_the_time_budget_and_matches_the_readme():
    for method in presets.CONFIGS:
        config = presets.make_config(method, "cpu")
        assert presets.estimated_cpu_seconds(config) <= 30 * 60, method
        assert config.iterations >= 1000
    table = presets.preset_table()
    assert "| infogan-cr | iterations | 322,560 |" in table
    readme = PRESETS_PAGE.read_text()
    block = re.search(r"<!-- presets:begin -->\n(.*?)\n<!-- presets:end -->", readme, re.S)
    assert block is not None, "docs/reference_zoos.md lacks the preset table (preset_table())"
    assert block.group(1).strip() == table


@pytest.mark.slow
def test_zoo_job_trains_scores_and_resumes(tmp_path):
    from modelcentrality.errors import ModelCentralityError
    from modelcentrality.reference_models.zoo_job import load_spec, train_zoo

    spec = {
        "method": "beta-vae",
        "preset": "cpu",
        "seeds": [0, 1],
        "grid": {"beta": [1, 4]},
        "settings": {"iterations": 2, "batch_size": 4},
        "scores": ["factorvae_paper", "mig"],
        "score_settings": {
            "factorvae_paper": {"votes": 30, "scale_samples": 500},
            "mig": {"n_train": 300},
        },
    }
    zoo = tmp_path / "zoo"
    # A partial model: its checkpoint is continued, not restarted.
    partial = train_model(
        "beta-vae",
        zoo / "beta_vae_beta4_s1",
        preset="cpu",
        seed=1,
        overrides={"iterations": 2, "batch_size": 4, "beta": 4.0},
        stop_after=1,
    )
    assert partial.out_dir is None
    manifest = train_zoo(spec, zoo)
    names = [m["name"] for m in manifest["models"]]
    assert names == [
        "beta_vae_beta1_s0",
        "beta_vae_beta4_s0",
        "beta_vae_beta1_s1",
        "beta_vae_beta4_s1",
    ]
    for entry in manifest["models"]:
        assert entry["status"] == "done" and entry["settings"]["beta"] == entry["grid"]["beta"]
        assert 0 <= entry["scores"]["factorvae_paper"]["score"] <= 1
        assert entry["scores"]["factorvae_paper"]["votes"] == 30
        assert "discrete_mig" in entry["scores"]["mig"]
        assert (zoo / entry["name"] / "model.json").exists()
    assert json.loads((zoo / "manifest.json").read_text()) == manifest
    stamp = (zoo / names[0] / "model.json").stat().st_mtime_ns
    assert train_zoo(spec, zoo) == manifest  # finished models are skipped
    assert (zoo / names[0] / "model.json").stat().st_mtime_ns == stamp
    with pytest.raises(ModelCentralityError, match="another zoo spec"):
        train_zoo({**spec, "seeds": [0]}, zoo)
    with pytest.raises(ModelCentralityError, match="unknown setting 'betta'"):
        load_spec({**spec, "grid": {"betta": [1]}})
    with pytest.raises(ModelCentralityError, match="unknown keys"):
        load_spec({**spec, "sedes": 3})
