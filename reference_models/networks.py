"""Networks of the reference models for 64x64 single-channel images (dSprites).

InfoGAN-CR (after the public TensorFlow code of Lin et al., ICML 2020):

- :class:`Generator`: FC 128 -> FC 4*4*64 (ReLU then batch norm) -> transposed convs
  4x4 stride 2 to 8x8x64, 16x16x32, 32x32x32 (LeakyReLU 0.2 then batch norm) -> 64x64x1,
  sigmoid.
- :class:`Discriminator`: trunk of 4x4 stride-2 convs with 32, 32, 64, 64 channels and
  FC 128 (LeakyReLU 0.2, spectral norm everywhere, no batch norm); a real/fake head FC 1
  and a Q head FC 128 -> FC K (spectrally normalised too).
- :class:`CRDiscriminator`: the same trunk on two images stacked on the channel axis,
  then a plain FC K (the logits of "which code was shared").

VAEs (Kim & Mnih's dSprites architecture): :class:`VAEEncoder` (convs 32, 32, 64, 64,
FC 128, ReLU; two FC heads for mean and log-variance), :class:`VAEDecoder` (the mirror,
Bernoulli logits) and :class:`TCDiscriminator` (MLP of LeakyReLU layers, 2 logits).

Every weight starts as N(0, std^2) (std 0.02 in the public code; conv kernels truncated
at two std like TensorFlow's truncated_normal), biases at 0, batch-norm scales at 1.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

IMAGE_SIZE = 64
#: Batch norm as in the public code (TensorFlow decay 0.9 == PyTorch momentum 0.1).
_BN = {"eps": 1e-5, "momentum": 0.1}


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """N(0, std^2) weights (conv kernels truncated at +-2 std), zero biases, unit BN scales.

    Call before :func:`torch.nn.utils.parametrizations.spectral_norm` is applied, so the
    normalised weight starts from these values.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
        elif isinstance(layer, (nn.Linear, nn.ConvTranspose2d)):
            nn.init.normal_(layer.weight, std=std)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)
            continue
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def _apply_spectral_norm(module: nn.Module) -> None:
    for layer in list(module.modules()):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            spectral_norm(layer)


def _down(in_channels: int, out_channels: int) -> nn.Conv2d:
    # kernel 4, stride 2, padding 1 == TensorFlow's "SAME" padding for even sizes.
    return nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1)


def _up(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)


def _conv_trunk(in_channels: int, activation: type[nn.Module], **kwargs) -> list[nn.Module]:
    """4 stride-2 convs (64 -> 4 pixels) then FC 128, each followed by the activation."""
    layers: list[nn.Module] = []
    channels = [in_channels, 32, 32, 64, 64]
    for cin, cout in zip(channels[:-1], channels[1:]):
        layers += [_down(cin, cout), activation(**kwargs)]
    layers += [nn.Flatten(), nn.Linear(64 * 4 * 4, 128), activation(**kwargs)]
    return layers


class Generator(nn.Module):
    """InfoGAN-CR generator: latents (B, D) -> images (B, 1, 64, 64) in [0, 1]."""

    def __init__(self, latent_dim: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 128),
            nn.ReLU(),
            nn.BatchNorm1d(128, **_BN),
            nn.Linear(128, 64 * 4 * 4),
            nn.ReLU(),
            nn.BatchNorm1d(64 * 4 * 4, **_BN),
        )
        layers: list[nn.Module] = []
        for cin, cout in ((64, 64), (64, 32), (32, 32)):
            layers += [_up(cin, cout), nn.LeakyReLU(0.2), nn.BatchNorm2d(cout, **_BN)]
        layers += [_up(32, channels), nn.Sigmoid()]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 64, 4, 4))


class Discriminator(nn.Module):
    """InfoGAN discriminator with Q head: images -> (real/fake logit (B,), codes (B, K))."""

    def __init__(self, num_codes: int = 5, channels: int = 1) -> None:
        super().__init__()
        self.trunk = nn.Sequential(*_conv_trunk(channels, nn.LeakyReLU, negative_slope=0.2))
        self.real_fake = nn.Linear(128, 1)
        self.q = nn.Sequential(nn.Linear(128, 128), nn.LeakyReLU(0.2), nn.Linear(128, num_codes))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        return self.real_fake(features).squeeze(1), self.q(features)

    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The Q head's code estimates (means of a unit-variance Gaussian), shape (B, K)."""
        return self.q(self.trunk(x))


class CRDiscriminator(nn.Module):
    """Contrastive-regulariser discriminator: image pairs (B, 2C, 64, 64) -> logits (B, K)."""

    def __init__(self, num_codes: int = 5, channels: int = 1) -> None:
        super().__init__()
        self.trunk = nn.Sequential(*_conv_trunk(2 * channels, nn.LeakyReLU, negative_slope=0.2))
        self.head = nn.Linear(128, num_codes)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(pairs))


def build_infogan_networks(
    num_codes: int, num_noise: int, init_std: float
) -> tuple[Generator, Discriminator, CRDiscriminator]:
    """Initialised generator, discriminator and CR discriminator (the latter two with
    spectral norm on every layer except the CR discriminator's output layer)."""
    generator = Generator(num_codes + num_noise)
    init_weights(generator, init_std)
    return (
        generator,
        new_discriminator(num_codes, init_std),
        new_cr_discriminator(num_codes, init_std),
    )


def new_discriminator(num_codes: int, init_std: float) -> Discriminator:
    discriminator = Discriminator(num_codes)
    init_weights(discriminator, init_std)
    _apply_spectral_norm(discriminator)
    return discriminator


def new_cr_discriminator(num_codes: int, init_std: float) -> CRDiscriminator:
    cr = CRDiscriminator(num_codes)
    init_weights(cr, init_std)
    _apply_spectral_norm(cr.trunk)
    return cr


class VAEEncoder(nn.Module):
    """Gaussian encoder: images (B, 1, 64, 64) -> (mean (B, D), log-variance (B, D))."""

    def __init__(self, latent_dim: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.trunk = nn.Sequential(*_conv_trunk(channels, nn.ReLU))
        self.mean = nn.Linear(128, latent_dim)
        self.logvar = nn.Linear(128, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(x)
        return self.mean(features), self.logvar(features)


class VAEDecoder(nn.Module):
    """Bernoulli decoder: latents (B, D) -> pixel logits (B, 1, 64, 64)."""

    def __init__(self, latent_dim: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 64 * 4 * 4), nn.ReLU()
        )
        layers: list[nn.Module] = []
        for cin, cout in ((64, 64), (64, 32), (32, 32)):
            layers += [_up(cin, cout), nn.ReLU()]
        layers.append(_up(32, channels))
        self.deconv = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, 64, 4, 4))


class TCDiscriminator(nn.Module):
    """FactorVAE's total-correlation discriminator: latents (B, D) -> logits (B, 2).

    Logit 0 is "drawn from q(z)", logit 1 "drawn from the product of its marginals".
    """

    def __init__(self, latent_dim: int = 10, layers: int = 6, units: int = 1000) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width = latent_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, units), nn.LeakyReLU(0.2)]
            width = units
        blocks.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class CodeEncoder(nn.Module):
    """Export view of a :class:`Discriminator`: images -> Q-head code estimates (B, K)."""

    def __init__(self, discriminator: Discriminator) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator.codes(x)


class SigmoidDecoder(nn.Module):
    """Export view of a :class:`VAEDecoder`: latents -> Bernoulli means in [0, 1]."""

    def __init__(self, decoder: VAEDecoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))


def baked_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state with every parametrised weight replaced by its current value.

    The value is computed in eval mode, where a spectral norm uses its stored
    power-iteration vectors: exactly what the trained module computes at inference.
    """
    was_training = module.training
    module.eval()
    try:
        state = {}
        with torch.no_grad():
            for key, value in module.state_dict().items():
                if ".parametrizations." not in key:
                    state[key] = value.clone()
                elif key.endswith(".original"):
                    owner, _, rest = key.partition(".parametrizations.")
                    name = rest.split(".")[0]
                    state[f"{owner}.{name}"] = getattr(module.get_submodule(owner), name).clone()
        return state
    finally:
        module.train(was_training)


def frozen_copy(module: nn.Module, factory: Callable[[], nn.Module]) -> nn.Module:
    """An eval-mode CPU copy of ``module`` without parametrisations, for export.

    Parameters
    ----------
    module : nn.Module
        The trained module (possibly with spectral norms).
    factory : callable
        Builds a plain module of the same architecture (its own initial weights are
        overwritten; torch's global RNG is left untouched).
    """
    with torch.random.fork_rng(devices=[]):
        plain = factory()
    plain.load_state_dict(baked_state_dict(module))
    return plain.cpu().eval()
