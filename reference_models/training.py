"""One model's training state and the training loop: checkpoints, resume, progress.

Every model trains through the loop :func:`run_training`, which runs a
:class:`~.grouped.GroupedTrainer` of K models of one method (K = 1 for ``train``);
a :class:`Trainer` holds one model's state and defines its method's iteration once.

Determinism: every random draw of iteration ``t`` (data batch, latents, CR pairs,
reparameterisation noise, dim permutations) comes from ``numpy.random.default_rng([seed,
t])`` (or, with on-device draws, from a device generator reseeded from (seed, t)), and
initial weights come from ``torch.manual_seed`` inside a forked torch RNG. So a
checkpoint needs no RNG state: the model, optimiser and iteration counter fully
determine the rest of a run, and a resumed run equals an uninterrupted one on the same
machine and thread count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .._progress import ProgressBar
from ..errors import ModelCentralityError
from ..io import MAX_CHECKPOINT_BYTES, atomic_write, open_regular

if TYPE_CHECKING:
    from .grouped import GroupedTrainer

#: Draws ``n`` training observations, float32 (n, 1, 64, 64) in [0, 1], from a Generator.
DataFn = Callable[[int, np.random.Generator], np.ndarray]

CHECKPOINT_FORMAT = 1
#: Settings that do not change the trained model, so a resumed run may change them.
RUN_ONLY_SETTINGS = ("checkpoint_every",)
OBSERVATION_SHAPE = (1, 64, 64)


def dataset_sampler(dataset: Any) -> DataFn:
    """Training batches from a ground-truth dataset: factors drawn uniformly, which for
    dSprites (one image per factor combination) is uniform sampling of the images."""
    shape = tuple(dataset.observation_shape)
    if shape != OBSERVATION_SHAPE:
        raise ModelCentralityError(
            f"the reference models need {OBSERVATION_SHAPE} observations, "
            f"dataset '{getattr(dataset, 'name', dataset)}' has {shape}"
        )

    def sample(n: int, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(dataset.sample_observations(n, rng), dtype=np.float32)

    return sample


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The Generator of all random draws of one iteration."""
    return np.random.default_rng([int(seed), int(step)])


@contextlib.contextmanager
def seeded_torch(seed: int, *keys: int) -> Iterator[None]:
    """Context in which torch's global RNG is seeded from ``seed`` and ``keys``, and
    restored afterwards (module constructors draw from the global RNG)."""
    words = np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(words[0]))
        yield


class Trainer(ABC):
    """One model of a method: networks, optimisers, settings, seed, iteration counter.

    A trainer holds the state that checkpoints save and exports write; it is trained
    as a member of a :class:`~.grouped.GroupedTrainer` (alone for a single model),
    which runs the method's iteration, :meth:`group_step`, on the stacked models.

    Subclasses set :attr:`method` and :attr:`per_model_settings`, build
    ``self.modules`` and ``self.optimizers`` (dicts by name, saved in checkpoints) and
    implement :meth:`draw`, :meth:`group_device_draws`, :meth:`group_step` and
    :meth:`export`: a new method is one such class and one entry in
    :data:`~.train.TRAINERS`.

    Parameters
    ----------
    config : dataclass
        Settings (see :mod:`~modelcentrality.reference_models.presets`).
    data : DataFn
        Source of training batches.
    seed : int
    """

    method: str
    #: Settings that may differ between the models of one group: they only weight a loss
    #: term, which the group step takes per model from ``group.weights``.
    per_model_settings: tuple[str, ...] = ()

    def __init__(self, config: Any, data: DataFn, seed: int) -> None:
        self.config = config
        self.data = data
        self.seed = int(seed)
        self.step = 0
        #: Extra keys for the training record in model.json (preset, data set...).
        self.run_info: dict[str, Any] = {}
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    @abstractmethod
    def draw(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Every random draw of iteration ``self.step`` for this model, from ``rng``."""

    @staticmethod
    @abstractmethod
    def group_device_draws(group: GroupedTrainer) -> dict[str, torch.Tensor]:
        """The same draws as :meth:`draw` for every model of ``group``, each (K, ...),
        made on the device from the generators of ``group.draw_each``."""

    @staticmethod
    @abstractmethod
    def group_step(
        group: GroupedTrainer, draws: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Run iteration ``group.step`` (not advancing it) of every model of ``group`` on
        ``draws``; returns each loss as a detached (K,) tensor.

        Written once for K models: modules are ``group.stacks[name]`` (inputs and
        outputs (K, B, ...)), per-model functions go through ``group.per_model``, the
        loss weights of :attr:`per_model_settings` are ``group.weights[name]`` (K,), and
        ``group.update(name, loss)`` steps an optimiser on the sum of the K losses.
        """

    @abstractmethod
    def export(self, out_dir: str | os.PathLike, extra_metadata: dict[str, Any]) -> Path:
        """Write the current model as a zoo model folder."""

    def has_hook(self) -> bool:
        """Whether :meth:`before_step` changes anything at the current iteration."""
        return False

    def before_step(self) -> bool:
        """Hook run before each iteration; True asks the loop to checkpoint right away."""
        return False

    def metadata(self) -> dict[str, Any]:
        """Training record stored in model.json."""
        return {
            "method": self.method,
            "seed": self.seed,
            "iterations_done": self.step,
            "settings": dataclasses.asdict(self.config),
            **self.run_info,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.method,
            "seed": self.seed,
            "settings": dataclasses.asdict(self.config),
            "step": self.step,
            "modules": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
        }

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> None:
        """Restore a checkpoint made by the same trainer with the same settings and seed."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ModelCentralityError(f"{where}: unknown checkpoint format {state.get('format')}")
        if state.get("method") != self.method:
            raise ModelCentralityError(
                f"{where} is a {state.get('method')} checkpoint, not {self.method}"
            )
        if state.get("seed") != self.seed:
            raise ModelCentralityError(
                f"{where} was made with seed {state.get('seed')}, not {self.seed}"
            )
        saved = state.get("settings", {})
        mine = dataclasses.asdict(self.config)
        changed = sorted(
            k
            for k in set(saved) | set(mine)
            if saved.get(k) != mine.get(k) and k not in RUN_ONLY_SETTINGS
        )
        if changed:
            detail = ", ".join(f"{k}={saved.get(k)!r} (now {mine.get(k)!r})" for k in changed)
            raise ModelCentralityError(f"{where} was made with other settings: {detail}")
        for key, module in self.modules.items():
            module.load_state_dict(state["modules"][key])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        self.step = int(state["step"])


def save_checkpoint(trainer: Trainer, path: str | os.PathLike) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename): a kill at any
    moment leaves the previous checkpoint or the new one, never a broken file."""
    state = trainer.state_dict()
    atomic_write(path, lambda handle: torch.save(state, handle))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved in a checkpoint file (tensors and plain values only), or a
    one-line ModelCentralityError."""
    try:
        # A regular file of bounded size only (a FIFO would hang, a device never end);
        # torch warns about foreign pickles on stderr, the error below says it in one line.
        with (
            open_regular(path, max_bytes=MAX_CHECKPOINT_BYTES, what="checkpoint") as handle,
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            state = torch.load(handle, map_location="cpu", weights_only=True)
    except ModelCentralityError:
        raise
    except OSError as exc:
        raise ModelCentralityError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except Exception as exc:  # torch raises many types; its message may advise unsafe loading
        raise ModelCentralityError(
            f"checkpoint {path} is not a checkpoint of this tool ({type(exc).__name__}); "
            "delete it to start over"
        ) from None
    if not isinstance(state, dict):
        raise ModelCentralityError(
            f"checkpoint {path} holds a {type(state).__name__}, not a checkpoint of this tool"
        )
    return state


def load_checkpoint(trainer: Trainer, path: str | os.PathLike) -> None:
    """Restore ``trainer`` from a checkpoint file (tensors and plain values only)."""
    state = read_checkpoint(path)
    try:
        trainer.load_state_dict(state, where=f"checkpoint {path}")
    except ModelCentralityError:
        raise
    except Exception as exc:  # missing keys, wrong tensor shapes...
        raise ModelCentralityError(
            f"checkpoint {path} does not fit this trainer ({type(exc).__name__}); "
            "delete it to start over"
        ) from None


def run_training(
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
        K models of one method (K = 1 for one model).
    checkpoints : sequence of path-like
        One checkpoint file per model, in the order of ``group.trainers`` (written
        atomically; the last one is kept).
    progress : bool or None
        Progress bar on stderr (None: only on a terminal).
    stop_after : int, optional
        Stop (with checkpoints) once this many iterations are done, e.g. to split a run.
    log_every : int
        Iterations between reads of the losses; each read waits for the device, and
        is when a diverged model is detected.
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
    label = group.method if group.size == 1 else f"{group.method} x{group.size}"
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

    bar = ProgressBar(config.iterations, label=label, enabled=progress)
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
                    log(f"{label} iteration {group.step}: {postfix}")
            if checkpoint:
                save()
            bar.update(1, postfix)
    return read
