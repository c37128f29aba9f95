"""Grouped ensemble training: K models of one trainer trained at once as one network.

Why this design
---------------
Each of the K models stays an ordinary single-model trainer (:class:`~.training.Trainer`):
its modules give the initial weights, and its checkpoints and exports are written by the
single-model code (:meth:`GroupedTrainer.pull` copies model k's weights and optimiser
state back into it first). For training, :class:`GroupedTrainer` stacks the K copies of
each module with ``torch.func.stack_module_state`` (every parameter and buffer gains a
leading model axis K) and runs the *same* module classes through
``torch.vmap(torch.func.functional_call)``. So there is no second copy of the
architecture, and under vmap:

- a linear layer becomes one batched matmul and a convolution one grouped convolution
  (groups = K) over the channel-stacked models: the K models run as one network;
- batch norm normalises each model's batch with that model's statistics and updates
  that model's running statistics (the buffers are stacked too);
- spectral norm runs one power iteration per forward on each model's own u and v
  vectors. torch's implementation writes them with ``out=``, which vmap cannot batch,
  so the vmapped copy of a module uses :class:`_VmapSpectralNorm`: the same arithmetic,
  written with ``copy_``.

The loss of the group is the sum of the K models' losses; no model's loss depends on
another model's weights, so the gradient with respect to model k's weights is exactly
model k's own gradient. One ``torch.optim.Adam`` over the stacked parameters is K
independent Adams, because Adam is elementwise (per-element moments; the step count is
shared, and equal, since every model steps together). Hence a grouped run computes what
K single-model runs compute, up to float rounding (batched kernels sum in another order);
``tests/test_grouped_training.py`` checks weights, buffers, Adam moments and losses after
a few iterations. Rounding stays at rounding level for the VAEs (Adam at lr 1e-4). For
InfoGAN-CR (lr 1e-3 and 2e-3), Adam's first steps move every weight by about +-lr
whatever the size of its gradient, so a gradient that is zero up to rounding can move a
weight either way and the two runs drift apart as runs on two machines would; the test
therefore compares InfoGAN-CR at small learning rates.

Models can share a group when their settings differ only in per-model loss weights
(:data:`PER_MODEL_SETTINGS`: gamma of FactorVAE, beta of beta-VAE, the Q weight of
InfoGAN-CR) and they are at the same iteration; :func:`group_key` tells.

Random draws (``draws``)
------------------------
- ``"numpy"``: model k's draws of iteration t come from
  ``numpy.random.default_rng([seed_k, t])``, by the single-model trainer's own
  ``draw`` method, stacked and copied to the device. A grouped model then equals the
  single-model run of its seed. This costs host time every step (K image batches), so
  it is the default on CPU only.
- ``"device"``: draws are made on the device, from one ``torch.Generator`` per model that
  is reseeded at every iteration from (seed_k, t), so checkpoints need no RNG state and
  a resumed run equals an uninterrupted one; images are gathered from the whole data
  set held on the device as uint8 (:class:`DeviceImages`). No step waits on the host.
  The default on CUDA. Such a model is a run of the same trainer with another random
  stream than the numpy one, and it does not depend on which models share its group.

Losses stay on the device; the loop reads them every ``log_every`` iterations (and at
checkpoints), which is also when a diverged model is detected.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrizations

from .._progress import ProgressBar
from ..errors import ModelCentralityError
from ..io._zoo import METADATA_FILE
from .infogan_cr import (
    InfoGANCRTrainer,
    discriminator_gan_loss,
    generator_gan_loss,
    q_loss,
)
from .presets import InfoGANCRConfig, make_config
from .train import TRAINERS, TrainResult, default_checkpoint, make_data, modified_folder
from .training import (
    RUN_ONLY_SETTINGS,
    DataFn,
    Trainer,
    load_checkpoint,
    save_checkpoint,
    step_rng,
)
from .vae import (
    BetaVAETrainer,
    FactorVAETrainer,
    bernoulli_nll,
    gaussian_kl,
    permute_dims,
    tc_discriminator_loss,
    tc_estimate,
)

#: Settings that may differ between the models of one group: they only weight a loss term.
PER_MODEL_SETTINGS: dict[str, tuple[str, ...]] = {
    "infogan-cr": ("q_weight",),
    "factorvae": ("tc_weight",),
    "beta-vae": ("beta",),
}
DRAWS = ("numpy", "device")


def resolve_draws(draws: str | None, device: str | torch.device) -> str:
    """``draws``, or its default on ``device``: "device" on CUDA, else "numpy"."""
    if draws is None:
        return "device" if torch.device(device).type == "cuda" else "numpy"
    if draws not in DRAWS:
        raise ValueError(f"draws must be one of {DRAWS}, got {draws!r}")
    return draws


def group_key(method: str, settings: dict[str, Any]) -> tuple:
    """Models whose keys are equal can be trained in one group (same method, settings
    equal except :data:`PER_MODEL_SETTINGS` and run-only ones)."""
    skip = set(PER_MODEL_SETTINGS[method]) | set(RUN_ONLY_SETTINGS)
    return (method, *sorted((k, v) for k, v in settings.items() if k not in skip))


class _VmapSpectralNorm(parametrizations._SpectralNorm):
    """torch's spectral norm with its power iteration written with ``copy_`` instead of
    ``out=`` (which vmap cannot batch); the values are the same."""

    @torch.no_grad()
    def _power_method(self, weight_mat: torch.Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps))


class StackedModule:
    """K copies of one module as stacked tensors, called with a leading model axis.

    Parameters
    ----------
    modules : sequence of nn.Module
        K modules of one architecture (same class and settings), in training or eval mode.
    device : torch.device

    Attributes
    ----------
    params, buffers : dict of str to Tensor
        Every parameter and buffer of the modules stacked on axis 0, shape (K, ...), keyed
        as in ``named_parameters`` and ``named_buffers``; the parameters are the leaves
        that the grouped optimiser updates.
    """

    def __init__(self, modules: Sequence[nn.Module], device: torch.device) -> None:
        self.template = copy.deepcopy(modules[0])
        for layer in self.template.modules():
            if type(layer) is parametrizations._SpectralNorm:
                layer.__class__ = _VmapSpectralNorm
        params, buffers = stack_module_state(list(modules))
        self.params = {k: v.detach().to(device).requires_grad_(True) for k, v in params.items()}
        self.buffers = {k: v.detach().to(device) for k, v in buffers.items()}
        self._vmapped = vmap(self._forward)

    def _forward(
        self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], *inputs: Any
    ) -> Any:
        return functional_call(self.template, (params, buffers), inputs)

    def __call__(self, *inputs: torch.Tensor, frozen: bool = False) -> Any:
        """The K modules on their own inputs: each input is (K, B, ...), each output too.

        ``frozen`` detaches the weights (gradients still flow to the inputs), as
        ``requires_grad_(False)`` does in the single-model trainers.
        """
        params = {k: v.detach() for k, v in self.params.items()} if frozen else self.params
        return self._vmapped(params, self.buffers, *inputs)

    def compile(self, **options: Any) -> None:
        """Wrap the vmapped call in ``torch.compile`` (an option to try on GPUs)."""
        self._vmapped = torch.compile(self._vmapped, **options)

    def state_dict_of(self, k: int) -> dict[str, torch.Tensor]:
        """Model k's state dict (CPU tensors), loadable into one of the modules."""
        return {
            name: value[k].detach().cpu().clone()
            for name, value in {**self.params, **self.buffers}.items()
        }


class DeviceImages:
    """A whole binary image set on the device, as uint8, for on-device batch draws.

    Parameters
    ----------
    images : ndarray or Tensor, uint8 (N, 64, 64) in {0, 1}
    device : torch.device
    """

    def __init__(self, images: np.ndarray | torch.Tensor, device: torch.device) -> None:
        # No copy when the images are already a uint8 tensor on the device.
        self.images = torch.as_tensor(images, dtype=torch.uint8).to(device)

    @classmethod
    def from_dataset(cls, data: str, device: torch.device) -> DeviceImages:
        """All images of plain dSprites (``"dsprites"`` or ``"dsprites:PATH"``), copied
        to the device in chunks so the host never holds two copies (3 GB as uint8)."""
        from ..datasets import DSprites, get_dataset

        dataset = get_dataset(data)
        if type(dataset) is not DSprites:
            raise ModelCentralityError(
                f"device draws need the plain dsprites images, not '{data}': use draws=numpy"
            )
        # One image per factor combination: 737,280.
        total = int(np.prod(dataset.factor_sizes))
        images = torch.empty((total, 64, 64), dtype=torch.uint8, device=device)
        chunk = 65_536
        for start in range(0, total, chunk):
            index = np.arange(start, min(start + chunk, total))
            images[start : start + len(index)] = torch.from_numpy(dataset.images_at(index))
        return cls(images, device)

    def __len__(self) -> int:
        return len(self.images)

    def gather(self, index: torch.Tensor) -> torch.Tensor:
        """Images at ``index`` (K, B) as float32 (K, B, 1, 64, 64)."""
        return self.images[index].unsqueeze(2).float()


def device_seed(seed: int, step: int) -> int:
    """Seed of model ``seed``'s device generator at iteration ``step`` (key 2 keeps it
    apart from the weight-initialisation streams, keys 0 and 1 of ``seeded_torch``)."""
    return int(np.random.SeedSequence([int(seed), int(step), 2]).generate_state(1)[0])


class GroupedTrainer:
    """K single-model trainers of one method, trained together as one grouped network.

    Parameters
    ----------
    trainers : sequence of Trainer
        Same method, settings equal up to :data:`PER_MODEL_SETTINGS`, same iteration.
        Their modules and optimiser states are copied in (:meth:`push`) and written
        back by :meth:`pull`.
    device : str or torch.device
    draws : {"numpy", "device"} or None
        Source of random draws (see the module docstring); None: "device" on CUDA,
        else "numpy".
    images : DeviceImages, optional
        The data on the device; required for device draws.
    bf16 : bool
        Run the forward passes under bfloat16 autocast (faster on recent GPUs; the
        models then no longer equal float32 single-model runs).
    """

    method: str

    def __init__(
        self,
        trainers: Sequence[Trainer],
        device: str | torch.device = "cpu",
        draws: str | None = None,
        images: DeviceImages | None = None,
        bf16: bool = False,
    ) -> None:
        self.trainers = list(trainers)
        if not self.trainers:
            raise ValueError("a group needs at least one trainer")
        first = self.trainers[0]
        key = group_key(first.method, vars(first.config))
        for trainer in self.trainers:
            if (
                type(trainer) is not type(first)
                or group_key(trainer.method, vars(trainer.config)) != key
            ):
                raise ValueError(
                    "the trainers of a group must differ only in seed and loss weights"
                )
            if trainer.step != first.step:
                raise ValueError("the trainers of a group must be at the same iteration")
        self.config = first.config
        self.device = torch.device(device)
        self.draws = resolve_draws(draws, self.device)
        if self.draws == "device" and images is None:
            raise ValueError("device draws need the images on the device (DeviceImages)")
        self.images = images
        self.step = first.step
        self.seeds = [t.seed for t in self.trainers]
        self.bf16 = bf16
        #: Per-model loss weights, (K,) on the device.
        self.weights = {
            name: torch.tensor(
                [float(getattr(t.config, name)) for t in self.trainers], device=self.device
            )
            for name in PER_MODEL_SETTINGS[first.method]
        }
        # Which (module, parameter) each single-model optimiser updates, in its order, so
        # optimiser states map one to one between the single and the grouped optimisers.
        owner = {
            id(p): (module_name, param_name)
            for module_name, module in first.modules.items()
            for param_name, p in module.named_parameters()
        }
        self._opt_params = {
            name: [owner[id(p)] for group in opt.param_groups for p in group["params"]]
            for name, opt in first.optimizers.items()
        }
        self._generators = (
            [torch.Generator(device=self.device) for _ in self.trainers]
            if self.draws == "device"
            else []
        )
        self.stacks: dict[str, StackedModule] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.push()

    @property
    def size(self) -> int:
        """K, the number of models."""
        return len(self.trainers)

    def push(self) -> None:
        """Copy every trainer's modules and optimiser states into the group."""
        for name in self.trainers[0].modules:
            self.stacks[name] = StackedModule([t.modules[name] for t in self.trainers], self.device)
        for name, keys in self._opt_params.items():
            singles = [t.optimizers[name] for t in self.trainers]
            hyper = {
                k: v
                for k, v in singles[0].param_groups[0].items()
                if k in ("lr", "betas", "eps", "weight_decay", "amsgrad")
            }
            params = [self.stacks[m].params[p] for m, p in keys]
            # fused Adam is one kernel for every tensor on CUDA; elementwise like the
            # others, so still K independent Adams.
            fused = True if self.device.type == "cuda" else None
            grouped = torch.optim.Adam(params, **hyper, fused=fused)
            states = [opt.state_dict()["state"] for opt in singles]
            if states[0]:
                stacked = {
                    index: {
                        key: (
                            value if key == "step" else torch.stack([s[index][key] for s in states])
                        )
                        for key, value in states[0][index].items()
                    }
                    for index in states[0]
                }
                grouped.load_state_dict(
                    {"state": stacked, "param_groups": grouped.state_dict()["param_groups"]}
                )
            self.optimizers[name] = grouped

    def pull(self) -> None:
        """Copy the group's weights, buffers, optimiser states and iteration back into
        the single-model trainers (for checkpoints, exports and hooks)."""
        grouped_states = {name: opt.state_dict()["state"] for name, opt in self.optimizers.items()}
        for k, trainer in enumerate(self.trainers):
            trainer.step = self.step
            for name, stack in self.stacks.items():
                trainer.modules[name].load_state_dict(stack.state_dict_of(k))
            for name, single in trainer.optimizers.items():
                state = {
                    index: {
                        key: value.detach().cpu().clone()
                        if key == "step"
                        else value[k].detach().cpu().clone()
                        for key, value in entry.items()
                    }
                    for index, entry in grouped_states[name].items()
                }
                single.load_state_dict(
                    {"state": state, "param_groups": single.state_dict()["param_groups"]}
                )

    def before_step(self) -> bool:
        """Run the trainers' hooks (InfoGAN-CR's export and CR re-initialisation at
        ``cr_start``) when they act; True when they did (the loop then checkpoints)."""
        for trainer in self.trainers:
            trainer.step = self.step
        if not any(t.has_hook() for t in self.trainers):
            return False
        self.pull()
        for trainer in self.trainers:
            trainer.before_step()
        self.push()
        return True

    def draw(self) -> dict[str, torch.Tensor]:
        """The K models' random draws of the current iteration, each (K, ...) on the device."""
        if self.draws == "device":
            for generator, seed in zip(self._generators, self.seeds):
                generator.manual_seed(device_seed(seed, self.step))
            return self._device_draws()
        per_model = []
        for trainer in self.trainers:
            trainer.step = self.step
            per_model.append(trainer.draw(step_rng(trainer.seed, self.step)))
        return {
            key: torch.from_numpy(np.stack([d[key] for d in per_model])).to(self.device)
            for key in per_model[0]
        }

    def _per_model(self, draw: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
        """``draw`` from every model's generator, stacked to (K, ...)."""
        return torch.stack([draw(g) for g in self._generators])

    def _device_images(self) -> torch.Tensor:
        n, batch = len(self.images), self.config.batch_size
        index = self._per_model(
            lambda g: torch.randint(n, (batch,), generator=g, device=self.device)
        )
        return self.images.gather(index)

    def _device_draws(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the current iteration (not advancing it) on ``draws``; returns each loss
        as a (K,) tensor on the device, detached."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self._train_step(draws)

    def _train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _update(self, name: str, loss: torch.Tensor) -> None:
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


class GroupedInfoGANCR(GroupedTrainer):
    """InfoGAN-CR models trained together; the step of :class:`~.infogan_cr.InfoGANCRTrainer`
    (same order of module calls, so batch norm statistics and spectral-norm power
    iterations advance as in a single-model run)."""

    method = "infogan-cr"

    @property
    def alpha(self) -> float:
        config: InfoGANCRConfig = self.config
        return config.cr_weight if self.step >= config.cr_start else 0.0

    def _device_draws(self) -> dict[str, torch.Tensor]:
        config: InfoGANCRConfig = self.config
        batch, dims = config.batch_size, config.num_codes + config.num_noise

        def uniform(g: torch.Generator) -> torch.Tensor:
            return torch.rand(batch, dims, generator=g, device=self.device) * 2 - 1

        draws = {"real": self._device_images(), "z": self._per_model(uniform)}
        if self.alpha > 0:
            draws["shared"] = self._per_model(
                lambda g: torch.randint(config.num_codes, (batch,), generator=g, device=self.device)
            )
            draws["z1"], draws["z2"] = self._per_model(uniform), self._per_model(uniform)
            draws["z2"] = share_code_and_noise(
                draws["z1"], draws["z2"], draws["shared"], config.num_codes
            )
        return draws

    def _train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        config: InfoGANCRConfig = self.config
        generator, discriminator, cr = (
            self.stacks[n] for n in ("generator", "discriminator", "cr")
        )
        real, z = draws["real"], draws["z"]
        codes = z[..., : config.num_codes]
        q_weight = self.weights["q_weight"]
        batched_q_loss = vmap(q_loss)
        cross_entropy = vmap(F.cross_entropy)
        alpha = self.alpha
        losses: dict[str, torch.Tensor] = {}
        if alpha > 0:
            z1, z2, shared = draws["z1"], draws["z2"], draws["shared"]
            with torch.no_grad():
                pairs = torch.cat([generator(z1), generator(z2)], dim=2)
            loss_cr = cross_entropy(cr(pairs), shared)
            self._update("cr", loss_cr.sum())
            losses["cr_d"] = loss_cr.detach()

        with torch.no_grad():
            fake = generator(z)
        real_logit, _ = discriminator(real)
        fake_logit, estimates = discriminator(fake)
        loss_gan = vmap(discriminator_gan_loss)(real_logit, fake_logit)
        loss_q = batched_q_loss(estimates, codes)
        self._update("discriminator", (loss_gan + q_weight * loss_q).sum())
        losses["d"] = loss_gan.detach()
        losses["q"] = loss_q.detach()

        for _ in range(config.generator_steps):
            fake_logit, estimates = discriminator(generator(z), frozen=True)
            loss_g = vmap(generator_gan_loss)(fake_logit)
            loss = loss_g + q_weight * batched_q_loss(estimates, codes)
            if alpha > 0:
                pairs = torch.cat([generator(z1), generator(z2)], dim=2)
                loss_cr_g = cross_entropy(cr(pairs, frozen=True), shared)
                loss = loss + alpha * loss_cr_g
            self._update("generator", loss.sum())
        losses["g"] = loss_g.detach()
        if alpha > 0:
            losses["cr_g"] = loss_cr_g.detach()
        return losses


def share_code_and_noise(
    z1: torch.Tensor, z2: torch.Tensor, shared: torch.Tensor, num_codes: int
) -> torch.Tensor:
    """``z2`` with code ``shared`` and every noise dim copied from ``z1``: the CR pairs of
    :func:`~.infogan_cr.sample_cr_pairs` (gap 0), drawn on the device.

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


class _GroupedVAE(GroupedTrainer):
    def _vae_device_draws(self) -> dict[str, torch.Tensor]:
        batch, dims = self.config.batch_size, self.config.latent_dim
        return {
            "images": self._device_images(),
            "noise": self._per_model(
                lambda g: torch.randn(batch, dims, generator=g, device=self.device)
            ),
        }

    def _device_draws(self) -> dict[str, torch.Tensor]:
        return self._vae_device_draws()

    def _reconstruct(
        self, draws: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z (K, B, D), reconstruction loss (K,), KL (K,)), as in the single trainer."""
        images, noise = draws["images"], draws["noise"]
        mean, logvar = self.stacks["encoder"](images)
        z = mean + torch.exp(0.5 * logvar) * noise
        recon = vmap(bernoulli_nll)(self.stacks["decoder"](z), images)
        return z, recon, vmap(gaussian_kl)(mean, logvar)


class GroupedBetaVAE(_GroupedVAE):
    """beta-VAEs trained together; the step of :class:`~.vae.BetaVAETrainer`."""

    method = "beta-vae"

    def _train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        _, recon, kl = self._reconstruct(draws)
        self._update("vae", (recon + self.weights["beta"] * kl).sum())
        return {"recon": recon.detach(), "kl": kl.detach()}


class GroupedFactorVAE(_GroupedVAE):
    """FactorVAEs trained together; the step of :class:`~.vae.FactorVAETrainer`."""

    method = "factorvae"

    def _device_draws(self) -> dict[str, torch.Tensor]:
        batch, dims = self.config.batch_size, self.config.latent_dim
        draws = self._vae_device_draws()
        # Sorting independent uniforms gives a uniformly random permutation per column.
        keys = self._per_model(lambda g: torch.rand(batch, dims, generator=g, device=self.device))
        draws["order"] = keys.argsort(dim=1)
        return draws

    def _train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tc_net = self.stacks["tc"]
        z, recon, kl = self._reconstruct(draws)
        tc = vmap(tc_estimate)(tc_net(z, frozen=True))
        self._update("vae", (recon + kl + self.weights["tc_weight"] * tc).sum())

        z = z.detach()
        product = vmap(permute_dims)(z, draws["order"])
        loss_tc = vmap(tc_discriminator_loss)(tc_net(z), tc_net(product))
        self._update("tc", loss_tc.sum())
        return {
            "recon": recon.detach(),
            "kl": kl.detach(),
            "tc": tc.detach(),
            "tc_d": loss_tc.detach(),
        }


GROUPED: dict[type[Trainer], type[GroupedTrainer]] = {
    InfoGANCRTrainer: GroupedInfoGANCR,
    FactorVAETrainer: GroupedFactorVAE,
    BetaVAETrainer: GroupedBetaVAE,
}


def make_grouped(trainers: Sequence[Trainer], **kwargs: Any) -> GroupedTrainer:
    """The grouped trainer for ``trainers`` (see :class:`GroupedTrainer` for kwargs)."""
    return GROUPED[type(trainers[0])](trainers, **kwargs)


def run_grouped(
    group: GroupedTrainer,
    checkpoints: Sequence[str | os.PathLike],
    *,
    progress: bool | None = None,
    stop_after: int | None = None,
    log_every: int = 200,
    log: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Train a group to ``config.iterations``, checkpointing every model every
    ``config.checkpoint_every`` iterations to its own single-model checkpoint file.

    Parameters
    ----------
    group : GroupedTrainer
    checkpoints : sequence of path-like
        One checkpoint file per model, in the order of ``group.trainers``.
    progress : bool or None
        Progress bar on stderr (None: only on a terminal).
    stop_after : int, optional
        Stop (with checkpoints) once this many iterations are done.
    log_every : int
        Iterations between reads of the losses (each read waits for the device).
    log : callable, optional
        Receives a line with the mean losses at every read.

    Returns
    -------
    dict of str to ndarray (K,)
        The losses of the last iteration run (empty if none ran).

    Raises
    ------
    ModelCentralityError
        A model's loss is not finite (the message names its seed).
    """
    config = group.config
    end = config.iterations if stop_after is None else min(config.iterations, int(stop_after))
    losses: dict[str, torch.Tensor] = {}
    read: dict[str, np.ndarray] = {}

    def read_losses() -> dict[str, np.ndarray]:
        values = {name: value.float().cpu().numpy() for name, value in losses.items()}
        for name, value in values.items():
            bad = np.flatnonzero(~np.isfinite(value))
            if bad.size:
                k = int(bad[0])
                raise ModelCentralityError(
                    f"{group.method} seed {group.seeds[k]}: loss {name} is {value[k]} at "
                    f"iteration {group.step}; training diverged"
                )
        return values

    def save() -> None:
        group.pull()
        for trainer, path in zip(group.trainers, checkpoints):
            save_checkpoint(trainer, path)

    bar = ProgressBar(config.iterations, label=f"{group.method} x{group.size}", enabled=progress)
    bar.update(group.step)
    with bar:
        while group.step < end:
            if group.before_step():
                save()
            losses = group.train_step(group.draw())
            group.step += 1
            checkpoint = group.step % config.checkpoint_every == 0 or group.step == end
            postfix = None
            if group.step % log_every == 0 or checkpoint:
                read = read_losses()
                postfix = " ".join(f"{k}={v.mean():.3g}" for k, v in read.items())
                if log is not None:
                    log(f"{group.method} x{group.size} iteration {group.step}: {postfix}")
            if checkpoint:
                save()
            bar.update(1, postfix)
    return read


def train_grouped(
    method: str,
    out_dirs: Sequence[str | os.PathLike],
    seeds: Sequence[int],
    *,
    preset: str = "paper",
    overrides: Sequence[dict[str, Any] | None] | None = None,
    data: str | DataFn = "dsprites",
    device: str = "cpu",
    draws: str | None = None,
    images: DeviceImages | None = None,
    modified_dirs: Sequence[str | os.PathLike | None] | None = None,
    resume: bool = False,
    keep_checkpoints: bool = False,
    bf16: bool = False,
    progress: bool | None = None,
    stop_after: int | None = None,
    log_every: int = 200,
    log: Callable[[str], None] | None = None,
) -> list[TrainResult]:
    """Train K models of one method together and export each as a zoo model folder.

    The grouped counterpart of :func:`~.train.train_model`: the same folders
    (``ZOO/NAME``, ``ZOO/NAME_modified`` unless ``modified_dirs`` says otherwise, and the
    checkpoint ``ZOO/.checkpoints/NAME.pt``), the same checkpoint format (a model may be
    continued by either trainer) and the same exports; each checkpoint is deleted once
    its model is exported, unless ``keep_checkpoints``.

    Parameters
    ----------
    method : {"infogan-cr", "factorvae", "beta-vae"}
    out_dirs : sequence of path-like
        One model folder per model (K of them).
    seeds : sequence of int
        One seed per model.
    preset : str
    overrides : sequence of dict, optional
        Setting overrides per model; they may differ only in :data:`PER_MODEL_SETTINGS`.
    data : str or callable
        Dataset spec or draw function (numpy draws).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    draws : {"numpy", "device"} or None
        See the module docstring; None: "device" on CUDA, else "numpy".
    images : DeviceImages, optional
        Images already on the device (default: all of ``data``, for device draws).
    modified_dirs : sequence of path-like or None, optional
        InfoGAN-CR only: where each "InfoGAN (modified)" model goes.
    resume : bool
        Continue each model from its checkpoint; every model must then be at the same
        iteration (fresh models at 0).
    keep_checkpoints : bool
    bf16 : bool
        bfloat16 autocast of the forward passes.
    progress, stop_after, log_every, log
        As in :func:`run_grouped`.

    Raises
    ------
    ValueError
        Unknown method, preset or setting, or models that cannot share a group.
    ModelCentralityError
        A model folder already holds a model or a checkpoint exists (without
        ``resume``), a checkpoint belongs to another run, or training diverged.
    """
    out_dirs = [Path(d) for d in out_dirs]
    if len(seeds) != len(out_dirs):
        raise ValueError("give one seed per model folder")
    overrides = list(overrides) if overrides is not None else [None] * len(out_dirs)
    configs = [make_config(method, preset, o) for o in overrides]
    data_fn = make_data(data)
    if method == "infogan-cr" and modified_dirs is None:
        modified_dirs = [modified_folder(d) for d in out_dirs]
    trainers = []
    for k, (out_dir, config, seed) in enumerate(zip(out_dirs, configs, seeds)):
        if (out_dir / METADATA_FILE).exists():
            raise ModelCentralityError(f"{out_dir} already holds a model")
        kwargs = {"modified_dir": modified_dirs[k]} if method == "infogan-cr" else {}
        trainer = TRAINERS[method](config, data_fn, seed, **kwargs)
        checkpoint = default_checkpoint(out_dir)
        if checkpoint.exists():
            if not resume:
                raise ModelCentralityError(
                    f"checkpoint {checkpoint} exists: resume it, or delete it to start over"
                )
            load_checkpoint(trainer, checkpoint)
        trainers.append(trainer)
    device = torch.device(device)
    draws = resolve_draws(draws, device)
    if draws == "device" and images is None:
        if not isinstance(data, str):
            raise ValueError("device draws need a dataset spec, not a draw function")
        images = DeviceImages.from_dataset(data, device)
    group = make_grouped(trainers, device=device, draws=draws, images=images, bf16=bf16)
    for trainer in trainers:
        trainer.run_info = {
            "preset": preset,
            "data": data if isinstance(data, str) else "custom",
            "grouped": {"models": group.size, "draws": draws, "device": device.type, "bf16": bf16},
        }
    checkpoints = [default_checkpoint(d) for d in out_dirs]
    losses = run_grouped(
        group,
        checkpoints,
        progress=progress,
        stop_after=stop_after,
        log_every=log_every,
        log=log,
    )
    results = []
    for k, (trainer, out_dir, checkpoint) in enumerate(zip(trainers, out_dirs, checkpoints)):
        modified = None
        if method == "infogan-cr" and (Path(modified_dirs[k]) / METADATA_FILE).exists():
            modified = Path(modified_dirs[k])
        model_losses = {name: float(value[k]) for name, value in losses.items()}
        if group.step < trainer.config.iterations:
            results.append(TrainResult(None, modified, group.step, model_losses))
            continue
        trainer.export(out_dir, {})
        if not keep_checkpoints:
            checkpoint.unlink(missing_ok=True)
        results.append(TrainResult(out_dir, modified, group.step, model_losses))
    return results
