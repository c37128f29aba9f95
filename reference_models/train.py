"""Train one reference model into a zoo model folder (the ``modelcentrality train`` API).

Where things go, for an output folder ``ZOO/NAME``:

- ``ZOO/NAME/``: the exported model (model.json + encoder.onnx + generator.onnx), written
  only when training has finished;
- ``ZOO/NAME_modified/``: for InfoGAN-CR, the "InfoGAN (modified)" model, exported when
  the contrastive regulariser starts;
- ``ZOO/.checkpoints/NAME.pt``: the training checkpoint (a hidden folder, so that a zoo
  being trained stays loadable), deleted once the model is exported (it is tens of MB and
  a finished model needs no resume), kept when a run stops early or is interrupted.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModelCentralityError
from ..io._zoo import METADATA_FILE
from .infogan_cr import InfoGANCRTrainer
from .presets import make_config
from .training import DataFn, Trainer, dataset_sampler, run_training
from .vae import BetaVAETrainer, FactorVAETrainer

TRAINERS: dict[str, type[Trainer]] = {
    "infogan-cr": InfoGANCRTrainer,
    "factorvae": FactorVAETrainer,
    "beta-vae": BetaVAETrainer,
}


def default_checkpoint(out_dir: str | os.PathLike) -> Path:
    """``ZOO/.checkpoints/NAME.pt`` for the output folder ``ZOO/NAME``."""
    out_dir = Path(out_dir)
    return out_dir.parent / ".checkpoints" / f"{out_dir.name}.pt"


def modified_folder(out_dir: str | os.PathLike) -> Path:
    """``ZOO/NAME_modified`` for the output folder ``ZOO/NAME``."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "_modified")


@dataclass
class TrainResult:
    """What :func:`train_model` produced.

    Attributes
    ----------
    out_dir : Path
        The exported model folder (None if the run was stopped early).
    modified_dir : Path or None
        The "InfoGAN (modified)" folder, when one was exported.
    iterations : int
        Iterations done.
    losses : dict
        Losses of the last iteration run in this call.
    """

    out_dir: Path | None
    modified_dir: Path | None
    iterations: int
    losses: dict[str, float]


def make_data(data: str | DataFn) -> DataFn:
    """A data function from a dataset spec (see ``datasets.get_dataset``) or as given."""
    if callable(data):
        return data
    from ..datasets import get_dataset

    return dataset_sampler(get_dataset(data))


def train_model(
    method: str,
    out_dir: str | os.PathLike,
    *,
    preset: str = "paper",
    overrides: dict[str, Any] | None = None,
    seed: int = 0,
    data: str | DataFn = "dsprites",
    resume: bool = False,
    checkpoint: str | os.PathLike | None = None,
    modified_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
    stop_after: int | None = None,
    keep_checkpoint: bool = False,
) -> TrainResult:
    """Train one reference model and export it as a zoo model folder.

    Parameters
    ----------
    method : {"infogan-cr", "factorvae", "beta-vae"}
    out_dir : path-like
        Model folder to write (must not hold a model yet, unless ``resume``).
    preset : {"paper", "cpu"}
    overrides : dict, optional
        Settings to change (see :func:`~.presets.make_config`).
    seed : int
        Decides the initial weights and every random draw of training.
    data : str or callable
        Dataset spec (``"dsprites"``, ``"dsprites:PATH.npz"``...) or a function
        ``(n, rng) -> float32 (n, 1, 64, 64)``.
    resume : bool
        Continue from the checkpoint if there is one.
    checkpoint : path-like, optional
        Default :func:`default_checkpoint`.
    modified_dir : path-like, optional
        InfoGAN-CR only; default :func:`modified_folder`.
    progress : bool or None
        Progress bar on stderr (None: only on a terminal).
    stop_after : int, optional
        Stop after this many iterations in total (checkpointed, not exported).
    keep_checkpoint : bool
        Keep the checkpoint after the model is exported (default: delete it).

    Raises
    ------
    ValueError
        Unknown method, preset or setting.
    ModelCentralityError
        The output already holds a model (without ``resume``), the checkpoint belongs to
        another run, or training diverged.
    """
    config = make_config(method, preset, overrides)
    out_dir = Path(out_dir)
    checkpoint = default_checkpoint(out_dir) if checkpoint is None else Path(checkpoint)
    if (out_dir / METADATA_FILE).exists():
        if not resume:
            raise ModelCentralityError(
                f"{out_dir} already holds a model; pass --resume or delete it"
            )
        if not checkpoint.exists():
            # Finished and its checkpoint deleted: nothing to continue.
            raise ModelCentralityError(f"{out_dir} holds a finished model; delete it to retrain")
    kwargs: dict[str, Any] = {}
    if method == "infogan-cr":
        kwargs["modified_dir"] = modified_folder(out_dir) if modified_dir is None else modified_dir
    trainer = TRAINERS[method](config, make_data(data), seed, **kwargs)
    trainer.run_info = {"preset": preset, "data": data if isinstance(data, str) else "custom"}
    losses = run_training(
        trainer, checkpoint, resume=resume, progress=progress, stop_after=stop_after
    )
    modified = Path(kwargs["modified_dir"]) if "modified_dir" in kwargs else None
    if modified is not None and not (modified / METADATA_FILE).exists():
        modified = None
    if trainer.step < config.iterations:
        return TrainResult(None, modified, trainer.step, losses)
    trainer.export(out_dir, {})
    if not keep_checkpoint:
        checkpoint.unlink(missing_ok=True)
    return TrainResult(out_dir, modified, trainer.step, losses)
