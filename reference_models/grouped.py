"""K models of one method trained at once as one network; K = 1 is a single model.

Why this design
---------------
Each of the K models is an ordinary :class:`~.training.Trainer`: its modules give the
initial weights, and its checkpoints and exports are written from it
(:meth:`GroupedTrainer.pull` copies model k's weights and optimiser state back into it
first). For training, :class:`GroupedTrainer` stacks the K copies of each module with
``torch.func.stack_module_state`` (every parameter and buffer gains a leading model axis
K) and runs the *same* module classes through ``torch.vmap(torch.func.functional_call)``;
the method's iteration (:meth:`~.training.Trainer.group_step`) is written once, for K
models. So there is no second copy of the architecture or of the step, and under vmap:

- a linear layer becomes one batched matmul and a convolution one grouped convolution
  (groups = K) over the channel-stacked models: the K models run as one network;
- batch norm normalises each model's batch with that model's statistics and updates
  that model's running statistics (the buffers are stacked too);
- spectral norm runs one power iteration per forward on each model's own u and v
  vectors. torch's implementation writes them with ``out=``, which vmap cannot batch,
  so the vmapped copy of a module uses :class:`_VmapSpectralNorm`: the same arithmetic,
  written with ``copy_``.

A group of one model (``modelcentrality train``, ``train-zoo`` without ``--device``)
calls the modules and the loss functions on model 0's slice of the stacked tensors
without vmap (:func:`over_models`, :class:`StackedModule`): the plain module's
arithmetic, to the bit, without vmap's cost (a group of one under vmap took 4-29 % longer
per iteration than the plain module on a 2-core CPU,
benchmarks/results/train_throughput_cpu.json).

The loss of the group is the sum of the K models' losses; no model's loss depends on
another model's weights, so the gradient with respect to model k's weights is exactly
model k's own gradient. One ``torch.optim.Adam`` over the stacked parameters is K
independent Adams, because Adam is elementwise (per-element moments; the step count is
shared, and equal, since every model steps together). Hence a group of K computes what
K groups of one compute, up to float rounding (batched kernels sum in another order);
``tests/reference_models/test_grouped_training.py`` checks weights, buffers, Adam
moments and losses after a few iterations. Rounding stays at rounding level for the
VAEs (Adam at lr 1e-4). For
InfoGAN-CR (lr 1e-3 and 2e-3), Adam's first steps move every weight by about +-lr
whatever the size of its gradient, so a gradient that is zero up to rounding can move a
weight either way and the two runs drift apart as runs on two machines would; the test
therefore compares InfoGAN-CR at small learning rates.

Models can share a group when their settings differ only in per-model loss weights
(:attr:`~.training.Trainer.per_model_settings`: gamma of FactorVAE, beta of beta-VAE,
the Q weight of InfoGAN-CR) and they are at the same iteration; :func:`group_key` tells.

Random draws (``draws``)
------------------------
- ``"numpy"``: model k's draws of iteration t come from
  ``numpy.random.default_rng([seed_k, t])``, by the trainer's own ``draw`` method,
  stacked and copied to the device. A model then equals its run in a group of one.
  This costs host time every step (K image batches), so it is the default on CPU only.
- ``"device"``: draws are made on the device (the trainer's ``group_device_draws``), from
  one ``torch.Generator`` per model that is reseeded at every iteration from (seed_k, t),
  so checkpoints need no RNG state and a resumed run equals an uninterrupted one; images
  are gathered from the whole data set held on the device as uint8
  (:class:`DeviceImages`). No step waits on the host. The default on CUDA. Such a model
  is a run of the same trainer with another random stream than the numpy one, and it
  does not depend on which models share its group.

Losses stay on the device; the loop (:func:`~.training.run_training`) reads them every
``log_every`` iterations (and at checkpoints), which is also when a diverged model is
detected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn.utils import parametrizations

from ..errors import ModelCentralityError, ParameterError
from .training import RUN_ONLY_SETTINGS, Trainer, step_rng

DRAWS = ("numpy", "device")


def resolve_draws(draws: str | None, device: str | torch.device) -> str:
    """``draws``, or its default on ``device``: "device" on CUDA, else "numpy"."""
    if draws is None:
        return "device" if torch.device(device).type == "cuda" else "numpy"
    if draws not in DRAWS:
        raise ParameterError(f"draws must be one of {DRAWS}, got {draws!r}")
    return draws


def group_key(trainer_class: type[Trainer], settings: dict[str, Any]) -> tuple:
    """Models whose keys are equal can be trained in one group (same trainer, settings
    equal except its ``per_model_settings`` and run-only ones)."""
    skip = set(trainer_class.per_model_settings) | set(RUN_ONLY_SETTINGS)
    return (trainer_class.method, *sorted((k, v) for k, v in settings.items() if k not in skip))


def over_models(function: Callable[..., Any], size: int) -> Callable[..., Any]:
    """``function`` of one model's tensors, applied to each of ``size`` models' tensors.

    Every argument and output (a tensor, or a tuple of tensors) has a leading model axis
    of length ``size``. For ``size`` > 1 this is ``vmap(function)``; for one model,
    ``function`` on the model's slice with the model axis put back on its outputs: the
    plain call, without vmap.
    """
    if size > 1:
        return vmap(function)

    def one_model(*args: torch.Tensor) -> Any:
        return _with_model_axis(function(*(a[0] for a in args)))

    return one_model


def _with_model_axis(outputs: Any) -> Any:
    if isinstance(outputs, tuple):
        return tuple(o.unsqueeze(0) for o in outputs)
    return outputs.unsqueeze(0)


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
        self.size = len(modules)
        self._run = vmap(self._forward) if self.size > 1 else self._forward
        # One model: its weights as views made once, so that every use of a weight in an
        # iteration adds its gradient at one node, in the order a plain module adds
        # them at the parameter; a group of one then computes what the plain module
        # computes, to the bit. (A view per call would sum them in another order.)
        self._model0 = (
            {k: v[0] for k, v in self.params.items()},
            {k: v.detach()[0] for k, v in self.params.items()},
            {k: v[0] for k, v in self.buffers.items()},
        )

    def _forward(
        self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], *inputs: Any
    ) -> Any:
        return functional_call(self.template, (params, buffers), inputs)

    def __call__(self, *inputs: torch.Tensor, frozen: bool = False) -> Any:
        """The K modules on their own inputs: each input is (K, B, ...), each output too.

        ``frozen`` detaches the weights (gradients still flow to the inputs), as
        ``requires_grad_(False)`` does in the single-model trainers.
        """
        if self.size == 1:
            params, detached, buffers = self._model0
            outputs = self._run(detached if frozen else params, buffers, *(x[0] for x in inputs))
            return _with_model_axis(outputs)
        params = {k: v.detach() for k, v in self.params.items()} if frozen else self.params
        return self._run(params, self.buffers, *inputs)

    def compile(self, **options: Any) -> None:
        """Wrap the module call in ``torch.compile`` (an option to try on GPUs)."""
        self._run = torch.compile(self._run, **options)

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
    """K trainers of one method, trained together as one grouped network (K >= 1).

    Parameters
    ----------
    trainers : sequence of Trainer
        Same method, settings equal up to its ``per_model_settings``, same iteration.
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
            raise ParameterError("a group needs at least one trainer")
        first = self.trainers[0]
        #: The method's trainer class, whose static methods draw and step the group.
        self.trainer_class = type(first)
        self.method = first.method
        key = group_key(self.trainer_class, vars(first.config))
        for trainer in self.trainers:
            if (
                type(trainer) is not self.trainer_class
                or group_key(self.trainer_class, vars(trainer.config)) != key
            ):
                raise ParameterError(
                    "the trainers of a group must differ only in seed and loss weights"
                )
            if trainer.step != first.step:
                raise ParameterError("the trainers of a group must be at the same iteration")
        self.config = first.config
        self.device = torch.device(device)
        self.draws = resolve_draws(draws, self.device)
        if self.draws == "device" and images is None:
            raise ParameterError("device draws need the images on the device (DeviceImages)")
        self.images = images
        self.step = first.step
        self.seeds = [t.seed for t in self.trainers]
        self.bf16 = bf16
        #: Per-model loss weights, (K,) on the device.
        self.weights = {
            name: torch.tensor(
                [float(getattr(t.config, name)) for t in self.trainers], device=self.device
            )
            for name in self.trainer_class.per_model_settings
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
            return self.trainer_class.group_device_draws(self)
        per_model = []
        for trainer in self.trainers:
            trainer.step = self.step
            per_model.append(trainer.draw(step_rng(trainer.seed, self.step)))
        return {
            key: torch.from_numpy(np.stack([d[key] for d in per_model])).to(self.device)
            for key in per_model[0]
        }

    def draw_each(self, draw: Callable[[torch.Generator], torch.Tensor]) -> torch.Tensor:
        """``draw`` from every model's device generator, stacked to (K, ...)."""
        return torch.stack([draw(g) for g in self._generators])

    def device_images(self) -> torch.Tensor:
        """A batch of images per model from the device data, float32 (K, B, 1, 64, 64)."""
        n, batch = len(self.images), self.config.batch_size
        index = self.draw_each(
            lambda g: torch.randint(n, (batch,), generator=g, device=self.device)
        )
        return self.images.gather(index)

    def per_model(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` of one model's tensors applied to every model's (see
        :func:`over_models`), e.g. a loss (B, ...) -> () becoming (K, B, ...) -> (K,)."""
        return over_models(function, self.size)

    def train_step(self, draws: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the current iteration (not advancing it) on ``draws``; returns each loss
        as a (K,) tensor on the device, detached."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.trainer_class.group_step(self, draws)

    def update(self, name: str, loss: torch.Tensor) -> None:
        """One step of optimiser ``name`` on ``loss``, the sum of the K models' losses."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
