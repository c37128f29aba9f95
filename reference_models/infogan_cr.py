"""InfoGAN-CR (Lin et al., ICML 2020) on 64x64 images, after their public TensorFlow code.

One iteration, in the order of the public code, all on the same latents:

1. CR discriminator step (only once the regulariser is on): cross-entropy of "which code
   do the two images share" on pairs from :func:`sample_cr_pairs`.
2. Discriminator step: BCE(real, fake) + q_weight * Q loss on the fake images.
3. ``generator_steps`` generator steps: -log D(G(z)) + q_weight * Q loss
   + alpha * CR cross-entropy.

The Q loss is the negative log-likelihood of the codes under N(Q(x), 1) without its
constant: 0.5 * squared error summed over codes, averaged over the batch.

alpha is 0 before iteration ``cr_start`` and ``cr_weight`` from then on; at ``cr_start``
the CR discriminator and its optimiser are re-initialised and the model as it stands
(after ``cr_start`` iterations) is exported as "InfoGAN (modified)". The public code also
trains the CR discriminator while alpha is 0, but that network is re-initialised before
it can influence the generator, so the steps are skipped here (same models, less work).
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
    CodeEncoder,
    Discriminator,
    Generator,
    build_infogan_networks,
    frozen_copy,
    new_cr_discriminator,
)
from .presets import InfoGANCRConfig
from .training import OBSERVATION_SHAPE, DataFn, Trainer, seeded_torch

if TYPE_CHECKING:
    from .grouped import GroupedTrainer

PRIOR = Prior("uniform", -1.0, 1.0)
#: Variant names recorded in model.json.
VARIANT_CR = "InfoGAN-CR"
VARIANT_MODIFIED = "InfoGAN (modified)"


def sample_latents(n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    """Latents from the U(-1, 1) prior, float32 (n, latent_dim)."""
    return PRIOR.sample((n, latent_dim), rng)


def sample_cr_pairs(
    n: int, num_codes: int, num_noise: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent pairs for the contrastive regulariser (gap 0).

    For each row a code k is picked uniformly; both latents share code k's value and all
    noise dims, and every other code is drawn independently for each latent.

    Returns
    -------
    z1, z2 : ndarray, float32 (n, num_codes + num_noise)
    shared : ndarray, int64 (n,)
        The shared code k of each pair (the CR discriminator's label).
    """
    shared = rng.integers(0, num_codes, size=n)
    z1 = sample_latents(n, num_codes + num_noise, rng)
    z2 = sample_latents(n, num_codes + num_noise, rng)
    z2[:, num_codes:] = z1[:, num_codes:]
    rows = np.arange(n)
    z2[rows, shared] = z1[rows, shared]
    return z1, z2, shared.astype(np.int64)


def share_code_and_noise(
    z1: torch.Tensor, z2: torch.Tensor, shared: torch.Tensor, num_codes: int
) -> torch.Tensor:
    """``z2`` with code ``shared`` and every noise dim copied from ``z1``: the CR pairs of
    :func:`sample_cr_pairs` (gap 0), drawn on the device.

    Parameters
    ----------
    z1, z2 : Tensor (..., B, D)
        Independent U(-1, 1) latents.
    shared : Tensor, int64 (..., B)
        The code each pair shares.
    num_codes : int
    """
    dims = torch.arange(z1.shape[-1], device=z1.device)
    # Comparisons rather than one_hot, which may check its input on the host (a sync).
    same = (dims == shared.unsqueeze(-1)) | (dims >= num_codes)
    return torch.where(same, z1, z2)


def cr_alpha(config: InfoGANCRConfig, step: int) -> float:
    """Weight of the CR loss in the generator loss at iteration ``step``."""
    return config.cr_weight if step >= config.cr_start else 0.0


def q_loss(estimates: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Unit-variance Gaussian NLL of the codes without its constant, batch mean."""
    return 0.5 * (estimates - codes).pow(2).sum(dim=1).mean()


def discriminator_gan_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor) -> torch.Tensor:
    """BCE of "real" on real images and "fake" on generated ones, logits (B,) -> scalar."""
    return F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()


def generator_gan_loss(fake_logit: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss -log D(G(z)), logits (B,) -> scalar."""
    return F.softplus(-fake_logit).mean()


class InfoGANCRTrainer(Trainer):
    """Trains one InfoGAN-CR model.

    Parameters
    ----------
    config : InfoGANCRConfig
    data : DataFn
        Source of real images.
    seed : int
    modified_dir : path-like, optional
        Where to export the "InfoGAN (modified)" model when the regulariser starts
        (skipped if None or if ``cr_start`` is 0 or >= ``iterations``).
    """

    method = "infogan-cr"
    per_model_settings = ("q_weight",)

    def __init__(
        self,
        config: InfoGANCRConfig,
        data: DataFn,
        seed: int,
        modified_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__(config, data, seed)
        self.modified_dir = None if modified_dir is None else Path(modified_dir)
        self.latent_dim = config.num_codes + config.num_noise
        with seeded_torch(self.seed, 0):
            generator, discriminator, cr = build_infogan_networks(
                config.num_codes, config.num_noise, config.init_std
            )
        self.modules = {"generator": generator, "discriminator": discriminator, "cr": cr}
        betas = (config.beta1, config.beta2)
        self.optimizers = {
            "generator": torch.optim.Adam(
                generator.parameters(), lr=config.lr_generator, betas=betas
            ),
            "discriminator": torch.optim.Adam(
                discriminator.parameters(), lr=config.lr_discriminator, betas=betas
            ),
            "cr": self._cr_optimizer(cr),
        }
        for module in self.modules.values():
            module.train()

    def _cr_optimizer(self, cr: torch.nn.Module) -> torch.optim.Optimizer:
        betas = (self.config.beta1, self.config.beta2)
        return torch.optim.Adam(cr.parameters(), lr=self.config.lr_cr, betas=betas)

    @property
    def alpha(self) -> float:
        """Weight of the CR loss in the generator loss at the current iteration."""
        return cr_alpha(self.config, self.step)

    def has_hook(self) -> bool:
        return self.step == self.config.cr_start and self.config.cr_start != 0

    def before_step(self) -> bool:
        config = self.config
        if not self.has_hook():
            return False
        if self.modified_dir is not None:
            self.export(self.modified_dir, {})
        with seeded_torch(self.seed, 1):
            cr = new_cr_discriminator(config.num_codes, config.init_std).train()
        self.modules["cr"].load_state_dict(cr.state_dict())
        self.optimizers["cr"] = self._cr_optimizer(self.modules["cr"])
        return True

    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Every random draw of the current iteration, in this order: real images
        ``real`` (B, 1, 64, 64), latents ``z`` (B, D) and, once alpha > 0, the CR pairs
        ``z1``, ``z2`` (B, D) and their shared codes ``shared`` (B,)."""
        config = self.config
        batch = config.batch_size
        draws = {
            "real": self.data(batch, rng),
            "z": sample_latents(batch, self.latent_dim, rng),
        }
        if self.alpha > 0:
            draws["z1"], draws["z2"], draws["shared"] = sample_cr_pairs(
                batch, config.num_codes, config.num_noise, rng
            )
        return draws

    @staticmethod
    def group_device_draws(group: GroupedTrainer) -> dict[str, torch.Tensor]:
        """:meth:`draw` on the device: the CR pairs from :func:`share_code_and_noise`."""
        config: InfoGANCRConfig = group.config
        batch, dims = config.batch_size, config.num_codes + config.num_noise

        def uniform(g: torch.Generator) -> torch.Tensor:
            return torch.rand(batch, dims, generator=g, device=group.device) * 2 - 1

        draws = {"real": group.device_images(), "z": group.draw_each(uniform)}
        if cr_alpha(config, group.step) > 0:
            draws["shared"] = group.draw_each(
                lambda g: torch.randint(
                    config.num_codes, (batch,), generator=g, device=group.device
                )
            )
            draws["z1"], draws["z2"] = group.draw_each(uniform), group.draw_each(uniform)
            draws["z2"] = share_code_and_noise(
                draws["z1"], draws["z2"], draws["shared"], config.num_codes
            )
        return draws

    @staticmethod
    def group_step(
        group: GroupedTrainer, draws: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """One iteration in the order of the module docstring; every module is called in
        the same order for each model, so batch-norm statistics and spectral-norm power
        iterations advance as in the public code."""
        config: InfoGANCRConfig = group.config
        generator, discriminator, cr = (
            group.stacks[n] for n in ("generator", "discriminator", "cr")
        )
        real, z = draws["real"], draws["z"]
        codes = z[..., : config.num_codes]
        q_weight = group.weights["q_weight"]
        batched_q_loss = group.per_model(q_loss)
        cross_entropy = group.per_model(F.cross_entropy)
        alpha = cr_alpha(config, group.step)
        losses: dict[str, torch.Tensor] = {}
        if alpha > 0:
            z1, z2, shared = draws["z1"], draws["z2"], draws["shared"]
            with torch.no_grad():
                pairs = torch.cat([generator(z1), generator(z2)], dim=2)
            loss_cr = cross_entropy(cr(pairs), shared)
            group.update("cr", loss_cr.sum())
            losses["cr_d"] = loss_cr.detach()

        with torch.no_grad():
            fake = generator(z)
        real_logit, _ = discriminator(real)
        fake_logit, estimates = discriminator(fake)
        loss_gan = group.per_model(discriminator_gan_loss)(real_logit, fake_logit)
        loss_q = batched_q_loss(estimates, codes)
        group.update("discriminator", (loss_gan + q_weight * loss_q).sum())
        losses["d"] = loss_gan.detach()
        losses["q"] = loss_q.detach()

        for _ in range(config.generator_steps):
            # The discriminators' weights are frozen: only the generator learns here.
            fake_logit, estimates = discriminator(generator(z), frozen=True)
            loss_g = group.per_model(generator_gan_loss)(fake_logit)
            loss = loss_g + q_weight * batched_q_loss(estimates, codes)
            if alpha > 0:
                pairs = torch.cat([generator(z1), generator(z2)], dim=2)
                loss_cr_g = cross_entropy(cr(pairs, frozen=True), shared)
                loss = loss + alpha * loss_cr_g
            group.update("generator", loss.sum())
        losses["g"] = loss_g.detach()
        if alpha > 0:
            losses["cr_g"] = loss_cr_g.detach()
        return losses

    def variant(self) -> str:
        return VARIANT_CR if self.step > self.config.cr_start else VARIANT_MODIFIED

    def export(self, out_dir: str | os.PathLike, extra_metadata: dict[str, Any]) -> Path:
        """Export encoder = trunk + Q head (the K code estimates), generator = G (sigmoid
        output), prior U(-1, 1), code dims 0..K-1, kind "gan"."""
        k = self.config.num_codes
        training = {**self.metadata(), "variant": self.variant(), **extra_metadata}
        return export_model(
            CodeEncoder(frozen_copy(self.modules["discriminator"], lambda: Discriminator(k))),
            frozen_copy(self.modules["generator"], lambda: Generator(self.latent_dim)),
            out_dir,
            latent_dim=self.latent_dim,
            code_dims=list(range(k)),
            prior=PRIOR,
            kind="gan",
            observation_shape=OBSERVATION_SHAPE,
            extra_metadata={"training": training},
        )
