"""Bring your own models: from_vae/from_gan conventions, the export check, `inspect` on zoos."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import distributions, nn  # noqa: E402

from modelcentrality import (  # noqa: E402
    Categorical,
    MixedPrior,
    Prior,
    load_model,
    load_zoo,
    rank,
)
from modelcentrality.adapters import (  # noqa: E402
    TorchModel,
    export_model,
    export_torch_model,
    from_gan,
    from_vae,
)
from modelcentrality.baselines import (  # noqa: E402
    KL_THRESHOLD,
    encode_representation,
    udr_for_models,
)
from modelcentrality.cli import main  # noqa: E402
from modelcentrality.errors import ModelError, ParameterError  # noqa: E402
from modelcentrality.execution import model_spec, open_model  # noqa: E402
from modelcentrality.testing import check_model  # noqa: E402

LATENT = 3
SHAPE = (1, 6, 6)
PIXELS = int(np.prod(SHAPE))
TINY = {"votes": 20, "group_size": 10, "scale_samples": 200, "n_boot": 0}


class TinyVAE(nn.Module):
    """A linear VAE; each method returns its posterior or images in another convention."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.encoder = nn.Linear(PIXELS, 2 * LATENT)
        self.decoder = nn.Linear(LATENT, PIXELS)

    def posterior(self, x):
        mean, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mean, logvar

    def encode_concat(self, x):
        return self.encoder(x.flatten(1))

    def encode_interleaved(self, x):
        return torch.stack(self.posterior(x), dim=2).flatten(1)

    def encode_normal(self, x):
        mean, logvar = self.posterior(x)
        return distributions.Normal(mean, torch.exp(0.5 * logvar))

    def encode_fields(self, x):
        mean, logvar = self.posterior(x)
        return types.SimpleNamespace(embedding=mean, log_covariance=logvar)

    def encode_dict(self, x):
        mean, logvar = self.posterior(x)
        return {"z_mu": mean, "z_sigma": torch.exp(0.5 * logvar)}

    def decode_logits(self, z):
        return self.decoder(z).reshape(-1, *SHAPE)

    def decode(self, z):
        return torch.sigmoid(self.decode_logits(z))

    def decode_bernoulli(self, z):
        return distributions.Bernoulli(logits=self.decode_logits(z))

    def decode_tanh(self, z):
        return torch.tanh(self.decode_logits(z) / 2)

    def decode_channels_last(self, z):
        return self.decode(z).permute(0, 2, 3, 1)

    def encode_channels_last(self, x):
        assert x.shape[-1] == 1, "expects (B, H, W, C)"
        return self.posterior(x.permute(0, 3, 1, 2))


def _expected(vae: TinyVAE, observations: np.ndarray):
    with torch.no_grad():
        mean, logvar = vae.posterior(torch.from_numpy(observations))
    return mean.numpy(), logvar.numpy()


def _roundtrip(model: TorchModel, tmp_path: Path) -> None:
    """The model keeps the contract, travels, and its ONNX export computes the same."""
    check_model(model)
    folder = export_torch_model(model, tmp_path / model.name)
    exported = load_model(folder)
    latents = model.sample_prior(5, 1)
    observations = model.generate(latents)
    np.testing.assert_allclose(exported.generate(latents), observations, atol=1e-5)
    codes, logvar = model.encode_with_logvar(observations)
    onnx_codes, onnx_logvar = exported.encode_with_logvar(observations)
    np.testing.assert_allclose(onnx_codes, codes, atol=1e-5)
    assert (onnx_logvar is None) == (logvar is None)
    if logvar is not None:
        np.testing.assert_allclose(onnx_logvar, logvar, atol=1e-5)


@pytest.mark.parametrize(
    ("method", "encoder_output"),
    [
        ("posterior", "auto"),
        ("encode_concat", "concat"),
        ("encode_interleaved", "interleaved"),
        ("encode_normal", "auto"),
        ("encode_fields", "auto"),
        ("encode_dict", {"mean": "z_mu", "std": "z_sigma"}),
    ],
)
def test_every_encoder_convention_gives_the_mean_and_log_variance(tmp_path, method, encoder_output):
    vae = TinyVAE()
    model = from_vae(
        getattr(vae, method), vae.decode, latent_dim=LATENT, name=method,
        encoder_output=encoder_output,
    )
    observations = model.generate(model.sample_prior(4, 0))
    codes, logvar = model.encode_with_logvar(observations)
    mean, expected_logvar = _expected(vae, observations)
    np.testing.assert_allclose(codes, mean, atol=1e-5)
    np.testing.assert_allclose(logvar, expected_logvar, atol=1e-5)
    _roundtrip(model, tmp_path)


def test_a_concatenated_head_is_questioned_unless_named():
    vae = TinyVAE()
    with pytest.raises(ModelError, match=r"is this \[mean \| logvar\]\?.*encoder_output='concat'"):
        from_vae(vae.encode_concat, vae.decode, latent_dim=LATENT, name="m")
    # Named as codes only, all 2 x latent_dim values are codes.
    model = from_vae(vae.encode_concat, vae.decode, latent_dim=LATENT, name="m",
                     encoder_output="mean")
    codes, logvar = model.encode_with_logvar(model.generate(model.sample_prior(2, 0)))
    assert codes.shape == (2, 2 * LATENT) and logvar is None


@pytest.mark.parametrize(
    ("method", "output"),
    [("decode_logits", "logits"), ("decode_bernoulli", "probs"), ("decode_tanh", "tanh")],
)
def test_decoder_outputs_become_probabilities(tmp_path, method, output):
    vae = TinyVAE()
    model = from_vae(vae.posterior, getattr(vae, method), latent_dim=LATENT, name=method,
                     output=output)
    latents = model.sample_prior(4, 0)
    with torch.no_grad():
        expected = vae.decode(torch.from_numpy(latents)).numpy()
    np.testing.assert_allclose(model.generate(latents), expected, atol=1e-5)
    if output == "tanh":
        # The encoder reads the images back in its own range, [-1, 1].
        mean, _ = _expected(vae, 2 * expected - 1)
        np.testing.assert_allclose(model.encode(expected), mean, atol=1e-5)
    _roundtrip(model, tmp_path)


def test_a_decoder_outside_0_1_gets_a_hint():
    vae = TinyVAE()
    with pytest.raises(ModelError, match=r"outside \[0, 1\]: did you mean output='logits'\?"):
        from_vae(vae.posterior, lambda z: 5 * vae.decode_logits(z), latent_dim=LATENT, name="m")
    with pytest.raises(ModelError, match=r"did you mean output='tanh'\?"):
        from_vae(vae.posterior, vae.decode_tanh, latent_dim=LATENT, name="m")


def test_channels_last_images_are_shown_channels_first(tmp_path):
    vae = TinyVAE()
    model = from_vae(vae.encode_channels_last, vae.decode_channels_last, latent_dim=LATENT,
                     name="nhwc", channels_last=True)
    assert model.observation_shape == SHAPE
    latents = model.sample_prior(4, 0)
    with torch.no_grad():
        expected = vae.decode(torch.from_numpy(latents)).numpy()
    np.testing.assert_allclose(model.generate(latents), expected, atol=1e-6)
    np.testing.assert_allclose(model.encode(expected), _expected(vae, expected)[0], atol=1e-5)
    _roundtrip(model, tmp_path)


def test_channels_last_images_without_the_flag_get_a_hint():
    vae = TinyVAE()
    with pytest.raises(ModelError, match=r"returns \(6, 6, 1\) images: channels last\?"):
        from_vae(vae.encode_channels_last, vae.decode_channels_last, latent_dim=LATENT,
                 name="nhwc")
    # Naming the shape keeps them as they are.
    model = from_vae(vae.encode_channels_last, vae.decode_channels_last, latent_dim=LATENT,
                     name="nhwc", observation_shape=(6, 6, 1))
    assert model.observation_shape == (6, 6, 1)


def test_a_flat_decoder_output_takes_the_observation_shape():
    vae = TinyVAE()
    model = from_vae(vae.posterior, lambda z: vae.decode(z).flatten(1), latent_dim=LATENT,
                     name="flat", observation_shape=SHAPE)
    assert model.generate(model.sample_prior(2, 0)).shape == (2, *SHAPE)
    with pytest.raises(ModelError, match="cannot be reshaped"):
        from_vae(vae.posterior, vae.decode, latent_dim=LATENT, name="m",
                 observation_shape=(1, 5, 5))


class InfoGANDiscriminator(nn.Module):
    """A discriminator with a Q head: (real/fake logit, continuous codes, class logits)."""

    def __init__(self, n_continuous: int, n_classes: int) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.body = nn.Linear(PIXELS, 8)
        self.real = nn.Linear(8, 1)
        self.continuous = nn.Linear(8, n_continuous)
        self.categorical = nn.Linear(8, n_classes)

    def forward(self, x):
        h = torch.relu(self.body(x.flatten(1)))
        return self.real(h), self.continuous(h), self.categorical(h)


class InfoGANGenerator(nn.Module):
    def __init__(self, latent_dim: int) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.linear = nn.Linear(latent_dim, PIXELS)

    def forward(self, z):
        return torch.tanh(self.linear(z)).reshape(-1, *SHAPE)


def test_an_infogan_q_head_gives_continuous_codes_then_class_probabilities(tmp_path):
    # Latents: 2 continuous codes, 2 noise dims, 4 dims read as a categorical code.
    discriminator, generator = InfoGANDiscriminator(2, 4), InfoGANGenerator(8)
    model = from_gan(
        discriminator, generator, latent_dim=8, code_dims=[0, 1], prior=Prior("uniform"),
        name="infogan", encoder_output=("skip", "mean", "logits"), output="tanh",
    )
    observations = model.generate(model.sample_prior(5, 0))
    codes, logvar = model.encode_with_logvar(observations)
    with torch.no_grad():
        _, continuous, logits = discriminator(torch.from_numpy(2 * observations - 1))
    np.testing.assert_allclose(codes[:, :2], continuous.numpy(), atol=1e-5)
    np.testing.assert_allclose(codes[:, 2:], torch.softmax(logits, 1).numpy(), atol=1e-5)
    assert logvar is None
    _roundtrip(model, tmp_path)
    # Two categorical codes in one logits tensor: each is its own softmax.
    split = from_gan(
        discriminator, generator, latent_dim=8, code_dims=[0, 1], prior=Prior("uniform"),
        name="two", encoder_output=("skip", "mean", "logits"), output="tanh", n_classes=[2, 2],
    )
    np.testing.assert_allclose(split.encode(observations)[:, 2:].reshape(5, 2, 2).sum(2), 1.0,
                               atol=1e-6)


def test_a_gan_code_regressor_returning_one_tensor_needs_nothing_named(tmp_path):
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, 2))
    generator = nn.Sequential(nn.Linear(4, PIXELS), nn.Sigmoid(), nn.Unflatten(1, SHAPE))
    model = from_gan(encoder, generator, latent_dim=4, code_dims=[0, 1],
                     prior=Prior("uniform"), name="infogan_cr")
    observations = model.generate(model.sample_prior(3, 0))
    with torch.no_grad():
        expected = encoder(torch.from_numpy(observations)).numpy()
    np.testing.assert_allclose(model.encode(observations), expected, atol=1e-6)
    assert model.kind == "gan"
    _roundtrip(model, tmp_path)


def test_a_tuple_of_three_needs_its_roles_named():
    with pytest.raises(ModelError, match=r"name the role of each.*'skip', 'mean', 'logits'"):
        from_gan(InfoGANDiscriminator(2, 4), InfoGANGenerator(8), latent_dim=8,
                 code_dims=[0, 1], prior=Prior("uniform"), name="g", output="tanh")
    with pytest.raises(ParameterError, match="role"):
        from_gan(InfoGANDiscriminator(2, 4), InfoGANGenerator(8), latent_dim=8,
                 code_dims=[0, 1], prior=Prior("uniform"), name="g", output="tanh",
                 encoder_output=("skip", "codes", "logits"))


def test_a_vae_with_logits_and_no_categorical_prior_is_told_to_pass_a_mixed_prior():
    """A log-variance covers every code unless the prior says which codes are categorical."""
    vae = TinyVAE()
    head = nn.Linear(PIXELS, 3)
    with pytest.raises(ModelError, match=r"model 'joint'.*pass prior=MixedPrior\(\[\(Prior\('n"):
        from_vae(
            lambda x: (*vae.posterior(x), head(x.flatten(1))), vae.decode, latent_dim=LATENT,
            name="joint", encoder_output=("mean", "logvar", "logits"),
        )


# ---------------------------------------------------------------------------------------
# categorical codes: a JointVAE and an InfoGAN with a mixed prior

N_CONT = 3
JOINT_PRIOR = MixedPrior([(Prior("normal"), N_CONT), Categorical(3)])
#: 2 continuous codes, a 4-way categorical code (one-hot, dims 2-5), 2 noise dims.
INFOGAN_PRIOR = MixedPrior([(Prior("uniform"), 2), Categorical(4), (Prior("uniform"), 2)])


class TinyJointVAE(nn.Module):
    """JointVAE-style: ``encode`` returns ``{"cont": [mean, logvar], "disc": [alpha]}``
    (alpha: class probabilities); the decoder reads ``[z | one-hot class]``."""

    def __init__(
        self, seed: int = 0, frozen_classes: bool = False, n_cont: int = N_CONT, n_classes: int = 3
    ) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.body = nn.Linear(PIXELS, 16)
        self.continuous = nn.Linear(16, 2 * n_cont)
        self.discrete = nn.Linear(16, n_classes)
        self.decoder = nn.Linear(n_cont + n_classes, PIXELS)
        if frozen_classes:
            # A discrete head that reads nothing: alpha is 1/3 for every image.
            nn.init.zeros_(self.discrete.weight)
            nn.init.zeros_(self.discrete.bias)

    def encode(self, x):
        hidden = torch.relu(self.body(x.flatten(1)))
        mean, logvar = self.continuous(hidden).chunk(2, dim=1)
        return {"cont": [mean, logvar], "disc": [torch.softmax(self.discrete(hidden), dim=1)]}

    def encode_tuple(self, x):
        latent = self.encode(x)
        return (*latent["cont"], *latent["disc"])

    def decode(self, z):
        return torch.sigmoid(self.decoder(z)).reshape(-1, *SHAPE)


def _jointvae(seed: int = 0, frozen_classes: bool = False) -> TorchModel:
    vae = TinyJointVAE(seed, frozen_classes)
    return from_vae(vae.encode, vae.decode, prior=JOINT_PRIOR, name=f"joint{seed}")


def _infogan(seed: int = 0) -> TorchModel:
    discriminator, generator = InfoGANDiscriminator(2, 4), InfoGANGenerator(8)
    with torch.no_grad():
        for module in (discriminator, generator):
            for parameter in module.parameters():
                parameter.add_(0.1 * seed * torch.randn_like(parameter))
    return from_gan(discriminator, generator, code_dims=[0, 1, 2], prior=INFOGAN_PRIOR,
                    name=f"infogan{seed}", encoder_output=("skip", "mean", "logits"),
                    output="tanh")


def test_a_jointvae_log_variance_covers_the_continuous_means_only():
    model = _jointvae()
    assert model.latent_dim == N_CONT + 3 and model.code_dims == (0, 1, 2, 3)
    codes, logvar = model.encode_with_logvar(model.generate(model.sample_prior(4, 0)))
    assert codes.shape == (4, N_CONT + 3) and logvar.shape == (4, N_CONT)
    np.testing.assert_allclose(codes[:, N_CONT:].sum(1), 1.0, atol=1e-6)
    # The same encoder returning a tuple, its outputs named.
    vae = model.encoder.call.target
    named = from_vae(vae.encode_tuple, vae.decode, prior=JOINT_PRIOR, name="named",
                     encoder_output=("mean", "logvar", "probs"))
    observations = model.generate(model.sample_prior(4, 0))
    for mine, theirs in zip(model.encode_with_logvar(observations),
                            named.encode_with_logvar(observations)):
        np.testing.assert_allclose(theirs, mine, atol=1e-6)


def test_udr_treats_a_jointvae_class_readout_by_its_spread():
    """A class readout that never changes is not informative. Its KL under a padded
    log-variance of 0 would be 0.5 * sum(p^2) / 3 = 1/18 >= 0.01: it would count."""
    models = [_jointvae(0, frozen_classes=True), _jointvae(1), _jointvae(2)]
    observations = models[1].generate(models[1].sample_prior(200, 3))
    codes, kl = encode_representation(models[0], observations)
    assert np.isfinite(kl[:N_CONT]).all() and np.isnan(kl[N_CONT:]).all()
    np.testing.assert_allclose(codes[:, N_CONT:], 1 / 3, atol=1e-6)
    result = udr_for_models(models, observations)
    assert "the other dims with non-zero spread" in result.rules[0]
    assert result.informative[0][N_CONT:].tolist() == [False] * 3
    assert result.informative[1][N_CONT:].tolist() == [True] * 3
    for model, mask in zip(models, result.informative):
        kl = encode_representation(model, observations)[1]
        assert mask[:N_CONT].tolist() == (kl[:N_CONT] >= KL_THRESHOLD).tolist()


def test_an_infogan_categorical_code_follows_the_prior(tmp_path):
    model = _infogan()
    latents = model.sample_prior(6, 0)
    codes = model.encode(model.generate(latents))
    assert codes.shape == (6, 2 + 4)
    np.testing.assert_allclose(codes[:, 2:].sum(1), 1.0, atol=1e-6)
    # n_classes may be given; it must then be the prior's.
    discriminator, generator = InfoGANDiscriminator(2, 4), InfoGANGenerator(8)
    same = from_gan(discriminator, generator, code_dims=[0, 1, 2], prior=INFOGAN_PRIOR,
                    name="same", encoder_output=("skip", "mean", "logits"), output="tanh",
                    n_classes=[4])
    np.testing.assert_allclose(same.encode(model.generate(latents)), codes, atol=1e-6)
    # A class index (one latent dim) is read out by the same 4 logits; export draws
    # whole classes for it.
    index_prior = MixedPrior([(Prior("uniform"), 2), Categorical(4, "index"),
                              (Prior("uniform"), 2)])
    indexed = from_gan(discriminator, InfoGANGenerator(5), code_dims=[0, 1, 2],
                       prior=index_prior, name="index",
                       encoder_output=("skip", "mean", "logits"), output="tanh")
    assert indexed.encode(indexed.generate(indexed.sample_prior(3, 0))).shape == (3, 6)
    export_torch_model(indexed, tmp_path / "index")
    assert load_model(tmp_path / "index").prior == index_prior


@pytest.mark.parametrize("make", [_jointvae, _infogan], ids=["jointvae", "infogan"])
def test_categorical_models_export_check_and_rank(tmp_path, make):
    """Wrap, check_model, export (its self-check draws classes), load, check_model, rank."""
    models = [make(seed) for seed in range(3)]
    check_model(models[0])
    for model in models:
        export_torch_model(model, tmp_path / "zoo" / model.name)
    meta = json.loads((tmp_path / "zoo" / models[0].name / "model.json").read_text())
    assert Prior.from_dict(meta["prior"]) == models[0].prior
    zoo = load_zoo(tmp_path / "zoo")
    check_model(zoo[0], atol=1e-4)
    latents = zoo[0].sample_prior(5, 1)
    observations = models[0].generate(latents)
    np.testing.assert_allclose(zoo[0].generate(latents), observations, atol=1e-5)
    codes, logvar = zoo[0].encode_with_logvar(observations)
    want_codes, want_logvar = models[0].encode_with_logvar(observations)
    np.testing.assert_allclose(codes, want_codes, atol=1e-5)
    assert (logvar is None) == (want_logvar is None)
    if logvar is not None:
        np.testing.assert_allclose(logvar, want_logvar, atol=1e-5)
    result = rank(zoo, random_state=0, **TINY)
    assert sorted(result.ranking) == sorted(m.name for m in models)
    # The wrapped model also travels to worker processes with its class splits.
    rebuilt = open_model(pickle.loads(pickle.dumps(model_spec(models[0]))), threads=1)
    np.testing.assert_allclose(rebuilt.encode(observations), want_codes, atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"discriminator": (2, 3)},
         r"model 'q': the encoder's categorical outputs have 3 columns, but the prior's "
         r"categorical codes \(categorical\(4\) at latent dim 2\) take 4: does the encoder's"),
        ({"code_dims": [0, 1]},
         r"model 'q': .*code_dims name none of the prior's categorical variables "
         r"\(categorical\(4\) at latent dim 2\): add latent dim 2 to code_dims"),
        ({"code_dims": [0, 1, 3]}, r"model 'q': code dim 3 lies inside .* first dim 2"),
        ({"latent_dim": 9}, r"model 'q': the mixed prior .* covers 8 latent dims, latent_dim is 9"),
        ({"n_classes": [3]}, r"model 'q': n_classes=\[3\], but the prior's categorical codes "
                             r"have \[4\] classes .*leave n_classes out"),
        ({"code_dims": [0, 1, 8]}, r"model 'q': code_dims \[8\] out of range"),
    ],
    ids=["head_width", "code_left_out", "inside_one_hot", "latent_dim", "n_classes", "range"],
)
def test_a_wrapper_that_does_not_fit_its_prior_is_one_line_naming_the_model(change, message):
    arguments = {"code_dims": [0, 1, 2], "prior": INFOGAN_PRIOR, "name": "q",
                 "encoder_output": ("skip", "mean", "logits"), "output": "tanh"}
    discriminator = InfoGANDiscriminator(*change.pop("discriminator", (2, 4)))
    arguments.update(change)
    with pytest.raises(ModelError, match=message) as caught:
        from_gan(discriminator, InfoGANGenerator(8), **arguments)
    assert "\n" not in str(caught.value)


def test_the_guide_categorical_examples_run(tmp_path, monkeypatch):
    """docs/bring_your_own.md's JointVAE and InfoGAN blocks, verbatim, on stand-ins."""
    guide = (Path(__file__).parents[2] / "docs" / "bring_your_own.md").read_text()
    section = guide.split("## Categorical codes: JointVAE and InfoGAN")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    namespace = {
        "jointvae": TinyJointVAE(n_cont=10, n_classes=10),
        "discriminator": InfoGANDiscriminator(2, 10),
        "generator": InfoGANGenerator(2 + 10 + 62),
    }
    for block, folder in zip(blocks, ["zoos/my_jointvaes/jointvae_s0",
                                      "zoos/my_infogans/infogan_s0"]):
        exec(compile(block, "bring_your_own.md", "exec"), namespace)
        check_model(load_model(tmp_path / folder), atol=1e-4)
    joint = load_model(tmp_path / "zoos/my_jointvaes/jointvae_s0")
    assert joint.code_dims == (*range(10), 10) and joint.kind == "vae"
    observations = joint.generate(joint.sample_prior(3, 0))
    codes, logvar = joint.encode_with_logvar(observations)
    assert codes.shape == (3, 20) and logvar.shape == (3, 10)
    # The dict was read as (mean, logvar, alpha).
    with torch.no_grad():
        latent = namespace["jointvae"].encode(torch.from_numpy(observations))
    np.testing.assert_allclose(codes[:, 10:], latent["disc"][0].numpy(), atol=1e-5)
    np.testing.assert_allclose(logvar, latent["cont"][1].numpy(), atol=1e-5)
    # The guide's error line, as the library words it.
    expected = re.search(r"\n(model 'infogan_s0': the encoder's categorical .*)\n", section)
    with pytest.raises(ModelError) as caught:
        from_gan(InfoGANDiscriminator(2, 8), namespace["generator"], name="infogan_s0",
                 prior=namespace["prior"], code_dims=[0, 1, 2],
                 encoder_output=("skip", "mean", "logits"), output="tanh")
    assert str(caught.value) == expected.group(1)


def test_export_refuses_a_prior_that_does_not_fit_before_writing(tmp_path):
    discriminator, generator = InfoGANDiscriminator(2, 4), InfoGANGenerator(8)
    contract = {"latent_dim": 8, "code_dims": [0, 1, 2], "prior": INFOGAN_PRIOR,
                "kind": "gan", "observation_shape": SHAPE}
    for change, message in [({"latent_dim": 7}, "covers 8 latent dims, latent_dim is 7"),
                            ({"code_dims": [0, 4]}, "code dim 4 lies inside")]:
        with pytest.raises(ModelError, match=f"model 'bad': .*{message}"):
            export_model(discriminator, generator, tmp_path / "bad", **{**contract, **change})
        assert not (tmp_path / "bad").exists()


def test_a_jointvae_whose_outputs_do_not_fit_gets_a_hint():
    vae = TinyJointVAE()
    with pytest.raises(ModelError, match=r"'probs' output holds values in .* name it 'logits'"):
        from_vae(lambda x: (*vae.encode(x)["cont"], torch.log(vae.encode(x)["disc"][0])),
                 vae.decode, prior=JOINT_PRIOR, name="j",
                 encoder_output=("mean", "logvar", "probs"))
    with pytest.raises(ModelError, match=r"log-variance has 2 entries per sample, its means 3"):
        from_vae(lambda x: (vae.encode(x)["cont"][0], vae.encode(x)["cont"][1][:, :2],
                            vae.encode(x)["disc"][0]),
                 vae.decode, prior=JOINT_PRIOR, name="j",
                 encoder_output=("mean", "logvar", "probs"))
    with pytest.raises(ParameterError, match="latent_dim is required"):
        from_vae(vae.encode_tuple, vae.decode, name="j")
    with pytest.raises(ParameterError, match="prior must be a Prior or a MixedPrior"):
        from_vae(vae.encode, vae.decode, name="j", latent_dim=6, prior="normal")


def test_plain_functions_work_here_and_refuse_to_travel_by_name():
    vae = TinyVAE()
    model = from_vae(lambda x: vae.posterior(x), vae.decode, latent_dim=LATENT, name="fn")
    # The lambda's module is registered: the weights' fingerprint follows training.
    before = model.fingerprint()
    with torch.no_grad():
        vae.encoder.weight.add_(1.0)
    assert model.fingerprint() != before
    check_model(model, check_transport=False)
    with pytest.raises(ModelError, match="model 'fn': the encoder is a lambda"):
        model.to_spec()


def test_methods_of_modules_travel_to_worker_processes():
    """A spec pickles (as for worker processes) and rebuilds the same model."""
    vae = TinyVAE()
    model = from_vae(vae.posterior, vae.decode_logits, latent_dim=LATENT, name="vae",
                     output="logits")
    rebuilt = open_model(pickle.loads(pickle.dumps(model_spec(model))), threads=1)
    latents = model.sample_prior(4, 0)
    np.testing.assert_allclose(rebuilt.generate(latents), model.generate(latents), atol=1e-6)
    observations = model.generate(latents)
    for mine, theirs in zip(model.encode_with_logvar(observations),
                            rebuilt.encode_with_logvar(observations)):
        np.testing.assert_allclose(theirs, mine, atol=1e-6)
    assert rebuilt.fingerprint() == model.fingerprint()


class ShapeBranchEncoder(nn.Module):
    """Computes another thing on a batch of 2, the size the export traces with."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(PIXELS, LATENT)

    def forward(self, x):
        codes = self.linear(x.flatten(1))
        return codes if x.shape[0] == 2 else 2 * codes


def test_export_refuses_graphs_that_differ_from_the_modules(tmp_path):
    generator = nn.Sequential(nn.Linear(LATENT, PIXELS), nn.Sigmoid(), nn.Unflatten(1, SHAPE))
    contract = {"latent_dim": LATENT, "code_dims": [0, 1, 2], "prior": Prior("normal"),
                "kind": "vae", "observation_shape": SHAPE}
    with pytest.raises(ModelError) as error:
        export_model(ShapeBranchEncoder(), generator, tmp_path / "branch", **contract)
    message = str(error.value)
    assert "\n" not in message and "model 'branch'" in message
    assert "encoder.onnx differs from the torch module: largest difference" in message
    assert "output 'codes' on a batch of 1" in message and "traced for one input" in message
    # Nothing is left behind for a zoo to trip on.
    assert not (tmp_path / "branch").exists()
    # The same check passes a faithful export.
    folder = export_model(nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, LATENT)), generator,
                          tmp_path / "fine", **contract)
    assert (folder / "encoder.onnx").is_file() and (folder / "model.json").is_file()


def test_export_metadata_keeps_extra_keys(tmp_path):
    vae = TinyVAE()
    model = from_vae(vae.posterior, vae.decode, latent_dim=LATENT, name="meta")
    folder = export_torch_model(model, tmp_path / "meta", extra_metadata={"beta": 4})
    meta = json.loads((folder / "model.json").read_text())
    assert meta["beta"] == 4 and meta["logvar_output"] == "logvar" and meta["kind"] == "vae"


def _zoo(tmp_path: Path, n: int = 3) -> Path:
    for seed in range(n):
        vae = TinyVAE(seed)
        model = from_vae(vae.posterior, vae.decode, latent_dim=LATENT, name=f"vae{seed}")
        export_torch_model(model, tmp_path / "zoo" / model.name)
    return tmp_path / "zoo"


def test_inspect_on_a_zoo_checks_every_model(tmp_path, capsys):
    zoo = _zoo(tmp_path)
    assert main(["inspect", str(zoo)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["vae0", "vae1", "vae2"]
    assert all("ok  vae, latent_dim 3, 3 codes, prior normal(0, 1)" in line for line in lines[:3])
    assert lines[3] == "ok: all 3 models of the zoo satisfy the contract"

    (zoo / "vae1" / "generator.onnx").write_bytes(b"not onnx")
    (zoo / "empty").mkdir()
    assert main(["inspect", str(zoo)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("empty ") and "error: missing model.json" in lines[0]
    assert lines[2].startswith("vae1 ") and "error:" in lines[2]
    assert lines[1].startswith("vae0 ") and " ok " in lines[1]
    assert captured.err.strip() == (
        f"modelcentrality: error: 2 of the 4 models of {zoo} fail the contract"
    )
    assert main(["inspect", str(zoo), "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert reports["vae0"]["encoding_dim"] == 3 and "error" in reports["vae1"]


def test_inspect_names_a_folder_that_is_neither_model_nor_zoo(tmp_path, capsys):
    assert main(["inspect", str(tmp_path)]) == 1
    assert "is neither a model folder (no model.json) nor a zoo" in capsys.readouterr().err


def test_inspect_warns_about_observations_outside_0_1(tmp_path, capsys):
    generator = nn.Sequential(nn.Linear(LATENT, PIXELS), nn.Unflatten(1, SHAPE))
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, LATENT))
    torch.manual_seed(0)
    export_model(encoder, generator, tmp_path / "logits", latent_dim=LATENT, code_dims=[0],
                 prior=Prior("normal"), kind="gan", observation_shape=SHAPE)
    assert main(["inspect", str(tmp_path / "logits")]) == 0
    assert "warning: observations range over" in capsys.readouterr().out


def test_a_wrapped_zoo_ranks_from_its_folders(tmp_path):
    zoo = load_zoo(_zoo(tmp_path))
    result = rank(zoo, random_state=0, **TINY)
    assert sorted(result.ranking) == ["vae0", "vae1", "vae2"]


@pytest.mark.slow
def test_the_bring_your_own_example_runs(tmp_path):
    """docs/examples/bring_your_own.py: train, wrap, export, rank, report, ground truth."""
    script = Path(__file__).parents[2] / "docs" / "examples" / "bring_your_own.py"
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--quick"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert sorted(summary["ranking"]) == ["vae_beta1", "vae_beta4", "vae_beta8"]
    assert set(summary["ground_truth"]) == set(summary["ranking"])
    assert (tmp_path / "report" / "index.html").is_file()
