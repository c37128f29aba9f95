"""The training loop shared by the reference trainers: checkpoints, resume, progress.

Determinism: every random draw of iteration ``t`` (data batch, latents, CR pairs,
reparameterisation noise, dim permutations) comes from ``numpy.random.default_rng([seed,
t])``, and initial weights come from ``torch.manual_seed`` inside a forked torch RNG.
So a checkpoint needs no RNG state: the model, optimiser and iteration counter fully
determine the rest of a run, and a resumed run equals an uninterrupted one on the same
machine and thread count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._progress import ProgressBar
from ..errors import ModelCentralityError
from ..io._files import atomic_write
from ..io._read import MAX_CHECKPOINT_BYTES, open_regular

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
    """One model being trained: networks, optimisers, iteration counter.

    Subclasses set :attr:`method`, build ``self.modules`` and ``self.optimizers`` (dicts
    by name, saved in checkpoints) and implement :meth:`train_step` and :meth:`export`.

    Parameters
    ----------
    config : dataclass
        Settings (see :mod:`~modelcentrality.reference_models.presets`).
    data : DataFn
        Source of training batches.
    seed : int
    """

    method: str

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
    def train_step(self, rng: np.random.Generator) -> dict[str, float]:
        """Run iteration ``self.step`` (not advancing it); returns the losses."""

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


def load_checkpoint(trainer: Trainer, path: str | os.PathLike) -> None:
    """Restore ``trainer`` from a checkpoint file (tensors and plain values only)."""
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
    try:
        trainer.load_state_dict(state, where=f"checkpoint {path}")
    except ModelCentralityError:
        raise
    except Exception as exc:  # missing keys, wrong tensor shapes...
        raise ModelCentralityError(
            f"checkpoint {path} does not fit this trainer ({type(exc).__name__}); "
            "delete it to start over"
        ) from None


def _postfix(losses: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.3g}" for k, v in losses.items())


def run_training(
    trainer: Trainer,
    checkpoint: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool | None = None,
    stop_after: int | None = None,
) -> dict[str, float]:
    """Train to ``config.iterations``, checkpointing every ``config.checkpoint_every``.

    Parameters
    ----------
    trainer : Trainer
    checkpoint : path-like
        Checkpoint file (written atomically; the last one is kept).
    resume : bool
        Continue from ``checkpoint`` if it exists. Without it an existing checkpoint is
        an error, so a finished or running model is never overwritten by mistake.
    progress : bool or None
        Progress bar on stderr with the latest losses (None: only on a terminal).
    stop_after : int, optional
        Stop (with a checkpoint) once this many iterations are done, e.g. to split a run.

    Returns
    -------
    dict
        The losses of the last iteration run (empty if none ran).
    """
    checkpoint = Path(checkpoint)
    if checkpoint.exists():
        if not resume:
            raise ModelCentralityError(
                f"checkpoint {checkpoint} exists: pass --resume to continue it, "
                "or delete it to start over"
            )
        load_checkpoint(trainer, checkpoint)
    total = trainer.config.iterations
    end = total if stop_after is None else min(total, int(stop_after))
    every = trainer.config.checkpoint_every
    losses: dict[str, float] = {}
    bar = ProgressBar(total, label=trainer.method, enabled=progress)
    bar.update(trainer.step)
    with bar:
        while trainer.step < end:
            if trainer.before_step():
                save_checkpoint(trainer, checkpoint)
            losses = trainer.train_step(step_rng(trainer.seed, trainer.step))
            bad = [k for k, v in losses.items() if not np.isfinite(v)]
            if bad:
                raise ModelCentralityError(
                    f"{trainer.method}: loss {bad[0]} is {losses[bad[0]]} at iteration "
                    f"{trainer.step}; training diverged"
                )
            trainer.step += 1
            if trainer.step % every == 0 or trainer.step == end:
                save_checkpoint(trainer, checkpoint)
            bar.update(1, _postfix(losses))
    return losses
