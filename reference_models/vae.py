"""FactorVAE (Kim & Mnih, ICML 2018) and beta-VAE (Higgins et al., ICLR 2017) trainers.

Both use a Gaussian encoder, a Bernoulli decoder and a N(0, I) prior over ``latent_dim``
dims; the loss per image is the reconstruction cross-entropy summed over pixels plus the
KL divergence summed over dims, averaged over the batch.

- beta-VAE: recon + beta * KL.
- FactorVAE: recon + KL + gamma * TC, where TC is estimated by a discriminator between
  samples of q(z) and samples with every dim permuted independently across the batch
  (the permute-dims trick): TC ~ mean(logit_q - logit_perm). The discriminator steps
  after the VAE on the same latents (detached) with 0.5 * (CE(q, 0) + CE(perm, 1)).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..adapters.pytorch import export_model
from ..contract import Prior
from .networks import (
    SigmoidDecoder,
    TCDiscriminator,
    VAEDecoder,
    VAEEncoder,
    frozen_copy,
    init_weights,
)
from .presets import FactorVAEConfig
from .training import OBSERVATION_SHAPE, DataFn, Trainer, seeded_torch

if TYPE_CHECKING:
    from .grouped import GroupedTrainer

PRIOR = Prior("normal", 0.0, 1.0)


def permutation_order(batch: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """One random permutation of the batch rows per dim, int64 (batch, dims)."""
    return np.stack([rng.permutation(batch) for _ in range(dims)], axis=1)


def permute_dims(z: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Permute every column of ``z`` (B, D) across the batch by ``order`` (B, D).

    With an independent random permutation per column (:func:`permutation_order`) the
    result has the same marginals as ``z`` but independent dims: a sample of the product
    of q(z)'s marginals.
    """
    return torch.gather(z, 0, order)


def tc_estimate(logits: torch.Tensor) -> torch.Tensor:
    """Total correlation estimated from the TC discriminator's logits (B, 2) on q(z)."""
    return (logits[:, 0] - logits[:, 1]).mean()


def tc_discriminator_loss(joint: torch.Tensor, product: torch.Tensor) -> torch.Tensor:
    """0.5 * (CE(joint, 0) + CE(product, 1)) from logits (B, 2) on q(z) and its
    dim-permuted copy."""
    zeros = torch.zeros(joint.shape[0], dtype=torch.int64, device=joint.device)
    return 0.5 * (F.cross_entropy(joint, zeros) + F.cross_entropy(product, zeros + 1))


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) summed over dims, batch mean."""
    return (0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)).sum(dim=1).mean()


def bernoulli_nll(logits: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Pixel cross-entropy summed over an image, batch mean."""
    return F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / len(images)


class _VAETrainer(Trainer):
    def __init__(self, config: Any, data: DataFn, seed: int) -> None:
        super().__init__(config, data, seed)
        with seeded_torch(self.seed, 0):
            encoder = VAEEncoder(config.latent_dim)
            decoder = VAEDecoder(config.latent_dim)
            init_weights(encoder, config.init_std)
            init_weights(decoder, config.init_std)
        self.modules = {"encoder": encoder, "decoder": decoder}
        params = [*encoder.parameters(), *decoder.parameters()]
        self.optimizers = {
            "vae": torch.optim.Adam(params, lr=config.lr, betas=(config.beta1, config.beta2))
        }

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Every random draw of the current iteration, in this order: images ``images``
        (B, 1, 64, 64) and reparameterisation noise ``noise`` (B, D)."""
        config = self.config
        return {
            "images": self.data(config.batch_size, rng),
            "noise": rng.standard_normal((config.batch_size, config.latent_dim), dtype=np.float32),
        }

    @staticmethod
    def group_device_draws(group: GroupedTrainer) -> dict[str, torch.Tensor]:
        batch, dims = group.config.batch_size, group.config.latent_dim
        return {
            "images": group.device_images(),
            "noise": group.draw_each(
                lambda g: torch.randn(batch, dims, generator=g, device=group.device)
            ),
        }

    @staticmethod
    def _reconstruct(
        group: GroupedTrainer, draws: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z (K, B, D), reconstruction loss (K,), KL (K,)) of every model of ``group``."""
        images, noise = draws["images"], draws["noise"]
        mean, logvar = group.stacks["encoder"](images)
        z = mean + torch.exp(0.5 * logvar) * noise
        recon = group.per_model(bernoulli_nll)(group.stacks["decoder"](z), images)
        return z, recon, group.per_model(gaussian_kl)(mean, logvar)

    def export(self, out_dir: str | os.PathLike, extra_metadata: dict[str, Any]) -> Path:
        """Export encoder -> (mean, logvar), generator = sigmoid(decoder), prior N(0, 1),
        every dim a code, kind "vae"."""
        dims = self.config.latent_dim
        return export_model(
            frozen_copy(self.modules["encoder"], lambda: VAEEncoder(dims)),
            SigmoidDecoder(frozen_copy(self.modules["decoder"], lambda: VAEDecoder(dims))),
            out_dir,
            latent_dim=dims,
            code_dims=list(range(dims)),
            prior=PRIOR,
            kind="vae",
            observation_shape=OBSERVATION_SHAPE,
            extra_metadata={"training": {**self.metadata(), **extra_metadata}},
        )


class BetaVAETrainer(_VAETrainer):
    """Trains one beta-VAE; see :class:`~.presets.BetaVAEConfig`."""

    method = "beta-vae"
    per_model_settings = ("beta",)

    @staticmethod
    def group_step(
        group: GroupedTrainer, draws: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        _, recon, kl = BetaVAETrainer._reconstruct(group, draws)
        group.update("vae", (recon + group.weights["beta"] * kl).sum())
        return {"recon": recon.detach(), "kl": kl.detach()}


class FactorVAETrainer(_VAETrainer):
    """Trains one FactorVAE; see :class:`~.presets.FactorVAEConfig`."""

    method = "factorvae"
    per_model_settings = ("tc_weight",)

    def __init__(self, config: FactorVAEConfig, data: DataFn, seed: int) -> None:
        super().__init__(config, data, seed)
        with seeded_torch(self.seed, 1):
            tc = TCDiscriminator(config.latent_dim, config.tc_layers, config.tc_units)
            init_weights(tc, config.init_std)
        self.modules["tc"] = tc
        self.optimizers["tc"] = torch.optim.Adam(
            tc.parameters(), lr=config.lr_tc, betas=(config.tc_beta1, config.tc_beta2)
        )

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The VAE's draws, then ``order`` (B, D): the dim permutations of the TC step."""
        draws = super().draw(rng)
        draws["order"] = permutation_order(self.config.batch_size, self.config.latent_dim, rng)
        return draws

    @staticmethod
    def group_device_draws(group: GroupedTrainer) -> dict[str, torch.Tensor]:
        batch, dims = group.config.batch_size, group.config.latent_dim
        draws = _VAETrainer.group_device_draws(group)
        # Sorting independent uniforms gives a uniformly random permutation per column.
        keys = group.draw_each(lambda g: torch.rand(batch, dims, generator=g, device=group.device))
        draws["order"] = keys.argsort(dim=1)
        return draws

    @staticmethod
    def group_step(
        group: GroupedTrainer, draws: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """The VAE step (the TC discriminator frozen), then the TC discriminator's step
        on the same latents, detached."""
        tc_net = group.stacks["tc"]
        z, recon, kl = FactorVAETrainer._reconstruct(group, draws)
        tc = group.per_model(tc_estimate)(tc_net(z, frozen=True))
        group.update("vae", (recon + kl + group.weights["tc_weight"] * tc).sum())

        z = z.detach()
        product = group.per_model(permute_dims)(z, draws["order"])
        loss_tc = group.per_model(tc_discriminator_loss)(tc_net(z), tc_net(product))
        group.update("tc", loss_tc.sum())
        return {
            "recon": recon.detach(),
            "kl": kl.detach(),
            "tc": tc.detach(),
            "tc_d": loss_tc.detach(),
        }
