"""Grouped training: K models trained as one network equal K single-model runs (a
single-model run is a group of one, trained without vmap)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from click.testing import CliRunner  # noqa: E402

from modelcentrality.cli import train as train_cli  # noqa: E402
from modelcentrality.errors import ModelCentralityError  # noqa: E402
from modelcentrality.io import load_model  # noqa: E402
from modelcentrality.reference_models import presets  # noqa: E402
from modelcentrality.reference_models.grouped import (  # noqa: E402
    DeviceImages,
    GroupedTrainer,
    StackedModule,
    group_key,
)
from modelcentrality.reference_models.infogan_cr import share_code_and_noise  # noqa: E402
from modelcentrality.reference_models.networks import new_discriminator  # noqa: E402
from modelcentrality.reference_models.train import (  # noqa: E402
    TRAINERS,
    default_checkpoint,
    train_model,
    train_models,
)
from modelcentrality.reference_models.training import load_checkpoint  # noqa: E402
from modelcentrality.reference_models.vae import FactorVAETrainer  # noqa: E402
from tests._helpers import binary_images  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
#: InfoGAN-CR's first Adam steps move each weight by about +-lr whatever the size of its
#: gradient, so a gradient at rounding level (which batched kernels round differently)
#: can move a weight either way by 1e-3 and the runs drift apart chaotically. Small
#: learning rates keep the comparison at rounding level while the gradients themselves
#: (in the Adam moments), batch norm statistics and spectral-norm vectors are compared.
SMALL_LR = {"lr_generator": 1e-6, "lr_discriminator": 1e-6, "lr_cr": 1e-6}
#: Per model: seed and settings; grid-like per-model loss weights differ within a group.
CASES = {
    "infogan-cr": [
        (3, {"cr_start": 2, "q_weight": 0.05, **SMALL_LR}),
        (4, {"cr_start": 2, "q_weight": 0.2, **SMALL_LR}),
        (9, {"cr_start": 2, "q_weight": 0.05, **SMALL_LR}),
    ],
    "factorvae": [(3, {"tc_weight": 1.0}), (4, {"tc_weight": 10.0}), (5, {"tc_weight": 40.0})],
    "beta-vae": [(3, {"beta": 1.0}), (4, {"beta": 4.0}), (5, {"beta": 16.0})],
}
STEPS = 4


def make_trainer(method: str, seed: int, settings: dict, **kwargs):
    config = presets.make_config(method, "cpu", {"batch_size": 8, **settings})
    return TRAINERS[method](config, binary_images, seed, **kwargs)


def assert_close_scaled(a: torch.Tensor, b: torch.Tensor, what: str, rtol: float = 1e-4):
    """|a - b| <= 1e-5 + rtol * max|a|: rounding-level agreement at the tensor's scale
    (Adam's second moments span many orders of magnitude)."""
    a, b = a.double(), b.double()
    bound = 1e-5 + rtol * float(a.abs().max())
    worst = float((a - b).abs().max())
    assert worst <= bound, f"{what}: differs by {worst:.3g} (bound {bound:.3g})"


def assert_same_model(single, grouped):
    assert single.step == grouped.step
    for name, module in single.modules.items():
        mine, theirs = module.state_dict(), grouped.modules[name].state_dict()
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert_close_scaled(mine[key], theirs[key], f"seed {single.seed} {name}.{key}")
    for name, optimizer in single.optimizers.items():
        mine, theirs = (
            optimizer.state_dict()["state"],
            grouped.optimizers[name].state_dict()["state"],
        )
        assert mine.keys() == theirs.keys() and mine
        for index, state in mine.items():
            for key, value in state.items():
                assert_close_scaled(
                    value, theirs[index][key], f"seed {single.seed} Adam {name}[{index}].{key}"
                )


def train_steps(group: GroupedTrainer, steps: int) -> list[dict[str, np.ndarray]]:
    """``steps`` iterations of the loop's body; each model's losses per iteration."""
    history = []
    for _ in range(steps):
        group.before_step()
        losses = group.train_step(group.draw())
        group.step += 1
        assert all(value.shape == (group.size,) for value in losses.values())
        history.append({name: value.numpy() for name, value in losses.items()})
    group.pull()
    return history


@pytest.mark.slow
@pytest.mark.parametrize("method", list(CASES))
def test_grouped_training_equals_single_model_runs(method, tmp_path):
    """Same seeds, initial weights and batches: after a few steps every model of a group
    of 3 (vmap) matches its own single-model run (a group of one, as train_model runs it,
    without vmap) in weights, buffers (batch norm, spectral norm), Adam moments and
    losses, although the models differ in seed and loss weight. InfoGAN-CR crosses
    cr_start (the CR discriminator is re-initialised and the modified model exported)
    in the middle."""

    def build(tag: str) -> list:
        trainers = []
        for seed, settings in CASES[method]:
            kwargs = {"modified_dir": tmp_path / tag / f"m{seed}"} if method == "infogan-cr" else {}
            trainers.append(make_trainer(method, seed, settings, **kwargs))
        return trainers

    singles, members = build("single"), build("grouped")
    group = GroupedTrainer(members, device="cpu")
    assert group.draws == "numpy" and group.size == 3
    single_losses = [train_steps(GroupedTrainer([trainer]), STEPS) for trainer in singles]
    grouped_losses = train_steps(group, STEPS)
    for step in range(STEPS):
        for k in range(3):
            expected = single_losses[k][step]
            assert set(grouped_losses[step]) == set(expected)
            for name, value in expected.items():
                assert grouped_losses[step][name][k] == pytest.approx(value[0], rel=1e-4, abs=1e-5)
    for single, member in zip(singles, members):
        assert_same_model(single, member)
    # The models really differ from one another (own seeds, own weights).
    first = next(iter(members[0].modules.values())).state_dict()
    second = next(iter(members[1].modules.values())).state_dict()
    assert any(not torch.allclose(first[k].float(), second[k].float()) for k in first)
    if method == "infogan-cr":
        for seed, _ in CASES[method]:
            record = json.loads((tmp_path / "grouped" / f"m{seed}" / "model.json").read_text())
            assert record["training"]["iterations_done"] == 2
            assert record["training"]["variant"] == "InfoGAN (modified)"


def exported_weights(folder: Path) -> dict[str, torch.Tensor]:
    """Every weight of a model folder's ONNX graphs."""
    return {
        f"{graph}:{tensor.name}": torch.from_numpy(onnx.numpy_helper.to_array(tensor).copy())
        for graph in ("encoder.onnx", "generator.onnx")
        for tensor in onnx.load(str(folder / graph)).graph.initializer
    }


@pytest.mark.slow
def test_train_model_exports_what_a_group_exports(tmp_path):
    """The single-model API (train_model) and the same model trained in a group of two
    (train_models on the CPU, numpy draws) export the same model, up to the rounding of
    batched kernels; model.json differs only in the group record."""
    settings = {"iterations": 3, "batch_size": 4, "checkpoint_every": 2}
    single = train_model(
        "beta-vae",
        tmp_path / "single" / "m",
        preset="cpu",
        overrides={**settings, "beta": 4.0},
        seed=1,
        data=binary_images,
    )
    grouped = train_models(
        "beta-vae",
        [tmp_path / "group" / "m", tmp_path / "group" / "other"],
        [1, 2],
        preset="cpu",
        overrides=[{**settings, "beta": 4.0}, {**settings, "beta": 16.0}],
        data=binary_images,
        device="cpu",
    )
    assert single.iterations == grouped[0].iterations == 3
    assert single.losses == pytest.approx(grouped[0].losses, rel=1e-4, abs=1e-5)
    alone, member, other = (exported_weights(r.out_dir) for r in (single, grouped[0], grouped[1]))
    assert alone.keys() == member.keys() == other.keys()
    for name, value in alone.items():
        assert_close_scaled(value, member[name], name)
    assert any(not torch.allclose(value, other[name]) for name, value in alone.items())
    record = json.loads((single.out_dir / "model.json").read_text())["training"]
    grouped_record = json.loads((grouped[0].out_dir / "model.json").read_text())["training"]
    assert grouped_record.pop("grouped") == {
        "models": 2,
        "draws": "numpy",
        "device": "cpu",
        "bf16": False,
    }
    assert record == grouped_record


def test_a_group_of_one_computes_what_the_plain_module_computes():
    """A group of one runs the plain module, bit for bit: a spectrally normalised
    discriminator called twice (real and fake, as in a GAN's discriminator step) gives
    the same outputs, gradients, power-iteration vectors and Adam step as the module
    itself, so train_model's numbers do not depend on the grouped machinery."""
    torch.manual_seed(0)
    plain = new_discriminator(5, 0.02).train()
    stacked = StackedModule([copy.deepcopy(plain)], torch.device("cpu"))
    real, fake = torch.rand(2, 8, 1, 64, 64)
    outputs = [plain(real), plain(fake)]
    group_outputs = [stacked(real[None]), stacked(fake[None])]
    for mine, theirs in zip(outputs, group_outputs):
        assert all(torch.equal(a, b[0]) for a, b in zip(mine, theirs))

    def loss(outputs):  # both heads, so that every weight gets a gradient
        (real_logit, real_codes), (fake_logit, fake_codes) = outputs
        return (real_logit - fake_logit).pow(2).mean() + (real_codes * fake_codes).mean()

    loss(outputs).backward()
    loss([tuple(t[0] for t in pair) for pair in group_outputs]).backward()
    params = dict(plain.named_parameters())
    assert params.keys() == stacked.params.keys()
    for name, param in params.items():
        assert torch.equal(param.grad, stacked.params[name].grad[0]), name
    torch.optim.Adam(plain.parameters(), lr=2e-3).step()
    torch.optim.Adam(stacked.params.values(), lr=2e-3).step()
    expected = plain.state_dict()
    assert expected.keys() == stacked.state_dict_of(0).keys()
    for name, value in stacked.state_dict_of(0).items():
        assert torch.equal(expected[name], value), name


def test_group_key_allows_only_loss_weights_to_differ():
    base = presets.make_config("factorvae", "cpu")
    other_gamma = presets.make_config("factorvae", "cpu", {"tc_weight": 40})
    other_lr = presets.make_config("factorvae", "cpu", {"lr": 1e-3})
    key = group_key(FactorVAETrainer, vars(base))
    assert key == group_key(FactorVAETrainer, vars(other_gamma))
    assert key != group_key(FactorVAETrainer, vars(other_lr))
    trainers = [
        make_trainer("factorvae", 0, {}),
        make_trainer("factorvae", 1, {"lr": 1e-3}),
    ]
    with pytest.raises(ValueError, match="differ only in seed"):
        GroupedTrainer(trainers)


@pytest.mark.slow
def test_device_draws_do_not_depend_on_the_group(tmp_path):
    """With on-device draws, a model trained among others equals the same model trained
    alone: its draws come from its own generator, reseeded from (seed, iteration)."""
    images = DeviceImages(
        (np.random.default_rng(0).random((50, 64, 64)) < 0.1).astype(np.uint8), torch.device("cpu")
    )
    settings = [(3, {"tc_weight": 1.0}), (4, {"tc_weight": 10.0}), (5, {"tc_weight": 40.0})]
    group = GroupedTrainer(
        [make_trainer("factorvae", s, o) for s, o in settings], draws="device", images=images
    )
    alone = GroupedTrainer([make_trainer("factorvae", *settings[1])], draws="device", images=images)
    draws = group.draw()
    assert draws["images"].shape == (3, 8, 1, 64, 64) and draws["noise"].shape == (3, 8, 10)
    assert not torch.equal(draws["noise"][0], draws["noise"][1])
    for _ in range(3):
        for g in (group, alone):
            g.train_step(g.draw())
            g.step += 1
    group.pull()
    alone.pull()
    assert_same_model(alone.trainers[0], group.trainers[1])
    order = draws["order"][0]
    assert torch.equal(order.sort(dim=0).values, torch.arange(8)[:, None].expand(8, 10))
    with pytest.raises(ModelCentralityError, match="plain dsprites"):
        DeviceImages.from_dataset("noisy_dsprites", torch.device("cpu"))


def test_device_cr_pairs_share_one_code_and_the_noise():
    generator = torch.Generator().manual_seed(0)
    z1 = torch.rand(2, 4000, 10, generator=generator) * 2 - 1
    z2 = torch.rand(2, 4000, 10, generator=generator) * 2 - 1
    shared = torch.randint(5, (2, 4000), generator=generator)
    paired = share_code_and_noise(z1, z2, shared, 5)
    assert torch.equal(paired[..., 5:], z1[..., 5:])
    picked = torch.gather(paired, 2, shared[..., None])
    assert torch.equal(picked, torch.gather(z1, 2, shared[..., None]))
    other = ~torch.nn.functional.one_hot(shared, 5).bool()
    assert not torch.any(paired[..., :5][other] == z1[..., :5][other])


@pytest.mark.slow
def test_train_models_exports_checkpoints_and_resumes(tmp_path):
    """Each model is exported as an ordinary zoo model; a run split by stop_after and
    resumed equals a straight one; checkpoints are single-model checkpoints, removed
    after export."""
    seeds = [1, 2]
    overrides = [
        {"iterations": 3, "batch_size": 4, "checkpoint_every": 1, "tc_units": 50, "tc_weight": w}
        for w in (1, 20)
    ]
    straight = train_models(
        "factorvae",
        [tmp_path / "a" / f"m{s}" for s in seeds],
        seeds,
        preset="cpu",
        overrides=overrides,
        data=binary_images,
        device="cpu",
        keep_checkpoints=True,
    )
    assert [r.iterations for r in straight] == [3, 3]
    outs = [tmp_path / "b" / f"m{s}" for s in seeds]
    half = train_models(
        "factorvae",
        outs,
        seeds,
        preset="cpu",
        overrides=overrides,
        data=binary_images,
        device="cpu",
        stop_after=1,
    )
    assert all(r.out_dir is None for r in half)
    with pytest.raises(ModelCentralityError, match="exists: pass --resume"):
        train_models(
            "factorvae", outs, seeds, preset="cpu", overrides=overrides, data=binary_images
        )
    single = make_trainer("factorvae", 2, {**overrides[1]})
    load_checkpoint(single, default_checkpoint(outs[1]))  # a single-model checkpoint
    assert single.step == 1
    resumed = train_models(
        "factorvae",
        outs,
        seeds,
        preset="cpu",
        overrides=overrides,
        data=binary_images,
        device="cpu",
        resume=True,
    )
    assert [r.out_dir for r in resumed] == outs
    assert not default_checkpoint(outs[0]).exists()
    for seed, out in zip(seeds, outs):
        model = load_model(out)
        assert model.kind == "vae" and model.latent_dim == 10
        record = json.loads((out / "model.json").read_text())["training"]
        assert record["seed"] == seed and record["grouped"]["models"] == 2
        # The resumed model equals the straight one (whose checkpoint was kept).
        straight_trainer = make_trainer("factorvae", seed, overrides[seeds.index(seed)])
        load_checkpoint(straight_trainer, default_checkpoint(tmp_path / "a" / f"m{seed}"))
        images = binary_images(5, np.random.default_rng(7))
        with torch.no_grad():
            encoder = straight_trainer.modules["encoder"].eval()
            expected = encoder(torch.from_numpy(images))[0].numpy()
        np.testing.assert_allclose(model.encode(images), expected, atol=1e-5)


def test_train_zoo_grouped_on_cpu_then_scored(tmp_path):
    """`train-zoo SPEC --device cpu --skip-scores` trains the 4 models as one group (grid
    of loss weights x seeds) and exports them; a second run without --skip-scores only
    scores them."""
    spec = {
        "method": "factorvae",
        "preset": "cpu",
        "seeds": [0, 1],
        "grid": {"tc_weight": [1, 10]},
        "settings": {"iterations": 2, "batch_size": 4, "tc_units": 50},
        "scores": ["mig"],
        "score_settings": {"mig": {"n_train": 300}},
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    zoo = tmp_path / "zoo"
    runner = CliRunner()
    args = [str(spec_path), "-o", str(zoo), "--quiet"]
    usage = runner.invoke(train_cli.train_zoo_command, [*args, "--draws", "numpy"])
    assert usage.exit_code == 2 and "--draws needs --device" in usage.output
    first = runner.invoke(train_cli.train_zoo_command, [*args, "--device", "cpu", "--skip-scores"])
    assert first.exit_code == 0, first.output
    manifest = json.loads((zoo / "manifest.json").read_text())
    # Trained but not scored yet: listed as pending, so readers of "models" find scores.
    assert manifest["models"] == []
    assert [m["status"] for m in manifest["pending"]] == ["trained"] * 4
    for entry in manifest["pending"]:
        record = json.loads((zoo / entry["name"] / "model.json").read_text())["training"]
        assert record["grouped"] == {"models": 4, "draws": "numpy", "device": "cpu", "bf16": False}
        assert record["settings"]["tc_weight"] == entry["grid"]["tc_weight"]
        assert record["iterations_done"] == 2
    assert not any((zoo / ".checkpoints").glob("*.pt"))
    stamp = (zoo / "factorvae_tc_weight1_s0" / "model.json").stat().st_mtime_ns
    second = runner.invoke(train_cli.train_zoo_command, [*args, "--device", "cpu"])
    assert second.exit_code == 0, second.output
    manifest = json.loads((zoo / "manifest.json").read_text())
    assert [m["status"] for m in manifest["models"]] == ["done"] * 4
    assert all("discrete_mig" in m["scores"]["mig"] for m in manifest["models"])
    assert (zoo / "factorvae_tc_weight1_s0" / "model.json").stat().st_mtime_ns == stamp


class _Recorder:
    """Stands in for train_model: records the call instead of training for days."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, method, out_dir, **kwargs):
        from modelcentrality.reference_models.train import TrainResult

        self.calls.append((method, kwargs["preset"]))
        return TrainResult(Path(out_dir), None, 1, {})


@pytest.fixture
def recorder(monkeypatch):
    from modelcentrality.reference_models import train as train_module

    fake = _Recorder()
    monkeypatch.setattr(train_module, "train_model", fake)
    return fake


def test_train_refuses_a_multi_day_cpu_run_without_a_terminal(tmp_path, recorder):
    runner = CliRunner()
    result = runner.invoke(train_cli.train_command, ["factorvae", "-o", str(tmp_path / "m")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "43.2 hours" in lines[0]
    assert "pass --yes" in lines[0] and "--preset cpu" in lines[0]
    assert recorder.calls == [] and not (tmp_path / "m").exists()
    # --yes starts it; the cpu preset (under 30 minutes) needs no confirmation.
    out = str(tmp_path / "m")
    assert runner.invoke(train_cli.train_command, ["factorvae", "-o", out, "--yes"]).exit_code == 0
    assert (
        runner.invoke(train_cli.train_command, ["beta-vae", "-o", out, "--preset", "cpu"]).exit_code
        == 0
    )
    assert recorder.calls == [("factorvae", "paper"), ("beta-vae", "cpu")]


def test_train_asks_on_a_terminal(tmp_path, recorder, monkeypatch):
    monkeypatch.setattr(train_cli, "stdin_is_interactive", lambda: True)
    runner = CliRunner()
    args = ["infogan-cr", "-o", str(tmp_path / "m")]
    declined = runner.invoke(train_cli.train_command, args, input="n\n")
    assert declined.exit_code == 1
    assert "days on a CPU" in declined.output and "Start it?" in declined.output
    assert recorder.calls == []
    accepted = runner.invoke(train_cli.train_command, args, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert recorder.calls == [("infogan-cr", "paper")]


@pytest.mark.slow
def test_train_deletes_its_checkpoint_after_export_and_keeps_it_when_stopped(tmp_path):
    from modelcentrality.reference_models.train import train_model

    out = tmp_path / "zoo" / "bvae"
    settings = {"iterations": 2, "batch_size": 4}
    kwargs = {"preset": "cpu", "overrides": settings, "data": binary_images, "seed": 1}
    stopped = train_model("beta-vae", out, stop_after=1, **kwargs)
    assert stopped.out_dir is None and default_checkpoint(out).exists()
    finished = train_model("beta-vae", out, resume=True, **kwargs)
    assert finished.out_dir == out and (out / "model.json").exists()
    assert not default_checkpoint(out).exists()
    with pytest.raises(ModelCentralityError, match="finished model"):
        train_model("beta-vae", out, resume=True, **kwargs)


def test_gpu_script_tiny_run_on_cpu_packs_each_zoo_into_one_archive(tmp_path):
    """benchmarks/gpu_train_zoo.py end to end on CPU with tiny sizes: throughput JSON,
    float16 ONNX models, one tar.gz per zoo sent as parts within the return budget, and
    the rest sent by --collect."""
    out, work = tmp_path / "out", tmp_path / "work"
    script = [sys.executable, str(ROOT / "benchmarks" / "gpu_train_zoo.py")]
    common = ["--work", str(work), "--part-mib", "1", "--return-mib", "2.5"]
    run = subprocess.run(
        [*script, "--out", str(out), *common, "--device", "cpu", "--tiny"]
        + ["--zoos", "infogan-cr-gpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((out / "gpu_train_zoo.json").read_text())
    assert result["device"]["type"] == "cpu" and result["tiny"]
    assert result["throughput"]["factorvae"]["grouped"][1]["models"] == 2
    assert result["zoos"]["infogan-cr-gpu"]["models"] == 2
    assert result["archives"] == ["infogan_cr_gpu.tar.gz", "infogan_cr_gpu_modified.tar.gz"]
    assert result["returned"]["left_on_device"] == ["infogan_cr_gpu_modified.tar.gz"]
    collected = tmp_path / "collected"
    again = subprocess.run(
        [*script, "--out", str(collected), *common, "--collect"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(list(out.iterdir())) <= 8 and len(list(collected.iterdir())) <= 8
    unpacked = tmp_path / "unpacked"
    for folder, name in ((out, "infogan_cr_gpu"), (collected, "infogan_cr_gpu_modified")):
        parts = sorted(folder.glob(f"{name}.tar.gz.part*"), key=lambda p: int(p.suffix[5:]))
        assert len(parts) >= 2 and all(p.stat().st_size <= 2**20 for p in parts)
        archive = tmp_path / f"{name}.tar.gz"
        archive.write_bytes(b"".join(p.read_bytes() for p in parts))
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        for seed in (0, 1):
            model_dir = unpacked / name / f"infogan_cr_s{seed}"
            model = load_model(model_dir)
            assert model.kind == "gan" and model.latent_dim == 10
            weights = onnx.load(str(model_dir / "generator.onnx")).graph.initializer
            assert any(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    variants = {
        json.loads((unpacked / zoo / "infogan_cr_s0" / "model.json").read_text())["training"][
            "variant"
        ]
        for zoo in ("infogan_cr_gpu", "infogan_cr_gpu_modified")
    }
    assert variants == {"InfoGAN-CR", "InfoGAN (modified)"}


def test_gpu_preset_fits_the_device_call_and_matches_the_docs():
    from modelcentrality.reference_models.zoo_job import load_spec, model_plan

    for zoo, method in (("infogan-cr-gpu", "infogan-cr"), ("factorvae-gpu", "factorvae")):
        spec = load_spec(zoo)
        assert spec["method"] == method and len(model_plan(spec)) >= 24
        config = presets.make_config(method, "gpu")
        assert presets.estimated_gpu_seconds(config) <= 200, zoo
    infogan = presets.make_config("infogan-cr", "gpu")
    assert abs(infogan.cr_start / infogan.iterations - 288_000 / 322_560) < 1 / infogan.iterations
    assert presets.make_config("factorvae", "gpu").iterations >= presets.DSPRITES_EPOCH_AT_64
    text = (ROOT / "docs" / "training.md").read_text()
    block = text.split("<!-- presets:begin -->\n")[1].split("\n<!-- presets:end -->")[0]
    assert block.strip() == presets.preset_table(("paper", "cpu", "gpu"))


@pytest.mark.slow
def test_train_models_with_device_draws_exports_its_models(tmp_path):
    bank = DeviceImages(
        (np.random.default_rng(1).random((40, 64, 64)) < 0.1).astype(np.uint8),
        torch.device("cpu"),
    )
    outs = [tmp_path / "zoo" / f"b{seed}" for seed in (0, 1)]
    results = train_models(
        "beta-vae",
        outs,
        [0, 1],
        preset="cpu",
        overrides=[{"iterations": 2, "batch_size": 4, "beta": b} for b in (1, 8)],
        data="dsprites",
        device="cpu",
        draws="device",
        images=bank,
    )
    assert [r.out_dir for r in results] == outs
    for out, beta in zip(outs, (1.0, 8.0)):
        record = json.loads((out / "model.json").read_text())["training"]
        assert record["grouped"]["draws"] == "device" and record["settings"]["beta"] == beta
        assert load_model(out).kind == "vae"
